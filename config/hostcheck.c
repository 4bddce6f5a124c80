/*
 * What `config-check` can say about the configuration's hosts by asking the
 * resolver now: a name that does not resolve, and two names for one
 * address (localhost and 127.0.0.1), whose targets would be probed twice
 * under two names. These are warnings, never errors: DNS may be down or
 * different where the configuration is checked, and the daemon keeps
 * resolving. Resolution goes through libuv so that it is the same call,
 * with the same answers, as the probes make, on every OS.
 */
#include "config/config.h"

#include "base/text.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

/* One distinct host name (ignoring case), where it was first written, and
 * what it resolved to. */
struct host {
    uv_getaddrinfo_t req;
    const char *name;
    const char *section; /* "biztalk" or the check's name */
    const char *key;
    int line;
    size_t order;        /* as written: roles, then checks */
    int status;          /* 0 or a UV_E* code */
    char (*addrs)[64];   /* numeric, as uv_ip4_name/uv_ip6_name write them */
    size_t naddrs;
};

struct addr_ref {
    const char *addr;
    size_t host;
};

#define MAX_ADDRS 16

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct host *h = req->data;
    h->status = status;
    if (status == 0 && (h->addrs = calloc(MAX_ADDRS, sizeof *h->addrs))) {
        for (const struct addrinfo *a = res; a && h->naddrs < MAX_ADDRS; a = a->ai_next) {
            char *out = h->addrs[h->naddrs];
            if (a->ai_family == AF_INET)
                uv_ip4_name((const struct sockaddr_in *)a->ai_addr, out, sizeof h->addrs[0]);
            else if (a->ai_family == AF_INET6)
                uv_ip6_name((const struct sockaddr_in6 *)a->ai_addr, out, sizeof h->addrs[0]);
            else
                continue;
            h->naddrs++;
        }
    }
    uv_freeaddrinfo(res);
}

/* Adds the hosts of one list, duplicates and all (unique_hosts drops
 * them). */
static int add_hosts(struct host **hs, size_t *n, size_t *cap, const struct pw_host_list *hl,
                     const char *section, const char *key, int line)
{
    for (size_t i = 0; i < hl->n; i++) {
        if (*n == *cap) {
            size_t nc = *cap ? 2 * *cap : 16;
            struct host *g = realloc(*hs, nc * sizeof *g);
            if (!g)
                return PW_ENOMEM;
            *hs = g;
            *cap = nc;
        }
        struct host *h = &(*hs)[(*n)++];
        memset(h, 0, sizeof *h);
        h->name = hl->names[i];
        h->section = section;
        h->key = key;
        h->line = line;
        h->order = *n;
    }
    return 0;
}

static int cmp_name_order(const void *a, const void *b)
{
    const struct host *x = a, *y = b;
    int d = pw_strcasecmp(x->name, y->name);
    return d ? d : (x->order > y->order) - (x->order < y->order);
}

static int cmp_order(const void *a, const void *b)
{
    const struct host *x = a, *y = b;
    return (x->order > y->order) - (x->order < y->order);
}

/* Keeps each name (ignoring case, as the plan merges them) where it was
 * first written, in the file's order. Returns the new count. */
static size_t unique_hosts(struct host *hs, size_t n)
{
    qsort(hs, n, sizeof *hs, cmp_name_order);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || pw_strcasecmp(hs[k - 1].name, hs[i].name) != 0)
            hs[k++] = hs[i];
    qsort(hs, k, sizeof *hs, cmp_order);
    return k;
}

static int cmp_addr(const void *a, const void *b)
{
    const struct addr_ref *x = a, *y = b;
    int d = strcmp(x->addr, y->addr);
    return d ? d : (x->host > y->host) - (x->host < y->host);
}

/* "t.ini:5: warning: [check web] hosts: " */
static void where(const struct pw_config *c, const struct host *h, char *buf, size_t len)
{
    const char *sep = strcmp(h->section, "biztalk") == 0 ? "" : "check ";
    if (c->path && h->line > 0)
        snprintf(buf, len, "%s:%d: warning: [%s%s] %s:", c->path, h->line, sep, h->section, h->key);
    else
        snprintf(buf, len, "warning: [%s%s] %s:", sep, h->section, h->key);
}

/* Two names, one address: each later name is reported once, beside the
 * first name that has one of its addresses. */
static void warn_shared(const struct pw_config *c, const struct host *hs, size_t n,
                        struct pw_diag *out)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += hs[i].naddrs;
    struct addr_ref *refs = malloc((total ? total : 1) * sizeof *refs);
    char *told = calloc(n ? n : 1, 1);
    if (!refs || !told) {
        free(refs);
        free(told);
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t a = 0; a < hs[i].naddrs; a++)
            refs[k++] = (struct addr_ref){hs[i].addrs[a], i};
    qsort(refs, total, sizeof *refs, cmp_addr);
    for (size_t i = 0; i < total;) {
        size_t j = i + 1;
        while (j < total && strcmp(refs[j].addr, refs[i].addr) == 0)
            j++;
        const struct host *first = &hs[refs[i].host];
        for (size_t m = i + 1; m < j; m++) {
            const struct host *h = &hs[refs[m].host];
            if (h == first || told[refs[m].host]++)
                continue;
            char w[256];
            where(c, h, w, sizeof w);
            pw_diag_add(out, "%s '%s' is the same address as '%s' (line %d): %s; its ports are "
                        "probed twice, under two names: write one of them", w, h->name,
                        first->name, first->line, refs[i].addr);
        }
        i = j;
    }
    free(refs);
    free(told);
}

void pw_config_host_warnings(const struct pw_config *c, struct pw_diag *out)
{
    struct host *hs = NULL;
    size_t n = 0, cap = 0;
    size_t nroles;
    const struct pw_role *roles = pw_catalog_roles(&nroles);
    int rc = 0;
    for (size_t i = 0; i < nroles && i < PW_MAX_ROLES && rc == 0; i++)
        rc = add_hosts(&hs, &n, &cap, &c->roles[i], "biztalk", roles[i].key, c->role_lines[i]);
    for (size_t i = 0; i < c->nchecks && rc == 0; i++)
        rc = add_hosts(&hs, &n, &cap, &c->checks[i].hosts, c->checks[i].name, "hosts",
                       c->checks[i].hosts_line);
    n = n ? unique_hosts(hs, n) : 0;
    uv_loop_t loop;
    if (rc != 0 || uv_loop_init(&loop) != 0) {
        pw_diag_add(out, "warning: hosts were not resolved: out of memory");
        free(hs);
        return;
    }
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    for (size_t i = 0; i < n; i++) {
        hs[i].req.data = &hs[i];
        hs[i].status = uv_getaddrinfo(&loop, &hs[i].req, on_resolved, hs[i].name, NULL, &hints);
    }
    uv_run(&loop, UV_RUN_DEFAULT); /* the lookups, four at a time in libuv's pool */
    uv_loop_close(&loop);
    for (size_t i = 0; i < n; i++) {
        if (hs[i].status == 0)
            continue;
        char w[256];
        where(c, &hs[i], w, sizeof w);
        pw_diag_add(out, "%s '%s' does not resolve now (%s); until it does, its ports are "
                    "reported as dns_error", w, hs[i].name, uv_strerror(hs[i].status));
    }
    warn_shared(c, hs, n, out);
    for (size_t i = 0; i < n; i++)
        free(hs[i].addrs);
    free(hs);
}
