/*
 * portwatch's entry point: finds the command, parses its options from the
 * command's option table, and runs it. Exit codes: 0 ok, 1 a check failed,
 * 2 usage or configuration error.
 */
#include "daemon/cli.h"
#include "daemon/os.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMMON_TARGET_OPTS                                                                  \
    {"config", 'c', "FILE", "configuration file (default: the system-wide one)"},           \
    {"ports", 'p', "PORTS", "probe these ports on the HOSTs given as arguments, e.g. 135,445,50000-50200"}, \
    {"expect", 0, "E", "with -p: listening or reachable for every port (default: as the catalog " \
                       "expects each: the secondary RPC range reachable, the rest listening)"}, \
    {"protocol", 0, "P", "with -p: none, auto, tds, rpc, smb or http, the exchange that proves " \
                         "the service (default auto: by port as the catalog does)"},         \
    {"timeout", 0, "D", "connection timeout, e.g. 3s or 500ms"}

static const struct pw_opt run_opts[] = {
    COMMON_TARGET_OPTS,
    {"listen", 0, "ADDR:PORT", "HTTP API address, e.g. 127.0.0.1:8470"},
    {"database", 0, "PATH", "SQLite history file"},
    {"interval", 0, "D", "probe interval, e.g. 30s; without --timeout, a timeout that is the "
                         "default or does not fit becomes the smaller of the default and half "
                         "the interval"},
    {"log-level", 0, "LEVEL", "error, warn, info or debug"},
    {"log-file", 0, "FILE", "append the log to FILE instead of stderr"},
    {"help", 'h', NULL, "show this help"},
    {0},
};

static const struct pw_opt service_opts[] = {
    {"config", 'c', "FILE", "install: the configuration the service reads (default: the system-wide one)"},
    {"log-level", 0, "LEVEL", "install: the service's log level (default: the configuration's)"},
    {"help", 'h', NULL, "show this help"},
    {0},
};

static const struct pw_opt check_opts[] = {
    COMMON_TARGET_OPTS,
    {"host", 0, "HOST", "only targets on this host"},
    {"role", 0, "ROLE", "only targets serving this role or check"},
    {"format", 0, "FMT", "table (default) or json"},
    {"help", 'h', NULL, "show this help"},
    {0},
};

static const struct pw_opt config_check_opts[] = {
    {"config", 'c', "FILE", "configuration file (default: the system-wide one)"},
    {"keys", 0, NULL, "print the reference of every configuration key (Markdown)"},
    {"help", 'h', NULL, "show this help"},
    {0},
};

static const struct pw_opt catalog_opts[] = {
    {"vantage", 0, "V", "the tables of these server roles, separated by commas, or all "
                        "(default: the configuration's vantage, else administration)"},
    {"config", 'c', "FILE", "configuration whose vantage to print (default: the system-wide "
                            "one, when it exists)"},
    {"format", 0, "FMT", "table (default) or json"},
    {"help", 'h', NULL, "show this help"},
    {0},
};

static const struct pw_opt rpc_endpoints_opts[] = {
    {"format", 0, "FMT", "table (default) or json"},
    {"timeout", 0, "D", "give up after this long, e.g. 10s (default 10s)"},
    {"help", 'h', NULL, "show this help"},
    {0},
};

static const struct pw_opt version_opts[] = {
    {"help", 'h', NULL, "show this help"},
    {0},
};

static const struct pw_opt db_opts[] = {
    {"config", 'c', "FILE", "configuration file naming the database (default: the system-wide one)"},
    {"database", 0, "PATH", "the database to copy, instead of the configuration's"},
    {"help", 'h', NULL, "show this help"},
    {0},
};

static const struct pw_opt maintenance_opts[] = {
    {"config", 'c', "FILE", "configuration file naming the database (default: the system-wide one)"},
    {"for", 0, "D", "start: how long the window lasts, 1s to 7d, e.g. 2h"},
    {"host", 0, "H", "start: hosts it covers, separated by commas (default: every host)"},
    {"role", 0, "R", "start: roles or checks it covers, separated by commas (default: every one)"},
    {"reason", 0, "TEXT", "start: what the planned work is"},
    {"name", 0, "NAME", "start: the window's name (default: cli-N)"},
    {"all", 0, NULL, "end: every open window"},
    {"help", 'h', NULL, "show this help"},
    {0},
};

static const struct pw_opt report_opts[] = {
    {"config", 'c', "FILE", "configuration file naming the database (default: the system-wide one)"},
    {"database", 0, "PATH", "the database to read, instead of the configuration's"},
    {"from", 0, "T", "start of the period: RFC 3339, or relative like -7d (default: 24 h before --to)"},
    {"to", 0, "T", "end of the period: RFC 3339, now, or relative (default: now)"},
    {"host", 0, "HOST", "only this host's availability, incidents and outages"},
    {"role", 0, "ROLE", "only this role's (or check's)"},
    {"format", 0, "FMT", "markdown (default), csv or json"},
    {"help", 'h', NULL, "show this help"},
    {0},
};

static const struct pw_command commands[] = {
    {"run", "[-c FILE] [--listen ADDR:PORT] [--database PATH] [--interval D] [--timeout D] "
            "[--log-level L] [--log-file FILE] [-p PORTS [--expect E] [--protocol P] HOST...]",
     "probe on schedule, keep history and serve the HTTP API (the daemon)", run_opts, pw_cmd_run},
    {"check", "[-c FILE] [--host H] [--role R] [-p PORTS [--expect E] [--protocol P] HOST...] "
              "[--format table|json] [--timeout D]",
     "probe every target once and exit 0 if all pass, 1 if any fails", check_opts, pw_cmd_check},
    {"config-check", "[-c FILE] [--keys]",
     "validate the configuration and print the target plan", config_check_opts, pw_cmd_config_check},
    {"catalog", "[--vantage V|all] [-c FILE] [--format table|json]",
     "print the built-in port tables of BizTalk server roles", catalog_opts, pw_cmd_catalog},
    {"rpc-endpoints", "HOST[:PORT] [--format table|json] [--timeout D]",
     "list what a host's RPC endpoint mapper has registered (like PortQry -e 135)",
     rpc_endpoints_opts, pw_cmd_rpc_endpoints},
    {"db", "backup|recover [-c FILE] [--database PATH] OUT",
     "copy the history database into the new file OUT, while the daemon runs"
     " (backup), or every readable row of a damaged one (recover)", db_opts, pw_cmd_db},
    {"maintenance", "start|end|list [-c FILE] [--for D] [--host H] [--role R] [--reason TEXT] "
                    "[--name NAME] [NAME|--all]",
     "open, end or list maintenance windows: a running daemon takes them within a second",
     maintenance_opts, pw_cmd_maintenance},
    {"report", "[--from T] [--to T] [--host H] [--role R] [--format markdown|csv|json] [-c FILE] "
               "[--database PATH]",
     "write the availability, incidents and outages of a period from the history database,"
     " while the daemon runs", report_opts, pw_cmd_report},
    {"version", "", "print the version", version_opts, pw_cmd_version},
    {"service", "install|uninstall|start|stop|reload|status [-c FILE] [--log-level L]",
     "register and control the Windows service (Windows only; on Linux use systemd)",
     service_opts, pw_cmd_service},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: portwatch COMMAND [OPTIONS]\n\n"
               "Watches whether this server can reach every server and port it depends on.\n\n"
               "commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nRun 'portwatch COMMAND --help' for a command's options.\n"
               "Exit codes: 0 ok, 1 a check failed, 2 usage or configuration error.\n");
}

static void command_help(const struct pw_command *c, FILE *f)
{
    fprintf(f, "usage: portwatch %s %s\n\n%s\n\noptions:\n", c->name, c->usage, c->summary);
    for (const struct pw_opt *o = c->opts; o->name; o++) {
        char left[48];
        snprintf(left, sizeof left, "%s%c%s--%s%s%s", o->short_name ? "-" : "",
                 o->short_name ? o->short_name : ' ', o->short_name ? ", " : "  ", o->name,
                 o->arg ? " " : "", o->arg ? o->arg : "");
        fprintf(f, "  %-28s %s\n", o->short_name ? left : left + 1, o->help);
    }
}

static int find_opt(const struct pw_opt *opts, const char *lng, size_t len, char shrt)
{
    for (int i = 0; opts[i].name; i++) {
        if (shrt && opts[i].short_name == shrt)
            return i;
        if (!shrt && strlen(opts[i].name) == len && strncmp(opts[i].name, lng, len) == 0)
            return i;
    }
    return -1;
}

/* Says an option does not exist for the command, and which was likely meant. */
static void unknown_option(const struct pw_command *c, const char *s)
{
    const char *names[PW_CLI_MAX_OPTS];
    size_t n = 0;
    for (const struct pw_opt *o = c->opts; o->name && n < PW_CLI_MAX_OPTS; o++)
        names[n++] = o->name;
    char word[64];
    snprintf(word, sizeof word, "%s", s + strspn(s, "-"));
    word[strcspn(word, "=")] = '\0';
    const char *guess = s[1] == '-' ? pw_nearest_name(word, names, n) : NULL;
    fprintf(stderr, "portwatch %s: unknown option '%s'; ", c->name, s);
    if (guess)
        fprintf(stderr, "did you mean '--%s'? ", guess);
    fprintf(stderr, "run 'portwatch %s --help' for the options\n", c->name);
}

/* Parses argv into a; prints the problem and returns -1 on a bad option. */
static int parse(const struct pw_command *c, int argc, char **argv, struct pw_args *a)
{
    memset(a, 0, sizeof *a);
    a->cmd = c->name;
    a->pos = calloc((size_t)argc + 1, sizeof *a->pos);
    if (!a->pos)
        return -1;
    int only_pos = 0;
    for (int i = 0; i < argc; i++) {
        char *s = argv[i];
        if (only_pos || s[0] != '-' || s[1] == '\0') {
            a->pos[a->npos++] = s;
            continue;
        }
        if (strcmp(s, "--") == 0) {
            only_pos = 1;
            continue;
        }
        const char *inline_val = NULL;
        int idx;
        if (s[1] == '-') {
            const char *eq = strchr(s + 2, '=');
            size_t len = eq ? (size_t)(eq - (s + 2)) : strlen(s + 2);
            idx = find_opt(c->opts, s + 2, len, 0);
            inline_val = eq ? eq + 1 : NULL;
        } else {
            idx = find_opt(c->opts, NULL, 0, s[1]);
            inline_val = s[2] ? s + 2 : NULL;
        }
        if (idx < 0) {
            unknown_option(c, s);
            return -1;
        }
        const struct pw_opt *o = &c->opts[idx];
        if (!o->arg) {
            if (inline_val) {
                fprintf(stderr, "portwatch %s: option --%s takes no value\n", c->name, o->name);
                return -1;
            }
            a->val[idx] = "";
            continue;
        }
        if (!inline_val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "portwatch %s: option --%s needs a value (%s)\n", c->name, o->name, o->arg);
                return -1;
            }
            inline_val = argv[++i];
        }
        if (a->val[idx]) {
            fprintf(stderr, "portwatch %s: option --%s given twice\n", c->name, o->name);
            return -1;
        }
        a->val[idx] = inline_val;
    }
    return 0;
}

const char *pw_arg(const struct pw_command *cmd, const struct pw_args *a, const char *name)
{
    int idx = find_opt(cmd->opts, name, strlen(name), 0);
    return idx < 0 ? NULL : a->val[idx];
}

/* Says a command does not exist, which one was likely meant, and the list. */
static void unknown_command(const char *word)
{
    const char *names[NCOMMANDS];
    char list[256];
    size_t used = 0;
    for (size_t i = 0; i < NCOMMANDS; i++) {
        names[i] = commands[i].name;
        used += (size_t)snprintf(list + used, used < sizeof list ? sizeof list - used : 0, "%s%s",
                                 i ? ", " : "", names[i]);
    }
    const char *guess = pw_nearest_name(word, names, NCOMMANDS);
    fprintf(stderr, "portwatch: unknown command '%s'; ", word);
    if (guess)
        fprintf(stderr, "did you mean '%s'? The", guess);
    else
        fprintf(stderr, "the");
    fprintf(stderr, " commands are %s ('portwatch --help' says what each does)\n", list);
}

int main(int argc, char **argv)
{
    pw_os_init_console();
    return pw_cli_main(argc, argv);
}

int pw_cli_main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return PW_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return PW_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0)
        argv[1] = "version";
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const struct pw_command *c = &commands[i];
        if (strcmp(argv[1], c->name) != 0)
            continue;
        struct pw_args a;
        if (parse(c, argc - 2, argv + 2, &a) != 0) {
            free(a.pos);
            return PW_EXIT_USAGE;
        }
        int rc;
        if (pw_arg(c, &a, "help")) {
            command_help(c, stdout);
            rc = PW_EXIT_OK;
        } else {
            rc = c->run(c, &a);
        }
        free(a.pos);
        return rc;
    }
    unknown_command(argv[1]);
    return PW_EXIT_USAGE;
}
