/*
 * Expansion of a configuration into the target plan: roles -> hosts ->
 * (host, port) targets. Every catalog row and operator check contributes
 * "this port on this host matters, for this reason"; contributions to the
 * same (host, port) merge into one target, and targets whose set of
 * contributions is equal share one profile. The probe engine, the store
 * and the web layer all address targets by their index in the plan.
 */
#include "config/plan_int.h"

#include "base/error.h"
#include "base/text.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

/* One (host, port, contribution) triple during expansion. */
struct entry {
    uint32_t host;
    uint16_t port;
    uint16_t contrib; /* catalog row index, nrows + check index, or
                         nrows + nchecks + registered index */
};

const char *plan_pool_dup(struct pool *p, const char *s)
{
    char **ns = realloc(p->s, (p->n + 1) * sizeof *ns);
    if (!ns)
        return NULL;
    p->s = ns;
    char *copy = strdup(s);
    if (!copy)
        return NULL;
    p->s[p->n++] = copy;
    return copy;
}

static void pool_free(struct pool *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        free(p->s[i]);
    free(p->s);
    pw_diag_free(&p->warnings);
    free(p);
}

const struct pw_plan_identity *pw_plan_identity(const struct pw_plan *p)
{
    static const struct pw_plan_identity none = {"", 0, ""};
    const struct pool *pool = p ? p->arena_ : NULL;
    return pool && pool->id.instance_name ? &pool->id : &none;
}

int plan_set_identity(struct pool *pool, const char *name, int vantage, const char *labels)
{
    pool->id.instance_name = plan_pool_dup(pool, name);
    pool->id.labels = plan_pool_dup(pool, labels ? labels : "");
    pool->id.vantage = vantage;
    return pool->id.instance_name && pool->id.labels ? 0 : PW_ENOMEM;
}

const struct pw_diag *pw_plan_warnings(const struct pw_plan *p)
{
    static const struct pw_diag none = {0};
    const struct pool *pool = p ? p->arena_ : NULL;
    return pool ? &pool->warnings : &none;
}

/* ---- the rolling sweep of the secondary RPC range ----------------------- */

int64_t pw_plan_rpc_sweep_ms(const struct pw_config *c, int64_t *asked_ms)
{
    int64_t asked = c->rpc_sweep_ms > c->s.interval_ms ? c->rpc_sweep_ms : c->s.interval_ms;
    if (asked_ms)
        *asked_ms = asked;
    /* The key's minimum is 1; only a struct made by hand, without
     * pw_config_new()'s defaults, holds 0, and gets no cap. */
    if (c->rpc_sweep_rate <= 0)
        return asked;
    int64_t ports = (int64_t)pw_portset_count(&c->rpc_range);
    /* Whole seconds, rounded up: the cap still holds, and the period reads
     * back as "27m19s" rather than "1638400ms". */
    int64_t need = (ports + c->rpc_sweep_rate - 1) / c->rpc_sweep_rate * 1000;
    return need > asked ? need : asked;
}

/* Says that rpc_sweep_rate stretched the sweep from `asked` to `used`,
 * which key to change to get the period asked, and the period to write to
 * accept the one used. */
static void warn_stretched_sweep(struct pw_diag *w, const struct pw_config *c, int64_t asked,
                                 int64_t used)
{
    char a[32], u[32], what[64], fix[200];
    pw_format_duration(asked, a, sizeof a);
    pw_format_duration(used, u, sizeof u);
    long long ports = (long long)pw_portset_count(&c->rpc_range);
    if (c->rpc_sweep_ms > c->s.interval_ms)
        snprintf(what, sizeof what, "%s asked", a);
    else
        snprintf(what, sizeof what, "every interval (%s) asked", a);
    /* The least rate whose whole-second pass fits in the period asked. */
    long long secs = asked / 1000 > 0 ? asked / 1000 : 1;
    long long rate = (ports + secs - 1) / secs;
    if (rate <= PW_RPC_SWEEP_RATE_MAX)
        snprintf(fix, sizeof fix, "raise rpc_sweep_rate to %lld/s for %s, or set "
                 "rpc_sweep_period = %s to accept it", rate, a, u);
    else
        snprintf(fix, sizeof fix, "rpc_sweep_rate goes up to %d/s only, so set "
                 "rpc_sweep_period = %s to accept it", PW_RPC_SWEEP_RATE_MAX, u);
    pw_diag_add(w, "[biztalk] rpc_sweep_period: %s, %s used: rpc_sweep_rate = %lld/s holds "
                "the sweep of secondary_rpc_ports (%lld ports a host) to that; %s",
                what, u, c->rpc_sweep_rate, ports, fix);
}

/* ---- finding hosts and profiles in linear time ------------------------- */

/* An open-addressing hash set of item numbers, kept under half full. Each
 * slot keeps its item's hash, so growing needs no callback. Hosts are found
 * by name and profiles by contribution set through one each: 65,000 [check]
 * sections make 65,000 of both, and linear searches made planning
 * quadratic (20 s in a release build). */
struct slot {
    uint32_t item; /* item number + 1; 0 is free */
    uint32_t hash;
};

struct index {
    struct slot *s;
    size_t n, cap; /* cap is a power of two */
};

/* Whether item is the one being looked for. */
typedef int (*same_fn)(const void *ctx, uint32_t item);

/* The item whose hash is `hash` and that `same` accepts, or -1. */
static long index_find(const struct index *x, uint32_t hash, same_fn same, const void *ctx)
{
    size_t mask = x->cap - 1;
    for (size_t i = hash & mask; x->cap && x->s[i].item; i = (i + 1) & mask)
        if (x->s[i].hash == hash && same(ctx, x->s[i].item - 1))
            return (long)x->s[i].item - 1;
    return -1;
}

static void index_put(struct index *x, uint32_t hash, uint32_t item)
{
    size_t mask = x->cap - 1, i = hash & mask;
    while (x->s[i].item)
        i = (i + 1) & mask;
    x->s[i] = (struct slot){item + 1, hash};
    x->n++;
}

/* Adds an item that index_find did not find, growing the set first when
 * half full. */
static int index_add(struct index *x, uint32_t hash, uint32_t item)
{
    if (2 * (x->n + 1) > x->cap) {
        struct index grown = {calloc(x->cap ? 2 * x->cap : 64, sizeof *grown.s), 0,
                              x->cap ? 2 * x->cap : 64};
        if (!grown.s)
            return PW_ENOMEM;
        for (size_t i = 0; i < x->cap; i++)
            if (x->s[i].item)
                index_put(&grown, x->s[i].hash, x->s[i].item - 1);
        free(x->s);
        *x = grown;
    }
    index_put(x, hash, item);
    return 0;
}

static uint32_t fnv1a(uint32_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

/* A catalog row the configuration's vantages select, with its table. */
struct selected {
    const struct pw_catalog_row *row;
    enum pw_vantage vantage;
};

struct builder {
    const struct pw_config *c;
    const struct pw_plan_registered *reg; /* contributions after the checks */
    size_t nreg;
    struct selected rows[PW_CATALOG_MAX_ROWS]; /* contribution i < nrows is rows[i] */
    size_t nrows;
    struct entry *e;
    size_t ne, cap;
    const char **hosts; /* borrowed from the config and the registered input */
    size_t nhosts, hosts_cap;
    struct index host_index; /* finds a host's number by name */
    const char *looking_for; /* the name host_index is finding */
    int64_t sweep_ms; /* the secondary RPC range's period, per pw_plan_rpc_sweep_ms */
    size_t profiles_cap; /* room in the plan's profiles */
};

static int same_host(const void *ctx, uint32_t item)
{
    const struct builder *b = ctx;
    return pw_strcasecmp(b->hosts[item], b->looking_for) == 0;
}

/* The number of the host with this name (ignoring case), added when new. */
static long host_index(struct builder *b, const char *name)
{
    uint32_t hash = pw_name_hash(name);
    b->looking_for = name;
    long found = index_find(&b->host_index, hash, same_host, b);
    if (found >= 0)
        return found;
    if (b->nhosts == b->hosts_cap) {
        size_t cap = b->hosts_cap ? 2 * b->hosts_cap : 16;
        const char **nh = realloc(b->hosts, cap * sizeof *nh);
        if (!nh)
            return PW_ENOMEM;
        b->hosts = nh;
        b->hosts_cap = cap;
    }
    if (index_add(&b->host_index, hash, (uint32_t)b->nhosts) != 0)
        return PW_ENOMEM;
    b->hosts[b->nhosts] = name;
    return (long)b->nhosts++;
}

static int add_ports(struct builder *b, uint32_t host, uint16_t lo, uint16_t hi, uint16_t contrib)
{
    size_t need = b->ne + (size_t)(hi - lo) + 1;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < need)
            cap *= 2;
        struct entry *ne = realloc(b->e, cap * sizeof *ne);
        if (!ne)
            return PW_ENOMEM;
        b->e = ne;
        b->cap = cap;
    }
    for (uint32_t p = lo; p <= hi; p++)
        b->e[b->ne++] = (struct entry){host, (uint16_t)p, contrib};
    return 0;
}

static int add_hosts_ports(struct builder *b, const struct pw_host_list *hl,
                           const struct pw_port_range *r, size_t nr, uint16_t contrib)
{
    for (size_t h = 0; h < hl->n; h++) {
        long hi = host_index(b, hl->names[h]);
        if (hi < 0)
            return (int)hi;
        for (size_t i = 0; i < nr; i++) {
            int rc = add_ports(b, (uint32_t)hi, r[i].lo, r[i].hi, contrib);
            if (rc)
                return rc;
        }
    }
    return 0;
}

/* Whether the configuration probes this row: rows needed only while BizTalk
 * Configuration Manager runs wait for [biztalk] configuring = yes. */
static int row_selected(const struct pw_config *c, const struct pw_catalog_row *row)
{
    return !row->configuring || c->configuring;
}

/* The rows of every vantage the configuration holds, in vantage order. */
static void select_rows(const struct pw_config *c, struct selected *rows, size_t *n)
{
    *n = 0;
    for (int v = 0; v < PW_NVANTAGES; v++) {
        if (!(c->s.vantage & PW_VANTAGE_BIT(v)))
            continue;
        const struct pw_catalog *cat = pw_catalog_vantage((enum pw_vantage)v);
        for (size_t i = 0; i < cat->nrows && *n < PW_CATALOG_MAX_ROWS; i++)
            if (row_selected(c, &cat->rows[i]))
                rows[(*n)++] = (struct selected){&cat->rows[i], (enum pw_vantage)v};
    }
}

/* A row's targets: its role's hosts on its ports, the page's or those of
 * the key that replaces them. */
static int add_row(struct builder *b, const struct pw_catalog_row *row, uint16_t contrib)
{
    const struct pw_config *c = b->c;
    const struct pw_host_list *hl = &c->roles[row->role];
    struct pw_port_range one = {row->port_lo, row->port_hi};
    switch (row->port_key) {
    case PW_PORT_RPC_RANGE:
        return add_hosts_ports(b, hl, c->rpc_range.r, c->rpc_range.n, contrib);
    case PW_PORT_ANALYSIS:
        one.lo = one.hi = (uint16_t)c->analysis_port;
        break;
    case PW_PORT_PORTAL:
        one.lo = one.hi = (uint16_t)c->portal_port;
        break;
    case PW_PORT_AS_LISTED:
        break;
    }
    return add_hosts_ports(b, hl, &one, 1, contrib);
}

/* Appends " ROWS" to buf: the row numbers of `role` among rows[0..n) of
 * vantage v, consecutive ones as a range ("7-9, 26"). Returns how many. */
static size_t list_role_rows(const struct selected *rows, size_t n, enum pw_vantage v, int role,
                             char *buf, size_t len)
{
    size_t found = 0, used = strlen(buf);
    for (size_t i = 0; i < n; i++) {
        if (rows[i].vantage != v || rows[i].row->role != role)
            continue;
        size_t j = i;
        while (j + 1 < n && rows[j + 1].vantage == v && rows[j + 1].row->role == role &&
               rows[j + 1].row->number == rows[j].row->number + 1)
            j++;
        int first = rows[i].row->number, last = rows[j].row->number;
        if (used < len)
            used += (size_t)(first == last
                                 ? snprintf(buf + used, len - used, "%s%d", found ? ", " : " ", first)
                                 : snprintf(buf + used, len - used, "%s%d-%d", found ? ", " : " ",
                                            first, last));
        found++;
        i = j;
    }
    return found;
}

void pw_plan_role_notes(const struct pw_config *c, struct pw_diag *out)
{
    struct selected rows[PW_CATALOG_MAX_ROWS];
    size_t n, nroles;
    select_rows(c, rows, &n);
    const struct pw_role *roles = pw_catalog_roles(&nroles);
    for (size_t r = 0; r < nroles; r++) {
        if (c->roles[r].n > 0)
            continue;
        char where[512] = "";
        size_t tables = 0;
        for (int v = 0; v < PW_NVANTAGES; v++) {
            size_t at = strlen(where);
            snprintf(where + at, sizeof where - at, "%s%s rows", tables ? "; " : "",
                     pw_vantage_name((enum pw_vantage)v));
            if (list_role_rows(rows, n, (enum pw_vantage)v, (int)r, where, sizeof where) == 0)
                where[at] = '\0';
            else
                tables++;
        }
        if (tables)
            pw_diag_add(out, "[biztalk] %s is not set, so the rows of %s (%s) are not watched: %s; "
                        "name its hosts, e.g. %s = HOST1, HOST2", roles[r].key, roles[r].title,
                        roles[r].key, where, roles[r].key);
    }
}

static int cmp_entry(const void *x, const void *y)
{
    const struct entry *a = x, *b = y;
    if (a->host != b->host)
        return a->host < b->host ? -1 : 1;
    if (a->port != b->port)
        return a->port < b->port ? -1 : 1;
    return (int)a->contrib - (int)b->contrib;
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* What one contribution asks of its (host, port), besides its reason. */
struct asks {
    enum pw_expect expect;
    int64_t interval_ms, timeout_ms;
    int proto;         /* an enum pw_proto, or PW_PROTO_AUTO */
    bool proto_named;  /* an operator's protocol (or none): wins over rows */
    bool from_row;     /* a catalog row: c->verify decides its exchange */
    bool rpc_range;
};

/* A catalog row's reason and asks. */
static void row_contribution(const struct builder *b, uint16_t i, struct pw_reason *r,
                             struct asks *a)
{
    const struct pw_role *roles = pw_catalog_roles(&(size_t){0});
    const struct pw_catalog_row *row = b->rows[i].row;
    r->role = roles[row->role].key;
    r->service = row->service;
    r->text = row->reason;
    r->row = row->number;
    r->vantage = pw_vantage_name(b->rows[i].vantage);
    a->expect = row->expect;
    a->from_row = true;
    a->proto = b->c->verify ? PW_PROTO_AUTO : PW_PROTO_NONE;
    if (row->port_key == PW_PORT_RPC_RANGE) {
        a->rpc_range = true;
        /* A rolling sweep: the range once per period, not per interval. */
        if (b->sweep_ms > a->interval_ms)
            a->interval_ms = b->sweep_ms;
    }
}

/* An operator's check's reason and asks; PW_ENOMEM copying its strings. */
static int check_contribution(const struct pw_check *k, struct pool *pool, struct pw_reason *r,
                              struct asks *a)
{
    r->role = plan_pool_dup(pool, k->name);
    r->service = r->role;
    r->text = k->reason ? plan_pool_dup(pool, k->reason) : r->role;
    a->expect = k->expect;
    a->proto = k->protocol;
    a->proto_named = k->protocol != PW_PROTO_AUTO;
    if (k->interval_ms)
        a->interval_ms = k->interval_ms;
    if (k->timeout_ms)
        a->timeout_ms = k->timeout_ms;
    return r->role && r->text ? 0 : PW_ENOMEM;
}

/* Registered ports' reason and asks: listening, and a connect only, as an
 * operator's check with protocol = none: the dynamic endpoint is the
 * mapper's word, not a known service on a known port. */
static int registered_contribution(const struct pw_plan_registered *g, struct pool *pool,
                                   struct pw_reason *r, struct asks *a)
{
    r->role = PW_PLAN_REGISTERED_NAME;
    r->service = r->role;
    r->text = plan_pool_dup(pool, g->reason);
    a->expect = PW_EXPECT_LISTENING;
    a->proto = PW_PROTO_NONE;
    a->proto_named = true;
    return r->text ? 0 : PW_ENOMEM;
}

/* Contribution i's reason into r and its asks into a. */
static int contribution(const struct builder *b, struct pool *pool, uint16_t i,
                        struct pw_reason *r, struct asks *a)
{
    const struct pw_config *c = b->c;
    *a = (struct asks){.interval_ms = c->s.interval_ms, .timeout_ms = c->s.timeout_ms};
    if (i < b->nrows) {
        row_contribution(b, i, r, a);
        return 0;
    }
    if (i < b->nrows + c->nchecks)
        return check_contribution(&c->checks[i - b->nrows], pool, r, a);
    return registered_contribution(&b->reg[i - b->nrows - c->nchecks], pool, r, a);
}

/* The merged profile of a sorted, duplicate-free set of contributions: the
 * stricter expectation, the shortest interval, the longest timeout, and
 * the exchange an operator named, else the rows' choice, else auto. */
static int make_profile(struct builder *b, struct pool *pool, const uint16_t *set, size_t n,
                        struct pw_profile *out)
{
    memset(out, 0, sizeof *out);
    out->expect = PW_EXPECT_REACHABLE;
    out->interval_ms = INT64_MAX;
    out->verify_proto = PW_PROTO_NONE;
    bool named = false, decided = false;
    out->reasons = calloc(n, sizeof *out->reasons);
    out->roles = calloc(n, sizeof *out->roles);
    if (!out->reasons || !out->roles)
        return PW_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        struct pw_reason *r = &out->reasons[i];
        struct asks a;
        int rc = contribution(b, pool, set[i], r, &a);
        if (rc)
            return rc;
        if (a.proto_named || (a.from_row && !named) || !decided)
            out->verify_proto = a.proto;
        named |= a.proto_named;
        decided = true;
        out->rpc_range |= a.rpc_range;
        if (a.expect == PW_EXPECT_LISTENING)
            out->expect = PW_EXPECT_LISTENING;
        if (a.interval_ms < out->interval_ms)
            out->interval_ms = a.interval_ms;
        if (a.timeout_ms > out->timeout_ms)
            out->timeout_ms = a.timeout_ms;
        out->roles[out->nroles++] = r->role;
        out->nreasons++;
    }
    if (out->timeout_ms >= out->interval_ms)
        out->timeout_ms = out->interval_ms - 1;
    qsort(out->roles, out->nroles, sizeof *out->roles, cmp_str);
    size_t w = 0;
    for (size_t i = 0; i < out->nroles; i++)
        if (w == 0 || strcmp(out->roles[w - 1], out->roles[i]) != 0)
            out->roles[w++] = out->roles[i];
    out->nroles = w;
    return 0;
}

void plan_profile_free(struct pw_profile *p)
{
    free(p->roles);
    free(p->reasons);
}

void pw_plan_free(struct pw_plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nprofiles; i++)
        plan_profile_free(&p->profiles[i]);
    free(p->profiles);
    free(p->targets);
    free(p->hosts); /* names live in the pool */
    pool_free(p->arena_);
    free(p);
}

/* A contribution set, as the profile index keeps it. */
struct profile_key {
    uint16_t *set;
    size_t n;
};

struct profiles {
    struct index index;
    struct profile_key *keys; /* by profile number */
    size_t n;                 /* keys made */
    size_t cap;               /* room in keys and in the plan's profiles */
};

struct set_query {
    const struct profiles *pr;
    const uint16_t *set;
    size_t n;
};

static int same_set(const void *ctx, uint32_t item)
{
    const struct set_query *q = ctx;
    const struct profile_key *k = &q->pr->keys[item];
    return k->n == q->n && memcmp(k->set, q->set, q->n * sizeof *q->set) == 0;
}

static void profiles_free(struct profiles *pr)
{
    for (size_t k = 0; k < pr->n; k++)
        free(pr->keys[k].set);
    free(pr->keys);
    free(pr->index.s);
}

/* The profile of a (host, port)'s contribution set: an existing one, or a
 * new one made and indexed. Returns its number, or a negative pw_err. */
static long profile_of(struct builder *b, struct pool *pool, struct profiles *pr,
                       struct pw_plan *p, const uint16_t *set, size_t n, struct pw_diag *diag)
{
    struct set_query q = {pr, set, n};
    uint32_t hash = fnv1a(2166136261u, set, n * sizeof *set);
    long prof = index_find(&pr->index, hash, same_set, &q);
    if (prof >= 0)
        return prof;
    if (p->nprofiles >= UINT16_MAX) {
        pw_diag_add(diag, "too many distinct port profiles (more than %d)", UINT16_MAX);
        return PW_ETOO_BIG;
    }
    if (p->nprofiles == pr->cap) {
        size_t cap = pr->cap ? 2 * pr->cap : 16;
        struct profile_key *nk = realloc(pr->keys, cap * sizeof *nk);
        if (nk)
            pr->keys = nk;
        struct pw_profile *np = nk ? realloc(p->profiles, cap * sizeof *np) : NULL;
        if (!np)
            return PW_ENOMEM;
        p->profiles = np;
        pr->cap = cap;
    }
    struct profile_key *k = &pr->keys[p->nprofiles];
    if (!(k->set = malloc((n ? n : 1) * sizeof *set)))
        return PW_ENOMEM;
    memcpy(k->set, set, n * sizeof *set);
    k->n = n;
    pr->n++;
    prof = (long)p->nprofiles++;
    int rc = index_add(&pr->index, hash, (uint32_t)prof);
    if (!rc)
        rc = make_profile(b, pool, set, n, &p->profiles[prof]);
    return rc ? rc : prof;
}

/* The plan's hosts and targets from the builder's sorted entries: one
 * target per (host, port), its profile the set of its contributions. */
static int make_targets(struct builder *b, struct pool *pool, struct pw_plan *p,
                        struct pw_diag *diag)
{
    struct profiles prof = {0};
    uint16_t *set = calloc(b->nrows + b->c->nchecks + b->nreg, sizeof *set);
    int rc = PW_ENOMEM;
    p->hosts = calloc(b->nhosts, sizeof *p->hosts);
    p->targets = calloc(b->ne, sizeof *p->targets);
    if (!p->hosts || !p->targets || !set)
        goto done;
    for (size_t h = 0; h < b->nhosts; h++)
        if (!(p->hosts[h].name = (char *)plan_pool_dup(pool, b->hosts[h])))
            goto done;
    p->nhosts = b->nhosts;
    for (size_t i = 0; i < b->ne;) {
        size_t j = i, n = 0;
        for (; j < b->ne && b->e[j].host == b->e[i].host && b->e[j].port == b->e[i].port; j++)
            if (n == 0 || set[n - 1] != b->e[j].contrib)
                set[n++] = b->e[j].contrib;
        long pi = profile_of(b, pool, &prof, p, set, n, diag);
        if (pi < 0) {
            rc = (int)pi;
            goto done;
        }
        struct pw_target *t = &p->targets[p->ntargets++];
        t->host = b->e[i].host;
        t->port = b->e[i].port;
        t->profile = (uint16_t)pi;
        struct pw_host *host = &p->hosts[t->host];
        if (host->n == 0)
            host->first = (uint32_t)(p->ntargets - 1);
        host->n++;
        i = j;
    }
    rc = 0;
done:
    profiles_free(&prof);
    free(set);
    return rc;
}

int pw_plan_build(const struct pw_config *c, struct pw_plan **out, struct pw_diag *diag)
{
    return pw_plan_build_with(c, NULL, 0, out, diag);
}

/* Adds each registered host's ports as contributions after the checks. */
static int add_registered(struct builder *b)
{
    uint16_t first = (uint16_t)(b->nrows + b->c->nchecks);
    for (size_t i = 0; i < b->nreg; i++) {
        long hi = host_index(b, b->reg[i].host);
        if (hi < 0)
            return (int)hi;
        for (size_t k = 0; k < b->reg[i].nports; k++) {
            uint16_t port = b->reg[i].ports[k];
            int rc = add_ports(b, (uint32_t)hi, port, port, (uint16_t)(first + i));
            if (rc)
                return rc;
        }
    }
    return 0;
}

int pw_plan_build_with(const struct pw_config *c, const struct pw_plan_registered *reg,
                       size_t nreg, struct pw_plan **out, struct pw_diag *diag)
{
    struct builder b = {.c = c, .reg = reg, .nreg = nreg};
    select_rows(c, b.rows, &b.nrows);
    int64_t sweep_asked;
    b.sweep_ms = pw_plan_rpc_sweep_ms(c, &sweep_asked);
    int sweeps = 0; /* some host is in a role whose rows include the range */
    struct pw_plan *p = calloc(1, sizeof *p);
    struct pool *pool = calloc(1, sizeof *pool);
    int rc = PW_ENOMEM;

    *out = NULL;
    if (!p || !pool) {
        free(pool);
        pool = NULL;
        goto fail;
    }
    p->arena_ = pool;
    if (b.nrows + c->nchecks + nreg > UINT16_MAX) {
        pw_diag_add(diag, "too many checks (%zu); at most %d with these vantages' %zu catalog rows",
                    c->nchecks, UINT16_MAX - (int)b.nrows, b.nrows);
        rc = PW_ETOO_BIG;
        goto fail;
    }
    for (size_t i = 0; i < b.nrows; i++) {
        const struct pw_catalog_row *row = b.rows[i].row;
        const struct pw_host_list *hl = &c->roles[row->role];
        sweeps |= row->port_key == PW_PORT_RPC_RANGE && hl->n > 0;
        if ((rc = add_row(&b, row, (uint16_t)i)) != 0)
            goto fail;
    }
    for (size_t i = 0; i < c->nchecks; i++) {
        const struct pw_check *k = &c->checks[i];
        rc = add_hosts_ports(&b, &k->hosts, k->ports.r, k->ports.n, (uint16_t)(b.nrows + i));
        if (rc)
            goto fail;
    }
    if ((rc = add_registered(&b)) != 0)
        goto fail;
    if (b.ne == 0) {
        pw_diag_add(diag, "%s: nothing to watch: name the hosts of at least one role in [biztalk] "
                          "(e.g. management_database = SQL01) or add a [check NAME] section",
                    c->path ? c->path : "configuration");
        rc = PW_EINVAL;
        goto fail;
    }
    qsort(b.e, b.ne, sizeof *b.e, cmp_entry);

    /* unnamed, the server is the host name the OS gives (libuv's, on every OS) */
    char host[UV_MAXHOSTNAMESIZE];
    size_t hlen = sizeof host;
    const char *name = c->s.instance_name;
    if (!name)
        name = uv_os_gethostname(host, &hlen) == 0 && *host ? host : "unknown";
    if ((rc = make_targets(&b, pool, p, diag)) != 0 ||
        (rc = plan_set_identity(pool, name, c->s.vantage, c->s.labels)) != 0)
        goto fail;
    if (sweeps && b.sweep_ms > sweep_asked)
        warn_stretched_sweep(&pool->warnings, c, sweep_asked, b.sweep_ms);
    rc = 0;
    *out = p;
    p = NULL;
fail:
    if (rc == PW_ENOMEM)
        pw_diag_add(diag, "out of memory while expanding the configuration");
    free(b.host_index.s);
    free(b.e);
    free(b.hosts);
    pw_plan_free(p);
    return rc;
}
