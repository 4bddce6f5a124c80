/*
 * GET /api/v1/live: whether the portwatch process and its probe loop are
 * alive, apart from what they find (that is /api/v1/health). An answer
 * proves the HTTP workers run; the loop's proof is the engine's snapshot,
 * which it publishes from the loop after results come in: every target
 * is probed once per interval, so with targets in the plan a newer
 * snapshot arrives at least that often while the loop turns. A snapshot
 * older than LIVE_STALE_INTERVALS intervals (and at least LIVE_MIN_MS)
 * means the loop is stuck: 503, for a supervisor to restart the process.
 */
#include "web/api.h"

#include "web/api_doc.h"

#include <stdio.h>

#define LIVE_STALE_INTERVALS 3
#define LIVE_MIN_MS 60000

void pw_api_live(struct pw_req *r, struct pw_reply *out)
{
    const struct pw_snapshot *s = r->view.snap;
    json_t *iv = pw_api_shortest_interval(s->plan);
    int64_t interval = json_is_integer(iv) ? (int64_t)json_integer_value(iv) : 0;
    json_decref(iv);
    int64_t stale = interval * LIVE_STALE_INTERVALS;
    if (stale < LIVE_MIN_MS)
        stale = LIVE_MIN_MS;
    int64_t age = r->now_ms - s->taken_ms;
    if (age < 0)
        age = 0;
    bool idle = s->plan->ntargets == 0; /* nothing to probe: nothing to publish */
    if (!idle && age > stale) {
        pw_reply_error(out, 503, "not alive",
                       "the probe loop published its last snapshot %lld ms ago, more than "
                       "%lld ms (%d probe intervals, at least %d s): it is stuck; restart "
                       "portwatch", (long long)age, (long long)stale, LIVE_STALE_INTERVALS,
                       LIVE_MIN_MS / 1000);
        return;
    }
    json_t *doc = json_object();
    json_object_set_new(doc, "alive", json_true());
    json_object_set_new(doc, "version", json_string(PW_VERSION));
    json_object_set_new(doc, "now", pw_jtime(r->now_ms));
    json_object_set_new(doc, "snapshot_at", pw_jtime(s->taken_ms));
    json_object_set_new(doc, "snapshot_age_ms", json_integer(age));
    json_object_set_new(doc, "stale_after_ms", idle ? json_null() : json_integer(stale));
    pw_reply_json(out, 200, doc);
}
