/*
 * `portwatch db backup|recover [-c FILE] [--database PATH] OUT`: copies of
 * the history database named by the configuration (or --database) into the
 * new file OUT, by store/store_copy.c. Both only read the database, so they
 * work while the daemon runs. Exit codes: 0 done; 1 recover made a copy
 * but some rows were unreadable; 2 usage, configuration or storage error.
 */
#include "daemon/cli.h"

#include "base/error.h"
#include "store/store.h"

#include <stdio.h>
#include <string.h>

static void print_line(void *ud, const char *line)
{
    (void)ud;
    printf("%s\n", line);
    fflush(stdout);
}

/* The database the configuration names; positionals are ours, so the
 * configuration loader sees none. */
static struct pw_config *config_of(const struct pw_command *cmd, const struct pw_args *a)
{
    struct pw_args conf = *a;
    conf.npos = 0;
    return pw_cli_config(cmd, &conf);
}

int pw_cmd_db(const struct pw_command *cmd, const struct pw_args *a)
{
    const char *what = a->npos > 0 ? a->pos[0] : "";
    bool backup = strcmp(what, "backup") == 0, recover = strcmp(what, "recover") == 0;
    if (!backup && !recover) {
        fprintf(stderr, "portwatch db: %s%s%s; use `portwatch db backup OUT` or `portwatch db"
                " recover OUT`\n", what[0] ? "unknown action '" : "an action is needed",
                what, what[0] ? "'" : "");
        return PW_EXIT_USAGE;
    }
    if (a->npos != 2) {
        fprintf(stderr, "portwatch db %s: give one new file to write, e.g. `portwatch db %s"
                " /var/backups/portwatch.db`\n", what, what);
        return PW_EXIT_USAGE;
    }
    struct pw_config *c = config_of(cmd, a);
    if (!c)
        return PW_EXIT_USAGE;
    char err[PW_STORE_MSG_MAX];
    uint64_t damaged = 0;
    int rc = backup ? pw_store_backup(c->s.database, a->pos[1], print_line, NULL, err)
                    : pw_store_recover(c->s.database, a->pos[1], print_line, NULL, &damaged,
                                       err);
    pw_config_free(c);
    if (rc != 0) {
        fprintf(stderr, "portwatch db %s: %s\n", what, err);
        return PW_EXIT_USAGE;
    }
    if (damaged) {
        printf("%llu table%s had unreadable pages: the rows listed above as lost are not in"
               " %s\n", (unsigned long long)damaged, damaged == 1 ? "" : "s", a->pos[1]);
        return PW_EXIT_FAILED;
    }
    return PW_EXIT_OK;
}
