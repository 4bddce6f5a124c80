/*
 * Loading and validating portwatch's configuration file. One table of keys
 * (`cf_keys`, keys.c) drives everything: which sections and keys exist, their
 * types, defaults and limits, the messages for bad values, the "did you
 * mean" suggestions, `config-check --keys` and the README's reference.
 * Every problem in a file is collected, so one run reports them all.
 * Setting one value is apply.c; diagnostics and "did you mean" are diag.c;
 * the reference is reference.c.
 */
#include "config/config_int.h"

#include "base/clock.h"
#include "base/error.h"
#include "base/text.h"
#include "config/ini.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum section_kind cf_key_section(const struct pw_key *k)
{
    if (strcmp(k->section, "portwatch") == 0)
        return SEC_PORTWATCH;
    if (strcmp(k->section, "biztalk") == 0)
        return SEC_BIZTALK;
    if (strcmp(k->section, "maintenance") == 0)
        return SEC_MAINT;
    return SEC_CHECK;
}

int pw_config_key_differs(const struct pw_key *k, const struct pw_config *a,
                          const struct pw_config *b)
{
    enum section_kind sec = cf_key_section(k);
    if (sec == SEC_CHECK || sec == SEC_MAINT)
        return 0;
    const char *pa = (sec == SEC_PORTWATCH ? (const char *)&a->s : (const char *)a) + k->offset;
    const char *pb = (sec == SEC_PORTWATCH ? (const char *)&b->s : (const char *)b) + k->offset;
    switch (k->type) {
    case PW_KEY_STRING:
    case PW_KEY_LISTEN:
    case PW_KEY_LABELS: {
        const char *sa = *(char *const *)(const void *)pa, *sb = *(char *const *)(const void *)pb;
        return strcmp(sa ? sa : "", sb ? sb : "") != 0;
    }
    case PW_KEY_DURATION:
        return *(const int64_t *)(const void *)pa != *(const int64_t *)(const void *)pb;
    case PW_KEY_INT:
    case PW_KEY_RATE:
        return *(const long long *)(const void *)pa != *(const long long *)(const void *)pb;
    case PW_KEY_BOOL:
    case PW_KEY_ENUM:
    case PW_KEY_SET:
        return *(const int *)(const void *)pa != *(const int *)(const void *)pb;
    case PW_KEY_HOSTS:
    case PW_KEY_PORTS:
    case PW_KEY_PROTOCOL: /* [check] only */
    case PW_KEY_TYPE_COUNT_:
        break;
    }
    return 0;
}

/* Lists the keys of a section for the "allowed" part of a message. */
static void list_keys(enum section_kind sec, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < CF_NKEYS && used < len; i++) {
        if (cf_key_section(&cf_keys[i]) != sec)
            continue;
        int w = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", cf_keys[i].name);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

/* item: the check or window of a [check] or [maintenance] section. */
static void *section_base(struct pw_config *c, enum section_kind sec, void *item)
{
    return sec == SEC_PORTWATCH ? (void *)&c->s : sec == SEC_BIZTALK ? (void *)c : item;
}

static void apply_defaults(struct pw_config *c, enum section_kind sec, void *chk)
{
    char err[PW_ERRBUF];
    for (size_t i = 0; i < CF_NKEYS; i++)
        if (cf_key_section(&cf_keys[i]) == sec && cf_keys[i].def)
            cf_apply(&cf_keys[i], section_base(c, sec, chk), cf_keys[i].def, err);
}

struct pw_config *pw_config_new(void)
{
    struct pw_config *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    apply_defaults(c, SEC_PORTWATCH, NULL);
    apply_defaults(c, SEC_BIZTALK, NULL);
    if (!c->s.listen || !c->s.database || c->rpc_range.n == 0) {
        pw_config_free(c);
        return NULL;
    }
    return c;
}

static void check_free(struct pw_check *k)
{
    free(k->name);
    free(k->reason);
    pw_host_list_free(&k->hosts);
    pw_portset_free(&k->ports);
}

void pw_config_free(struct pw_config *c)
{
    if (!c)
        return;
    free(c->path);
    free(c->s.listen);
    free(c->s.database);
    free(c->s.api_token);
    free(c->s.tls_certificate);
    free(c->s.tls_key);
    free(c->s.tls_priorities);
    free(c->s.instance_name);
    free(c->s.labels);
    for (size_t i = 0; i < PW_MAX_ROLES; i++)
        pw_host_list_free(&c->roles[i]);
    pw_portset_free(&c->rpc_range);
    for (size_t i = 0; i < c->nchecks; i++)
        check_free(&c->checks[i]);
    free(c->checks);
    for (size_t i = 0; i < c->nmaints; i++)
        pw_maint_free(&c->maints[i]);
    free(c->maints);
    free(c);
}

/* ---- the loader -------------------------------------------------------- */

struct loader {
    const char *file;
    struct pw_config *c;
    struct pw_diag *diag;
    int errors;
    enum section_kind sec; /* current section, or SEC_COUNT when invalid */
    struct pw_check *chk;  /* current check */
    struct pw_maint *win;  /* current maintenance window */
    int *set_line;         /* per key of the current section: line it was set on */
    int portwatch_lines[CF_NKEYS];
    int biztalk_lines[CF_NKEYS];
    int (*check_lines)[CF_NKEYS]; /* per check */
    size_t checks_cap;         /* room in c->checks and check_lines */
    uint32_t *names;           /* check index + 1 by name, ignoring case (0: free) */
    size_t names_cap;          /* a power of two, more than twice nchecks */
    int seen_portwatch, seen_biztalk;
    int (*maint_lines)[CF_NKEYS]; /* per maintenance window */
};

/* ---- check names: a hash set, so 65,000 checks load in linear time ---- */

uint32_t pw_name_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a, over the name in lower case */
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        h = (h ^ (ch >= 'A' && ch <= 'Z' ? ch + 32u : ch)) * 16777619u;
    }
    return h;
}

/* The slot for name: the check that has it, or the free slot to take. */
static size_t name_slot(const struct loader *L, const char *name)
{
    size_t mask = L->names_cap - 1;
    for (size_t i = pw_name_hash(name) & mask;; i = (i + 1) & mask)
        if (!L->names[i] || pw_strcasecmp(L->c->checks[L->names[i] - 1].name, name) == 0)
            return i;
}

static const struct pw_check *find_check(const struct loader *L, const char *name)
{
    if (!L->names_cap)
        return NULL;
    uint32_t at = L->names[name_slot(L, name)];
    return at ? &L->c->checks[at - 1] : NULL;
}

/* Adds the newest check to the set, growing it first when half full. */
static int index_check(struct loader *L)
{
    size_t n = L->c->nchecks;
    if (2 * n >= L->names_cap) {
        size_t cap = L->names_cap ? 2 * L->names_cap : 64;
        uint32_t *old = L->names;
        size_t old_cap = L->names_cap;
        if (!(L->names = calloc(cap, sizeof *L->names))) {
            L->names = old;
            return PW_ENOMEM;
        }
        L->names_cap = cap;
        for (size_t i = 0; i < old_cap; i++)
            if (old[i])
                L->names[name_slot(L, L->c->checks[old[i] - 1].name)] = old[i];
        free(old);
    }
    L->names[name_slot(L, L->c->checks[n - 1].name)] = (uint32_t)n;
    return 0;
}

/* Room for one more check, doubling: one realloc per check made loading
 * 65,000 of them quadratic. */
static int reserve_check(struct loader *L)
{
    struct pw_config *c = L->c;
    if (c->nchecks < L->checks_cap)
        return 0;
    size_t cap = L->checks_cap ? 2 * L->checks_cap : 16;
    struct pw_check *nc = realloc(c->checks, cap * sizeof *nc);
    if (!nc)
        return PW_ENOMEM;
    c->checks = nc;
    int(*nl)[CF_NKEYS] = realloc(L->check_lines, cap * sizeof *nl);
    if (!nl)
        return PW_ENOMEM;
    L->check_lines = nl;
    L->checks_cap = cap;
    return 0;
}

PW_PRINTF(5, 6)
static void problem(struct loader *L, int line, const char *section, const char *key,
                    const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pw_utf8_trim_cut(msg);
    char where[320];
    if (section && *section && key)
        snprintf(where, sizeof where, " [%s] %s:", section, key);
    else if (section && *section)
        snprintf(where, sizeof where, " [%s]:", section);
    else if (key)
        snprintf(where, sizeof where, " %s:", key);
    else
        where[0] = '\0';
    if (line > 0)
        pw_diag_add(L->diag, "%s:%d:%s %s", L->file, line, where, msg);
    else /* a rule about defaults only: no line to point at */
        pw_diag_add(L->diag, "%s:%s %s", L->file, where, msg);
    L->errors++;
}

static int valid_check_name(const char *s)
{
    if (!*s || strlen(s) > 64)
        return 0;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_' || ch == '.'))
            return 0;
    }
    return 1;
}

static int start_check(struct loader *L, int line, const char *section, const char *name)
{
    struct pw_config *c = L->c;
    if (!valid_check_name(name)) {
        problem(L, line, section, NULL,
                "check name '%s' is not allowed; use 1-64 letters, digits, '-', '_' or '.'", name);
        return -1;
    }
    size_t nroles;
    const struct pw_role *roles = pw_catalog_roles(&nroles);
    for (size_t i = 0; i < nroles; i++)
        if (strcmp(roles[i].key, name) == 0) {
            problem(L, line, section, NULL,
                    "check name '%s' is a catalog role's name; choose another name", name);
            return -1;
        }
    const struct pw_check *dup = find_check(L, name);
    if (dup) {
        problem(L, line, section, NULL, "check '%s' is defined twice (first on line %d)", name,
                dup->line);
        return -1;
    }
    if (reserve_check(L) != 0)
        return PW_ENOMEM;
    memset(L->check_lines[c->nchecks], 0, sizeof L->check_lines[0]);
    struct pw_check *k = &c->checks[c->nchecks];
    memset(k, 0, sizeof *k);
    k->name = strdup(name);
    k->line = line;
    if (!k->name)
        return PW_ENOMEM;
    apply_defaults(c, SEC_CHECK, k);
    L->set_line = L->check_lines[c->nchecks];
    c->nchecks++;
    L->chk = k;
    return index_check(L);
}

/* A [maintenance NAME] section: a window, its key lines beside it. */
static int start_maint(struct loader *L, int line, const char *section, const char *name)
{
    struct pw_config *c = L->c;
    if (!valid_check_name(name)) {
        problem(L, line, section, NULL,
                "window name '%s' is not allowed; use 1-64 letters, digits, '-', '_' or '.'", name);
        return -1;
    }
    for (size_t i = 0; i < c->nmaints; i++)
        if (pw_strcasecmp(c->maints[i].name, name) == 0) {
            problem(L, line, section, NULL, "window '%s' is defined twice (first on line %d)",
                    name, c->maints[i].line);
            return -1;
        }
    struct pw_maint *nm = realloc(c->maints, (c->nmaints + 1) * sizeof *nm);
    if (nm)
        c->maints = nm;
    int(*nl)[CF_NKEYS] = nm ? realloc(L->maint_lines, (c->nmaints + 1) * sizeof *nl) : NULL;
    if (!nl)
        return PW_ENOMEM;
    L->maint_lines = nl;
    memset(nl[c->nmaints], 0, sizeof nl[0]);
    struct pw_maint *w = &c->maints[c->nmaints];
    memset(w, 0, sizeof *w);
    w->line = line;
    if (!(w->name = strdup(name)))
        return PW_ENOMEM;
    L->set_line = nl[c->nmaints++];
    L->win = w;
    return 0;
}

static void on_section(struct loader *L, int line, const char *name)
{
    L->sec = SEC_COUNT;
    L->chk = NULL;
    L->win = NULL;
    if (strncmp(name, "maintenance", 11) == 0 && (name[11] == ' ' || name[11] == '\t')) {
        const char *n = name + 11;
        while (*n == ' ' || *n == '\t')
            n++;
        if (start_maint(L, line, name, n) == 0)
            L->sec = SEC_MAINT;
        return;
    }
    if (strcmp(name, "maintenance") == 0) {
        problem(L, line, name, NULL, "a window needs a name: [maintenance NAME], e.g. "
                "[maintenance patch-night]");
        return;
    }
    if (strcmp(name, "portwatch") == 0 || strcmp(name, "biztalk") == 0) {
        int *seen = name[0] == 'p' ? &L->seen_portwatch : &L->seen_biztalk;
        if (*seen) {
            problem(L, line, name, NULL, "section [%s] appears twice (first on line %d); merge them",
                    name, *seen);
            return;
        }
        *seen = line;
        L->sec = name[0] == 'p' ? SEC_PORTWATCH : SEC_BIZTALK;
        L->set_line = name[0] == 'p' ? L->portwatch_lines : L->biztalk_lines;
        return;
    }
    if (strncmp(name, "check", 5) == 0 && (name[5] == ' ' || name[5] == '\t' || name[5] == '\0')) {
        const char *n = name + 5;
        while (*n == ' ' || *n == '\t')
            n++;
        if (*n == '\0') {
            problem(L, line, name, NULL, "a check needs a name: [check NAME], e.g. [check file-share]");
            return;
        }
        if (n[0] == '"' && strlen(n) >= 2 && n[strlen(n) - 1] == '"') {
            char unq[128];
            snprintf(unq, sizeof unq, "%.*s", (int)strlen(n) - 2, n + 1);
            if (start_check(L, line, name, unq) == 0)
                L->sec = SEC_CHECK;
        } else if (start_check(L, line, name, n) == 0) {
            L->sec = SEC_CHECK;
        }
        return;
    }
    static const char *const known[] = {"portwatch", "biztalk", "check", "maintenance"};
    char word[128];
    snprintf(word, sizeof word, "%.*s", (int)strcspn(name, " \t"), name);
    const char *near = cf_nearest(word, known, 4);
    if (near)
        problem(L, line, name, NULL,
                "unknown section [%s]; did you mean [%s%s]? Sections are [portwatch], [biztalk], "
                "[check NAME] and [maintenance NAME]",
                name, near, strcmp(near, "check") == 0 || strcmp(near, "maintenance") == 0 ? " NAME" : "");
    else
        problem(L, line, name, NULL,
                "unknown section [%s]; sections are [portwatch], [biztalk], [check NAME] and "
                "[maintenance NAME]", name);
}

static void on_key(struct loader *L, int line, const char *section, const char *key,
                   const char *value)
{
    if (L->sec == SEC_COUNT)
        return; /* the section was already reported */
    const struct pw_key *k = NULL;
    size_t idx = 0;
    for (size_t i = 0; i < CF_NKEYS; i++)
        if (cf_key_section(&cf_keys[i]) == L->sec && strcmp(cf_keys[i].name, key) == 0) {
            k = &cf_keys[i];
            idx = i;
        }
    if (!k) {
        const char *cands[CF_NKEYS];
        size_t n = 0;
        for (size_t i = 0; i < CF_NKEYS; i++)
            if (cf_key_section(&cf_keys[i]) == L->sec)
                cands[n++] = cf_keys[i].name;
        const char *near = cf_nearest(key, cands, n);
        char allowed[512];
        list_keys(L->sec, allowed, sizeof allowed);
        if (near)
            problem(L, line, section, key, "unknown key; did you mean '%s'? Allowed here: %s", near, allowed);
        else
            problem(L, line, section, key, "unknown key; allowed here: %s", allowed);
        return;
    }
    if (L->set_line[idx]) {
        problem(L, line, section, key, "set twice (first on line %d); keep one", L->set_line[idx]);
        return;
    }
    L->set_line[idx] = line;
    char err[PW_ERRBUF];
    void *item = L->sec == SEC_MAINT ? (void *)L->win : (void *)L->chk;
    if (cf_apply(k, section_base(L->c, L->sec, item), value, err) != 0)
        problem(L, line, section, key, "%s", err);
}

static int on_ini(void *ud, enum pw_ini_event ev, int line, const char *section,
                  const char *key, const char *value)
{
    struct loader *L = ud;
    switch (ev) {
    case PW_INI_SECTION:
        on_section(L, line, section);
        break;
    case PW_INI_KEY:
        on_key(L, line, section, key, value);
        break;
    case PW_INI_ERROR:
        problem(L, line, section, key, "%s", value);
        break;
    }
    return 0;
}

static size_t key_index(enum section_kind sec, const char *name)
{
    for (size_t i = 0; i < CF_NKEYS; i++)
        if (cf_key_section(&cf_keys[i]) == sec && strcmp(cf_keys[i].name, name) == 0)
            return i;
    return CF_NKEYS;
}

/* timeout < interval, for [portwatch] and each check, with one error per
 * mistake at the line that made it: a check that sets neither inherits the
 * global pair (checked once); checks whose interval is not above an
 * explicitly set global timeout are named together at that timeout; with
 * the default timeout, the interval's own line is the mistake. */
static void check_timeouts(struct loader *L)
{
    const struct pw_config *c = L->c;
    int gto = L->portwatch_lines[key_index(SEC_PORTWATCH, "timeout")];
    int giv = L->portwatch_lines[key_index(SEC_PORTWATCH, "interval")];
    size_t cto = key_index(SEC_CHECK, "timeout"), civ = key_index(SEC_CHECK, "interval");
    char to[32], iv[32];
    int global_bad = c->s.timeout_ms >= c->s.interval_ms;
    pw_format_duration(c->s.timeout_ms, to, sizeof to);
    pw_format_duration(c->s.interval_ms, iv, sizeof iv);
    if (global_bad && gto)
        problem(L, gto, "portwatch", "timeout", "%s must be shorter than the interval (%s)", to, iv);
    else if (global_bad)
        problem(L, giv, "portwatch", "interval",
                "%s must be longer than the timeout (%s, the default); set a longer interval, or a "
                "shorter timeout", iv, to);
    const struct pw_check *first = NULL;
    int first_line = 0;
    size_t inherit = 0;
    for (size_t i = 0; i < c->nchecks; i++) {
        const struct pw_check *k = &c->checks[i];
        const int *set = L->check_lines[i];
        int64_t kto = k->timeout_ms ? k->timeout_ms : c->s.timeout_ms;
        int64_t kiv = k->interval_ms ? k->interval_ms : c->s.interval_ms;
        if ((!set[cto] && !set[civ]) || kto < kiv)
            continue;
        char sec[80], a[32], b[32];
        snprintf(sec, sizeof sec, "check %s", k->name);
        pw_format_duration(kto, a, sizeof a);
        pw_format_duration(kiv, b, sizeof b);
        if (set[cto])
            problem(L, set[cto], sec, "timeout", "%s must be shorter than the interval (%s%s)", a, b,
                    set[civ] ? "" : ", the global one");
        else if (!gto)
            problem(L, set[civ], sec, "interval",
                    "%s must be longer than the timeout (%s, the default); set a longer interval, "
                    "or a shorter timeout in this check", b, a);
        else if (!inherit++)
            first = k, first_line = set[civ];
    }
    if (inherit && !global_bad) {
        char fiv[32], more[64] = "";
        pw_format_duration(first->interval_ms, fiv, sizeof fiv);
        if (inherit > 1)
            snprintf(more, sizeof more, " and %zu more check%s", inherit - 1, inherit > 2 ? "s" : "");
        problem(L, gto, "portwatch", "timeout",
                "%s must be shorter than the interval of check '%s' (%s, line %d)%s, which take "
                "this timeout; set timeout in %s, or lower this one", to, first->name, fiv,
                first_line, more, inherit > 1 ? "those checks" : "that check");
    }
}

static void report_problem(void *ud, int line, const char *section, const char *key,
                           const char *msg)
{
    problem(ud, line, section, key, "%s", msg);
}

static int maint_key_line(void *ud, size_t maint, const char *key)
{
    struct loader *L = ud;
    return L->maint_lines[maint][key_index(SEC_MAINT, key)];
}

/* Rules that span keys, checked once the whole file is read. */
static void cross_checks(struct loader *L)
{
    struct pw_config *c = L->c;
    int ln;

    for (size_t i = 0; i < c->nchecks; i++) {
        struct pw_check *k = &c->checks[i];
        char sec[80];
        snprintf(sec, sizeof sec, "check %s", k->name);
        int *set = L->check_lines[i];
        if (k->hosts.n == 0 && !set[key_index(SEC_CHECK, "hosts")])
            problem(L, k->line, sec, "hosts", "missing; a check needs hosts = HOST, ...");
        if (k->ports.n == 0 && !set[key_index(SEC_CHECK, "ports")])
            problem(L, k->line, sec, "ports", "missing; a check needs ports = PORT, PORT-PORT, ...");
    }
    check_timeouts(L);
    struct cf_report rep = {L, report_problem, maint_key_line};
    cf_maint_validate(c, (int64_t)time(NULL), &rep);
    char *host;
    uint16_t port;
    char err[PW_ERRBUF];
    if (pw_parse_listen(c->s.listen, &host, &port, err) == 0) {
        if (!pw_is_loopback(host) && !(c->s.api_token && *c->s.api_token) && !c->s.allow_anonymous) {
            ln = L->portwatch_lines[key_index(SEC_PORTWATCH, "listen")];
            problem(L, ln, "portwatch", "listen",
                    "%s is not a loopback address, so the API would be open to the network: "
                    "set api_token (recommended) or allow_anonymous = yes",
                    c->s.listen);
        }
        free(host);
    }
    if (!c->s.tls_certificate != !c->s.tls_key) {
        const char *missing = c->s.tls_key ? "tls_certificate" : "tls_key";
        ln = L->portwatch_lines[key_index(SEC_PORTWATCH, c->s.tls_key ? "tls_key" : "tls_certificate")];
        problem(L, ln, "portwatch", missing, "missing; HTTPS needs both tls_certificate and tls_key");
    }
    if (c->s.api_token && *c->s.api_token && strlen(c->s.api_token) < 16) {
        ln = L->portwatch_lines[key_index(SEC_PORTWATCH, "api_token")];
        problem(L, ln, "portwatch", "api_token", "too short; use at least 16 characters");
    }
}

/* Where each host list was written, for warnings about its hosts after
 * loading (pw_config_host_warnings). */
static void keep_host_lines(struct loader *L)
{
    size_t nroles;
    const struct pw_role *roles = pw_catalog_roles(&nroles);
    for (size_t i = 0; i < nroles && i < PW_MAX_ROLES; i++)
        L->c->role_lines[i] = L->biztalk_lines[key_index(SEC_BIZTALK, roles[i].key)];
    for (size_t i = 0; i < L->c->nchecks; i++)
        L->c->checks[i].hosts_line = L->check_lines[i][key_index(SEC_CHECK, "hosts")];
}

static void loader_free(struct loader *L)
{
    free(L->check_lines);
    free(L->maint_lines);
    free(L->names);
}

int pw_config_load_buffer(const char *name, const char *buf, size_t len,
                          struct pw_config **out, struct pw_diag *diag)
{
    *out = NULL;
    struct loader L;
    memset(&L, 0, sizeof L);
    L.file = name;
    L.diag = diag;
    L.sec = SEC_COUNT;
    L.c = pw_config_new();
    if (!L.c)
        return PW_ENOMEM;
    int rc = pw_ini_parse(buf, len, on_ini, &L);
    if (rc < 0) {
        loader_free(&L);
        pw_config_free(L.c);
        return rc;
    }
    cross_checks(&L);
    keep_host_lines(&L);
    loader_free(&L);
    if (L.errors) {
        pw_config_free(L.c);
        return PW_EINVAL;
    }
    L.c->path = strdup(name);
    *out = L.c;
    return 0;
}

int pw_config_load(const char *path, struct pw_config **out, struct pw_diag *diag)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        pw_diag_add(diag, "%s: cannot open: %s", path, strerror(errno));
        return PW_EIO;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    int rc = 0;
    while (buf) {
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
        if (len == cap) {
            if (cap >= (16u << 20)) {
                pw_diag_add(diag, "%s: larger than 16 MiB; this is not a portwatch configuration", path);
                rc = PW_ETOO_BIG;
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (!buf)
        rc = PW_ENOMEM;
    else if (ferror(f)) {
        pw_diag_add(diag, "%s: read error: %s", path, strerror(errno));
        rc = PW_EIO;
    }
    fclose(f);
    if (rc == 0)
        rc = pw_config_load_buffer(path, buf, len, out, diag);
    free(buf);
    return rc;
}

int pw_config_set(struct pw_config *c, const char *key, const char *value,
                  const char *origin, struct pw_diag *diag)
{
    size_t idx = key_index(SEC_PORTWATCH, key);
    if (idx == CF_NKEYS) {
        pw_diag_add(diag, "%s: unknown setting '%s'", origin, key);
        return PW_EUNKNOWN_KEY;
    }
    char err[PW_ERRBUF];
    int rc = cf_apply(&cf_keys[idx], &c->s, value, err);
    if (rc != 0)
        pw_diag_add(diag, "%s: %s", origin, err);
    return rc;
}

int pw_config_add_check(struct pw_config *c, const char *name, const char *hosts,
                        const char *ports, enum pw_expect expect, struct pw_diag *diag)
{
    char err[PW_ERRBUF];
    struct pw_check k;
    memset(&k, 0, sizeof k);
    int rc = pw_parse_hosts(hosts, &k.hosts, err);
    if (rc != 0) {
        pw_diag_add(diag, "hosts: %s", err);
        return rc;
    }
    if ((rc = pw_parse_ports(ports, &k.ports, err)) != 0) {
        pw_diag_add(diag, "-p %s: %s", ports, err);
        check_free(&k);
        return rc;
    }
    k.expect = expect;
    k.name = strdup(name);
    k.reason = strdup("listed on the command line");
    struct pw_check *nc = k.name && k.reason ? realloc(c->checks, (c->nchecks + 1) * sizeof *nc) : NULL;
    if (!nc) {
        check_free(&k);
        return PW_ENOMEM;
    }
    c->checks = nc;
    c->checks[c->nchecks++] = k;
    return 0;
}
