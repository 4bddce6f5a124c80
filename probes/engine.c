/*
 * The probe engine behind probes/probe.h: schedules a TCP connect to every
 * target of a plan once per interval on a libuv loop, resolves each host
 * name once per interval, keeps global and per-host caps, classifies each
 * outcome, applies flap control, and hands results out as per-tick batches
 * and as reference-counted snapshots. The daemon runs it periodically
 * (pw_engine_start); `portwatch check` runs one sweep (pw_engine_sweep_once).
 *
 * This file holds its life cycle: options and their defaults, creation,
 * seeding from the store, the setters, and the close that waits for every
 * handle before freeing. The subsystems live in files of their own
 * (engine_int.h lists them).
 *
 * Memory is kept proportional to what is in flight, not to the plan: per
 * target there is one pw_target_state (the current state the snapshots
 * copy) and one 16-byte scheduling slot; sockets and timers come from a
 * pool that grows only as far as the in-flight cap lets it. Queues are
 * intrusive lists threaded through the scheduling slots, so queueing a
 * target never allocates.
 */
#include "probes/engine_int.h"

#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void eng_log(struct pw_engine *e, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pw_vlog_to(e->log_cb, e->log_ud, NULL, level, fmt, ap);
    va_end(ap);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct pw_engine *e = h->data;
    e->open_handles--;
    eng_maybe_finish(e);
}

static void engine_free(struct pw_engine *e)
{
    struct probe *p = e->all_probes;
    while (p) {
        struct probe *n = p->next_all;
        free(p->x);
        free(p);
        p = n;
    }
    eng_groups_free(e);
    free(e->follow);
    free(e->lanes);
    free(e->held);
    if (e->wbox != e->snap)
        eng_snap_unref(e->wbox);
    eng_snap_unref(e->snap);
    uv_mutex_destroy(&e->snap_lock);
    free(e->res);
    free(e->res_spare);
    free(e->ring.v);
    free(e->quiet.v);
    free(e->hosts);
    free(e->sl);
    free(e->proto);
    free(e);
}

void eng_maybe_finish(struct pw_engine *e)
{
    if (!e->closing || e->open_handles != 0 || e->pending_dns != 0)
        return;
    pw_engine_done_cb cb = e->close_cb;
    void *ud = e->close_ud;
    if (cb)
        cb(e, ud);
    engine_free(e);
}

static void on_dialer_closed(void *ud)
{
    struct pw_engine *e = ud;
    e->dialer = NULL;
    e->open_handles--;
    eng_maybe_finish(e);
}

static void close_handle(struct pw_engine *e, uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, on_handle_closed);
}

void pw_engine_close(struct pw_engine *e, pw_engine_done_cb done, void *ud)
{
    if (!e || e->closing)
        return;
    /* Closing first: a batch callback that calls close again is a no-op. */
    e->closing = true;
    e->close_cb = done;
    e->close_ud = ud;
    eng_flush(e);
    eng_maybe_publish(e, true);
    close_handle(e, (uv_handle_t *)&e->sched);
    close_handle(e, (uv_handle_t *)&e->fd_timer);
    close_handle(e, (uv_handle_t *)&e->pub_timer);
    close_handle(e, (uv_handle_t *)&e->check);
    close_handle(e, (uv_handle_t *)&e->kick);
    close_handle(e, (uv_handle_t *)&e->pump_idle);
    for (uint32_t h = 0; h < e->nhosts; h++)
        if (e->hosts[h].req)
            uv_cancel((uv_req_t *)&e->hosts[h].req->req);
    for (struct probe *p = e->all_probes; p; p = p->next_all) {
        p->finished = true; /* the connect callback sees ECANCELED: no result */
        p->exchanging = false;
        if (p->tcp_open && !uv_is_closing((uv_handle_t *)&p->tcp))
            uv_close((uv_handle_t *)&p->tcp, eng_on_probe_closed);
        if (p->dialing) {
            e->opt.dialer->hangup(e->dialer, &p->dial);
            p->dialing = false;
        }
        p->lane = NULL;
    }
    for (uint32_t i = 0; i < e->nlanes; i++) {
        e->lanes[i].timer.data = e; /* closed through the generic callback */
        close_handle(e, (uv_handle_t *)&e->lanes[i].timer);
    }
    if (e->dialer)
        e->opt.dialer->close(e->dialer, on_dialer_closed, e);
}

/* Lowers max_in_flight so that probe sockets leave PW_ENGINE_FD_RESERVE
 * descriptors of fd_limit to the rest of the process (the HTTP API, the
 * database, name lookups). Each probe holds at most one socket, and the
 * dialer's spares never outnumber the most probes in flight at once. */
static void fd_budget(struct pw_engine *e)
{
    uint32_t lim = e->opt.fd_limit;
    if (lim == 0)
        return;
    uint32_t budget = lim > PW_ENGINE_FD_RESERVE + 1 ? lim - PW_ENGINE_FD_RESERVE : 1;
    if (budget < e->opt.max_in_flight) {
        e->fd_capped_from = e->opt.max_in_flight;
        e->opt.max_in_flight = budget;
    }
}

void eng_say_fd_budget(struct pw_engine *e)
{
    if (e->fd_capped_from == 0 || e->fd_cap_said)
        return;
    e->fd_cap_said = true;
    eng_log(e, PW_LOG_WARN,
            "fd limit %u allows %u probes in flight (max_in_flight %u); raise "
            "LimitNOFILE / ulimit -n to at least %u",
            e->opt.fd_limit, e->opt.max_in_flight, e->fd_capped_from,
            e->fd_capped_from + PW_ENGINE_FD_RESERVE);
}

/* A field left 0 takes the configuration's default: the key table in
 * config/config.c is the one home of each default, and a configuration
 * holding only defaults reads them from it. False when out of memory. */
static bool engine_options(struct pw_engine_options *o)
{
    struct pw_config *def = pw_config_new();
    if (!def)
        return false;
    const struct pw_settings *s = &def->s;
    if (o->interval_ms <= 0)
        o->interval_ms = s->interval_ms;
    if (o->timeout_ms <= 0)
        o->timeout_ms = s->timeout_ms;
    if (o->max_in_flight == 0)
        o->max_in_flight = (uint32_t)s->max_in_flight;
    if (o->max_per_host == 0)
        o->max_per_host = (uint32_t)s->max_per_host;
    if (o->fail_after == 0)
        o->fail_after = (uint32_t)s->fail_after;
    if (o->recover_after == 0)
        o->recover_after = (uint32_t)s->recover_after;
    if ((unsigned)o->family >= PW_FAMILY_COUNT_)
        o->family = (enum pw_family)s->family;
    pw_config_free(def);
    return true;
}

struct pw_engine *pw_engine_new(uv_loop_t *loop, const struct pw_plan *plan,
                                const struct pw_engine_options *opt)
{
    if (!loop || !plan || plan->ntargets >= NIL || plan->nhosts >= NIL)
        return NULL;
    struct pw_engine *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    if (uv_mutex_init(&e->snap_lock) != 0) {
        free(e);
        return NULL;
    }
    e->loop = loop;
    e->plan = plan;
    if (opt)
        e->opt = *opt;
    if (!engine_options(&e->opt)) {
        engine_free(e); /* no handle exists yet */
        return NULL;
    }
    fd_budget(e);
    size_t n = plan->ntargets;
    e->nhosts = (uint32_t)plan->nhosts;
    e->sl = calloc(n ? n : 1, sizeof *e->sl);
    e->hosts = calloc(e->nhosts ? e->nhosts : 1, sizeof *e->hosts);
    e->ring.v = calloc(e->nhosts ? e->nhosts : 1, sizeof *e->ring.v);
    e->quiet.v = calloc(e->nhosts ? e->nhosts : 1, sizeof *e->quiet.v);
    e->proto = calloc(n ? n : 1, 1);
    if (eng_snap_init(e) != 0 || !e->sl || !e->hosts || !e->ring.v || !e->quiet.v ||
        !e->proto) {
        engine_free(e); /* no handle exists yet */
        return NULL;
    }
    for (size_t t = 0; t < n; t++) {
        e->sl[t].next = NIL;
        e->proto[t] = e->opt.no_verify ? PW_PROTO_NONE
                                       : (uint8_t)pw_proto_default(plan, (uint32_t)t);
    }
    for (uint32_t h = 0; h < e->nhosts; h++)
        eng_host_init(e, h);
    if (eng_lanes_build(e) != 0) {
        engine_free(e);
        return NULL;
    }
    /* These cannot fail for a valid loop. */
    uv_timer_init(loop, &e->sched);
    uv_timer_init(loop, &e->fd_timer);
    uv_timer_init(loop, &e->pub_timer);
    uv_check_init(loop, &e->check);
    uv_idle_init(loop, &e->kick);
    uv_idle_init(loop, &e->pump_idle);
    e->sched.data = e->fd_timer.data = e->pub_timer.data = e->check.data = e;
    e->kick.data = e->pump_idle.data = e;
    e->open_handles = 6 + e->nlanes;
    if (e->opt.dialer && (e->dialer = e->opt.dialer->open(loop)) != NULL)
        e->open_handles++;
    return e;
}

void pw_engine_set_batch_cb(struct pw_engine *e, pw_engine_batch_cb cb, void *ud)
{
    e->batch_cb = cb;
    e->batch_ud = ud;
}

void pw_engine_set_log(struct pw_engine *e, pw_log_sink cb, void *ud)
{
    e->log_cb = cb;
    e->log_ud = ud;
}

void pw_engine_seed_state(struct pw_engine *e, uint32_t target,
                          const struct pw_target_state *st)
{
    if (!e || !st || target >= e->plan->ntargets)
        return;
    struct pw_target_state *ts = eng_state_begin(e, target);
    if (!ts)
        return; /* out of memory: left unknown */
    *ts = *st;
    ts->detail[PW_DETAIL_MAX - 1] = '\0';
    if ((unsigned)ts->status > PW_STATUS_DOWN)
        ts->status = PW_STATUS_UNKNOWN;
    if ((unsigned)ts->state >= PW_STATE_COUNT_)
        ts->state = PW_STATE_ERROR;
    if ((unsigned)ts->verify >= PW_VERIFY_COUNT_)
        ts->verify = PW_VERIFY_NONE;
    ts->verify_info[PW_VERIFY_INFO_MAX - 1] = '\0';
    eng_state_end(e);
    e->sl[target].passes = st->has_result && st->ok ? 1 : 0;
}

void pw_engine_seed_stats(struct pw_engine *e, const struct pw_engine_stats *st)
{
    if (!e || !st)
        return;
    struct pw_engine_stats *o = &e->stats;
    for (int i = 0; i < PW_STATE_COUNT_; i++)
        o->probes[i] += st->probes[i];
    o->sweeps += st->sweeps;
    o->overruns += st->overruns;
    o->skipped += st->skipped;
    o->fd_waits += st->fd_waits;
    o->dns_lookups += st->dns_lookups;
    o->outages += st->outages;
    if (o->last_sweep_ms == 0) {
        o->last_sweep_ms = st->last_sweep_ms;
        o->last_sweep_duration_ms = st->last_sweep_duration_ms;
    }
    e->dirty = true;
}

int pw_engine_set_protocol(struct pw_engine *e, uint32_t target, enum pw_proto proto)
{
    if (!e || target >= e->plan->ntargets || (unsigned)proto >= PW_PROTO_COUNT_)
        return PW_EINVAL;
    e->proto[target] = (uint8_t)proto;
    return 0;
}
