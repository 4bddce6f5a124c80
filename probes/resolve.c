/*
 * Name resolution for the engine (engine_int.h): a host given as a literal
 * never goes to the resolver; a name is looked up at most once per
 * interval (uv_getaddrinfo on libuv's thread pool), the answer the
 * `family` setting asks for is kept, and targets due meanwhile wait on
 * their host's lookup. A failed lookup settles every waiting target as
 * dns_error and is remembered for the same time as an answer.
 */
#include "probes/engine_int.h"

#include "base/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool family_allows(int want, int af)
{
    if (want == PW_FAMILY_IPV4)
        return af == AF_INET;
    if (want == PW_FAMILY_IPV6)
        return af == AF_INET6;
    return af == AF_INET || af == AF_INET6;
}

/* The resolver's answer the `family` setting asks for. */
static const struct addrinfo *pick_addr(const struct addrinfo *res, int family)
{
    int prefer = family == PW_FAMILY_PREFER_IPV4 ? AF_INET
                 : family == PW_FAMILY_PREFER_IPV6 ? AF_INET6 : 0;
    const struct addrinfo *first = NULL;
    for (const struct addrinfo *a = res; a; a = a->ai_next) {
        if (!family_allows(family, a->ai_family))
            continue;
        if (!first)
            first = a;
        if (!prefer || a->ai_family == prefer)
            return a;
    }
    return first;
}

static void host_resolved(struct pw_engine *e, uint32_t h, int status)
{
    struct hslot *hs = &e->hosts[h];
    hs->valid_until = (int64_t)uv_now(e->loop) + hs->validity_ms;
    if (status == 0) {
        hs->dns = H_OK;
        while (hs->wait_head != NIL)
            eng_ready_push(e, eng_list_pop(e, &hs->wait_head, &hs->wait_tail));
        return;
    }
    char msg[PW_DETAIL_MAX - 24];
    uv_strerror_r(status, msg, sizeof msg);
    snprintf(hs->err, sizeof hs->err, "%s (%s)", msg, uv_err_name(status));
    hs->dns = H_FAILED;
    while (hs->wait_head != NIL)
        eng_record(e, eng_list_pop(e, &hs->wait_head, &hs->wait_tail), PW_STATE_DNS_ERROR,
                   hs->err, -1);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct resolve *r = req->data;
    struct pw_engine *e = r->e;
    struct hslot *hs = &e->hosts[r->host];
    e->pending_dns--;
    hs->req = NULL;
    if (!e->closing) {
        if (status == 0) {
            const struct addrinfo *a = pick_addr(res, e->opt.family);
            if (a && a->ai_addrlen <= sizeof hs->addr)
                memcpy(&hs->addr, a->ai_addr, a->ai_addrlen);
            else
                status = UV_EAI_ADDRFAMILY;
        }
        host_resolved(e, r->host, status);
        eng_pump(e);
    }
    uv_freeaddrinfo(res);
    free(r);
    eng_maybe_finish(e);
}

/* Asks the resolver once for host h; targets due meanwhile wait on it. */
static void resolve(struct pw_engine *e, uint32_t h)
{
    struct hslot *hs = &e->hosts[h];
    struct resolve *r = malloc(sizeof *r);
    int err = UV_ENOMEM;
    if (r) {
        struct addrinfo hints;
        memset(&hints, 0, sizeof hints);
        hints.ai_family = e->opt.family == PW_FAMILY_IPV4   ? AF_INET
                          : e->opt.family == PW_FAMILY_IPV6 ? AF_INET6
                                                            : AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        r->e = e;
        r->host = h;
        r->req.data = r;
        err = uv_getaddrinfo(e->loop, &r->req, on_resolved, hs->name, NULL, &hints);
    }
    e->stats.dns_lookups++;
    if (err == 0) {
        hs->req = r;
        hs->dns = H_RESOLVING;
        e->pending_dns++;
        return;
    }
    free(r);
    host_resolved(e, h, err);
}

/* A target is due: queue it, park it on its host's lookup, or settle it
 * from the host's cached failure. */
void eng_dispatch(struct pw_engine *e, uint32_t t)
{
    uint32_t h = e->plan->targets[t].host;
    struct hslot *hs = &e->hosts[h];
    int64_t now = (int64_t)uv_now(e->loop);
    bool fresh = now < hs->valid_until;

    if (hs->dns == H_LITERAL || (hs->dns == H_OK && fresh)) {
        eng_ready_push(e, t);
    } else if (hs->dns == H_BADFAMILY) {
        eng_record(e, t, PW_STATE_ERROR, hs->err, -1);
    } else if (hs->dns == H_FAILED && fresh) {
        eng_record(e, t, PW_STATE_DNS_ERROR, hs->err, -1);
    } else {
        e->sl[t].phase = T_DNS_WAIT;
        eng_list_push(e, &hs->wait_head, &hs->wait_tail, t);
        if (hs->dns != H_RESOLVING)
            resolve(e, h);
    }
}

/* Literals never go to the resolver; one the `family` setting excludes is
 * an error on every probe of that host. */
void eng_host_init(struct pw_engine *e, uint32_t h)
{
    struct hslot *hs = &e->hosts[h];
    const struct pw_host *ph = &e->plan->hosts[h];
    hs->name = ph->name;
    hs->wait_head = hs->wait_tail = hs->ready_head = hs->ready_tail = NIL;
    int64_t min_iv = INT64_MAX;
    for (uint32_t t = ph->first; t < ph->first + ph->n; t++) {
        int64_t iv = eng_interval(e, t);
        if (iv < min_iv)
            min_iv = iv;
    }
    /* A little under the interval, so timer jitter never makes the next
     * interval's first probe reuse this interval's answer. */
    hs->validity_ms = min_iv == INT64_MAX ? e->opt.interval_ms : min_iv - min_iv / 10;
    int af = 0;
    if (hs->name && uv_ip4_addr(hs->name, 0, &hs->addr.in4) == 0)
        af = AF_INET;
    else if (hs->name && uv_ip6_addr(hs->name, 0, &hs->addr.in6) == 0)
        af = AF_INET6;
    if (af == 0) {
        hs->dns = H_UNRESOLVED;
    } else if (family_allows(e->opt.family, af)) {
        hs->dns = H_LITERAL;
    } else {
        hs->dns = H_BADFAMILY;
        snprintf(hs->err, sizeof hs->err, "%s address, but family = %s",
                 af == AF_INET ? "IPv4" : "IPv6",
                 e->opt.family == PW_FAMILY_IPV4 ? "ipv4" : "ipv6");
    }
}
