/*
 * The route table: each endpoint's path, its function, its parameters and
 * what it needs (flags), and the dispatch that applies them in order:
 * token, method, strict URI parsing, route, parameters, then either the
 * query pool (store-backed), the health memo, the status cache, or the
 * endpoint on the worker at once. A new endpoint is one row here and one
 * function in an api_*.c file (declared in web/api.h).
 */
#include "web/server_int.h"

#include "base/clock.h"
#include "web/api.h"
#include "web/api_hosts.h"
#include "web/auth.h"
#include "web/params.h"

#include <microhttpd.h>
#include <string.h>

enum route_flags {
    RT_AUTH = 1 << 0,   /* needs the API token (when one is configured) */
    RT_VIEW = 1 << 1,   /* reads the current snapshot: acquired first */
    RT_STORE = 1 << 2,  /* queries the store: runs on the query pool */
    RT_MEMO = 1 << 3,   /* answers are remembered (web/memo.c) */
    RT_CACHED = 1 << 4, /* without parameters, the shared status document */
};

struct route {
    const char *path;     /* exact, or the prefix before "{id}" */
    const char *suffix;   /* after "{id}"; NULL: exact path */
    pw_endpoint_fn fn;
    unsigned flags;
    const char *const *params;
};

static const char *const p_none[] = {NULL};
static const char *const p_status[] = {"host", "role", "port", "state", "status", NULL};
static const char *const p_targets[] = {"host", "role", "port", "state", "status",
                                        "limit", "cursor", NULL};
static const char *const p_host[] = {"host", NULL};
static const char *const p_health[] = {"host", "role", "min_duration", "format", NULL};
static const char *const p_history[] = {"from", "to", "step", NULL};
static const char *const p_outages[] = {"from", "to", "host", "role", "port", "open", "limit",
                                        NULL};
static const char *const p_uptime[] = {"from", "to", "by", NULL};
static const char *const p_range[] = {"from", "to", NULL};
static const char *const p_incidents[] = {"from", "to", "host", "role", "state", "limit", NULL};
static const char *const p_report[] = {"from", "to", "host", "role", "format", NULL};

/* The dashboard's files are not here: server.c serves them before this
 * table, without the token (web/assets.c says why). */
static const struct route routes[] = {
    {"/api/v1/status", NULL, pw_api_status, RT_AUTH | RT_VIEW | RT_CACHED, p_status},
    {"/api/v1/hosts", NULL, pw_api_hosts, RT_AUTH | RT_VIEW, p_none},
    {"/api/v1/health", NULL, pw_api_health, RT_AUTH | RT_VIEW | RT_MEMO, p_health},
    {"/api/v1/live", NULL, pw_api_live, RT_AUTH | RT_VIEW, p_none},
    {"/api/v1/openapi.json", NULL, pw_api_openapi, RT_AUTH, p_none},
    {"/metrics", NULL, pw_api_metrics, RT_AUTH | RT_VIEW, p_none},
    {"/api/v1/outages", NULL, pw_api_outages, RT_AUTH | RT_STORE, p_outages},
    {"/api/v1/uptime", NULL, pw_api_uptime, RT_AUTH | RT_STORE, p_uptime},
    {"/api/v1/gaps", NULL, pw_api_gaps, RT_AUTH | RT_STORE, p_range},
    {"/api/v1/incidents", NULL, pw_api_incidents, RT_AUTH | RT_VIEW | RT_STORE, p_incidents},
    {"/api/v1/report", NULL, pw_api_report, RT_AUTH | RT_VIEW | RT_STORE, p_report},
    {"/api/v1/rpc/endpoints", NULL, pw_api_rpc_endpoints, RT_AUTH | RT_VIEW, p_host},
    {"/api/v1/targets", NULL, pw_api_targets, RT_AUTH | RT_VIEW, p_targets},
    {"/api/v1/maintenance", NULL, pw_api_maintenance, RT_AUTH | RT_VIEW, p_none},
    {"/api/v1/targets/", "", pw_api_target, RT_AUTH | RT_VIEW, p_none},
    {"/api/v1/targets/", "/history", pw_api_history, RT_AUTH | RT_STORE, p_history},
};

/* The endpoints a 404 names: the table's paths, in its order. */
static void endpoint_list(char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof routes / sizeof routes[0] && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%s%s%s", i ? ", " : "", routes[i].path,
                              routes[i].suffix ? "{id}" : "",
                              routes[i].suffix ? routes[i].suffix : "");
}

/* "{id}" of a targets route: 1 to 2^32-1. Sets *id; returns 0, or -1 with
 * a 400 in out. */
static int parse_id(const char *s, size_t n, uint32_t *id, struct pw_reply *out)
{
    uint64_t v = 0;
    bool ok = n > 0 && n <= 10;
    for (size_t i = 0; i < n && ok; i++) {
        ok = s[i] >= '0' && s[i] <= '9';
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (!ok || v == 0 || v > UINT32_MAX) {
        pw_reply_error(out, 400, "bad parameter",
                       "id: must be a target id, an integer 1 to 4294967295 "
                       "(see /api/v1/status)");
        return -1;
    }
    *id = (uint32_t)v;
    return 0;
}

/* The route of r->path (setting r->id), or NULL: *bad says whether out
 * holds a 400 for a malformed id. */
static const struct route *route_find(struct pw_req *r, struct pw_reply *out, bool *bad)
{
    *bad = false;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const struct route *rt = &routes[i];
        size_t pl = strlen(rt->path);
        if (!rt->suffix) {
            if (strcmp(r->path, rt->path) == 0)
                return rt;
            continue;
        }
        if (strncmp(r->path, rt->path, pl) != 0)
            continue;
        const char *idp = r->path + pl;
        size_t idn = strcspn(idp, "/");
        if (idn == 0 || strcmp(idp + idn, rt->suffix) != 0)
            continue;
        if (parse_id(idp, idn, &r->id, out) != 0) {
            *bad = true;
            return NULL;
        }
        return rt;
    }
    return NULL;
}

/* Whether the request's Accept-Encoding takes gzip (and not with q=0). */
static bool accepts_gzip(struct pw_req *r)
{
    const char *ae = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_ACCEPT_ENCODING);
    const char *g = ae ? strstr(ae, "gzip") : NULL;
    if (!g)
        return false;
    const char *q = g + 4;
    while (*q == ' ')
        q++;
    if (*q == ';') {
        q++;
        while (*q == ' ')
            q++;
        if (strncmp(q, "q=0", 3) == 0 && strspn(q + 3, ".0") == strcspn(q + 3, ", "))
            return false;
    }
    return true;
}

/* On the query pool: the status document built for r's own view. */
static void status_built(struct pw_req *r, struct pw_reply *out)
{
    struct pw_shared *doc = pw_status_cache_build(&r->w->status, &r->view, &r->has_view,
                                                  r->now_ms);
    if (!doc) {
        pw_reply_error(out, 503, "unavailable", "out of memory");
        return;
    }
    pw_reply_share(out, doc);
    pw_shared_unref(doc);
}

/* Runs rt's endpoint for r on this worker, through the memo or the status
 * cache where rt's flags say so. */
static void run_endpoint(struct pw_req *r, const struct route *rt, struct pw_reply *out)
{
    struct pw_web *w = r->w;
    if ((rt->flags & RT_CACHED) && r->nparams == 0) {
        struct pw_shared *doc = pw_status_cache_get(&w->status, &r->view, &r->has_view,
                                                    r->now_ms);
        if (!doc) { /* none fits this request's snapshot: build it */
            pw_req_defer(r, status_built);
            return;
        }
        pw_reply_share(out, doc);
        pw_shared_unref(doc);
        return;
    }
    struct pw_memo_key k;
    bool memo = (rt->flags & RT_MEMO) &&
                pw_memo_key(&k, r->raw, r->view.snap, r->now_ms, w->src.store);
    struct pw_shared *hit = memo ? pw_memo_find(&w->memo, &k) : NULL;
    if (hit) {
        pw_reply_share(out, hit);
        pw_shared_unref(hit);
        return;
    }
    rt->fn(r, out);
    if (!memo || r->job)
        return;
    struct pw_shared *answer = pw_reply_to_shared(out);
    if (!answer)
        return; /* out keeps its status; the send answers 503 */
    pw_memo_keep(&w->memo, &k, answer);
    pw_reply_share(out, answer);
    pw_shared_unref(answer);
}

/* Whether r may go on: the token, when one is configured and the route
 * (or an unknown path: no probing for endpoints) needs it. */
static bool authorized(struct pw_req *r, const struct route *rt, struct pw_reply *out)
{
    struct pw_web *w = r->w;
    if (!w->token_len || (rt && !(rt->flags & RT_AUTH)))
        return true;
    const char *auth = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                   MHD_HTTP_HEADER_AUTHORIZATION);
    return pw_auth_check(w->token, w->token_len, auth, out);
}

void pw_route(struct pw_req *r, const char *method)
{
    struct pw_reply *out = &r->reply;
    out->gzip_ok = accepts_gzip(r);
    out->if_none_match = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_IF_NONE_MATCH);
    /* The route first, its errors held back until the token is checked:
     * an unauthenticated client learns nothing but 401. */
    struct pw_reply early = {.tls = out->tls, .gzip_ok = out->gzip_ok};
    bool bad = pw_web_parse_uri(r, &early) != 0;
    if (!bad && strcmp(r->path, "/api/v1/health") == 0) {
        const char *fmt = pw_web_param(r, "format");
        out->text_errors = early.text_errors = fmt && strcmp(fmt, "text") == 0;
    }
    const struct route *rt = bad ? NULL : route_find(r, &early, &bad);
    if (!authorized(r, rt, out)) {
        pw_reply_clear(&early);
        return;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        pw_reply_clear(&early);
        char shown[40];
        pw_reply_error(out, 405, "method not allowed",
                       "%s is not allowed; the API is read-only: use GET or HEAD",
                       pw_shown(method, shown, sizeof shown));
        out->allow = "GET, HEAD";
        return;
    }
    if (bad) {
        *out = early;
        return;
    }
    if (!rt) {
        char list[640];
        endpoint_list(list, sizeof list);
        pw_reply_error(out, 404, "not found", "no such endpoint; endpoints: %s", list);
        return;
    }
    if (pw_web_check_params(r, rt->params, out) != 0)
        return;
    r->now_ms = pw_wall_ms();
    /* a store route that reads the plan too holds the view first */
    if ((rt->flags & RT_VIEW) && (rt->flags & RT_STORE) && pw_req_acquire_view(r, out) != 0)
        return;
    if (rt->flags & RT_STORE) {
        if (pw_req_need_store(r, out))
            pw_req_defer(r, rt->fn);
        return;
    }
    if ((rt->flags & RT_VIEW) && pw_req_acquire_view(r, out) != 0)
        return;
    run_endpoint(r, rt, out);
}
