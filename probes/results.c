/*
 * What becomes of one probe's outcome (engine_int.h): flap control turns
 * results into an up/down status (fail_after, recover_after), counters
 * count them, and the results of one loop tick leave in one batch through
 * the batch callback (the store's writer), flushed from a check handle so
 * a tick's results go out together. A one-shot sweep's done callback runs
 * from the same place, after the last batch.
 */
#include "probes/engine_int.h"

#include "base/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void eng_flush(struct pw_engine *e)
{
    if (e->nres == 0)
        return;
    /* Swap buffers first: the callback may start a sweep that records
     * results at once, and close() must not deliver these twice. */
    struct pw_result *r = e->res;
    size_t n = e->nres, cap = e->cap_res;
    e->res = e->res_spare;
    e->cap_res = e->cap_spare;
    e->nres = 0;
    e->res_spare = r;
    e->cap_spare = cap;
    if (e->batch_cb)
        e->batch_cb(e->batch_ud, r, n);
}

static void on_kick(uv_idle_t *i)
{
    (void)i;
}

static void on_check(uv_check_t *c)
{
    struct pw_engine *e = c->data;
    uv_check_stop(c);
    uv_idle_stop(&e->kick);
    eng_flush(e);
    if (e->closing)
        return;
    bool done = e->once_complete;
    eng_maybe_publish(e, done);
    if (done) {
        e->once_complete = false;
        e->mode = MODE_IDLE;
        pw_engine_done_cb cb = e->once_cb;
        e->once_cb = NULL;
        if (cb)
            cb(e, e->once_ud);
    }
}

/* Results recorded outside the loop's poll phase (synchronously in
 * sweep_once, or in a check callback) would otherwise wait for the next
 * I/O event; the idle handle makes the poll return at once. */
void eng_want_flush(struct pw_engine *e)
{
    if (!e->closing && !uv_is_active((uv_handle_t *)&e->check)) {
        uv_check_start(&e->check, on_check);
        uv_idle_start(&e->kick, on_kick);
    }
}

static void set_detail(char *dst, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= PW_DETAIL_MAX)
        n = PW_DETAIL_MAX - 1;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Records one outcome: flap control, counters, the batch buffer, and the
 * bookkeeping of the sweep the probe belonged to. A mismatch (something
 * else answered) fails a `listening` expectation: the service it names
 * does not listen there. */
void eng_record_v(struct pw_engine *e, uint32_t t, enum pw_state state, const char *detail,
                  int64_t latency_us, enum pw_verify verify, const char *vinfo)
{
    struct pw_target_state spare, *st = eng_state_begin(e, t);
    if (!st) { /* no room for the copy a reader calls for: the store still gets it */
        spare = e->ts[t];
        st = &spare;
    }
    struct tslot *sl = &e->sl[t];
    enum pw_expect expect = eng_profile(e, t)->expect;
    bool ok = pw_state_passes(state, expect) &&
              !(verify == PW_VERIFY_MISMATCH && expect == PW_EXPECT_LISTENING);
    enum pw_status prev = st->status, next = prev;
    int64_t now = pw_wall_ms();

    if (ok) {
        st->fails = 0;
        if (sl->passes < UINT16_MAX)
            sl->passes++;
        if (prev != PW_STATUS_UP &&
            (prev == PW_STATUS_UNKNOWN || sl->passes >= e->opt.recover_after))
            next = PW_STATUS_UP;
    } else {
        sl->passes = 0;
        if (st->fails < UINT32_MAX)
            st->fails++;
        if (prev != PW_STATUS_DOWN &&
            (prev == PW_STATUS_UNKNOWN || st->fails >= e->opt.fail_after))
            next = PW_STATUS_DOWN;
    }
    st->status = next;
    if (next != prev)
        st->since_ms = now;
    st->state = state;
    st->ok = ok;
    st->has_result = true;
    st->latency_us = latency_us;
    st->last_ms = now;
    set_detail(st->detail, detail);
    st->verify = verify;
    snprintf(st->verify_info, sizeof st->verify_info, "%s", vinfo ? vinfo : "");
    eng_state_end(e);
    e->stats.probes[state]++;

    /* Without a batch callback (`portwatch check`) nobody takes the
     * results: the snapshot alone carries them. */
    if (e->batch_cb && e->nres == e->cap_res) {
        size_t cap = e->cap_res ? e->cap_res * 2 : 64;
        struct pw_result *r = realloc(e->res, cap * sizeof *r);
        if (r) {
            e->res = r;
            e->cap_res = cap;
        }
    }
    if (next != prev && next == PW_STATUS_DOWN)
        e->stats.outages++;
    if (e->batch_cb && e->nres < e->cap_res) { /* out of memory: the snapshot still has it */
        struct pw_result *r = &e->res[e->nres++];
        r->target = t;
        r->state = state;
        r->ok = ok;
        r->status = next;
        r->status_changed = next != prev;
        r->latency_us = latency_us;
        r->at_ms = now;
        memcpy(r->detail, st->detail, PW_DETAIL_MAX);
        r->verify = verify;
        memcpy(r->verify_info, st->verify_info, PW_VERIFY_INFO_MAX);
        r->late_since_ms = sl->probe_late_ms;
    }
    sl->probe_late_ms = 0;
    eng_want_flush(e);

    sl->phase = T_IDLE;
    eng_cycle_done(e, t);
}

/* An outcome without a protocol exchange: none was attempted (no
 * connect) or the target has none (verify "off"). */
void eng_record(struct pw_engine *e, uint32_t t, enum pw_state state, const char *detail,
                int64_t latency_us)
{
    eng_record_v(e, t, state, detail, latency_us,
             state == PW_STATE_OPEN ? PW_VERIFY_OFF : PW_VERIFY_NONE, "");
}
