/*
 * GET /api/v1/health: the endpoint alerting systems poll, as JSON or as a
 * monitoring plugin's output (format=text, health_text.c). Its verdict is
 * one of the words of web/health.h, and the HTTP status follows the word.
 *
 * Health rule: a target is down once flap control has seen fail_after
 * consecutive failures; it counts as down (CRITICAL) when that lasted at
 * least min_duration, and as failing (WARNING) while it is younger or
 * while it is up but its last probe failed. A target not yet probed does
 * not fail: right after a start every target is unknown, and an alert
 * then would be noise; only when no target in scope has been probed is
 * the verdict UNKNOWN. Storage degraded or missing (for min_duration) is
 * UNKNOWN too: the history portwatch is there to keep is not kept.
 */
#include "web/health.h"

#include "base/clock.h"
#include "base/text.h"
#include "config/values.h"
#include "web/api.h"
#include "web/params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *pw_word_name(enum pw_word w)
{
    static const char *const names[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};
    return (unsigned)w < 4 ? names[w] : "UNKNOWN";
}

unsigned pw_word_http(enum pw_word w)
{
    static const unsigned codes[] = {200, 424, 503, 500};
    return (unsigned)w < 4 ? codes[w] : 500;
}

/* The troubled targets in scope and the counts: unscoped (the usual
 * poll) from the shared scan of this snapshot. */
static int scan_targets(struct pw_req *r, const struct pw_scope *sc, struct pw_health *hv)
{
    const struct pw_snapshot *s = r->view.snap;
    if (!sc->host && !sc->role) {
        hv->checked = s->ntargets;
        return pw_req_down_list(r, &hv->trouble, &hv->ntrouble, &hv->tally);
    }
    hv->trouble = malloc((s->ntargets ? s->ntargets : 1) * sizeof *hv->trouble);
    if (!hv->trouble)
        return PW_ENOMEM;
    for (size_t i = 0; i < s->ntargets; i++) {
        const struct pw_target_state *t = &s->targets[i];
        if (!pw_scope_has(&r->view, i, sc))
            continue;
        hv->checked++;
        if ((unsigned)t->status < 3)
            hv->tally.status[t->status]++;
        if (t->has_result && (unsigned)t->state < PW_STATE_COUNT_)
            hv->tally.state[t->state]++;
        if (pw_api_in_trouble(t))
            hv->trouble[hv->ntrouble++] = (uint32_t)i;
    }
    return 0;
}

/* Endpoints registered outside the RPC range, on hosts in scope. */
static size_t count_outside(struct pw_req *r, const struct pw_scope *sc)
{
    const struct pw_web_sources *src = pw_req_sources(r);
    const struct pw_web_epm *ep = src->epm_acquire ? src->epm_acquire(src->ud) : NULL;
    if (!ep)
        return 0;
    size_t n = 0;
    for (size_t h = 0; h < ep->nhosts; h++) {
        if (sc->host && pw_strcasecmp(sc->host, ep->hosts[h].host) != 0)
            continue;
        for (size_t i = 0; i < ep->hosts[h].n; i++)
            n += ep->hosts[h].v[i].outside_range;
    }
    src->epm_release(src->ud, ep);
    return n;
}

static void judge(struct pw_req *r, struct pw_health *hv)
{
    const struct pw_snapshot *s = r->view.snap;
    hv->maintenance = pw_api_maint_drop(&r->view, hv->trouble, &hv->ntrouble);
    for (size_t k = 0; k < hv->ntrouble; k++) {
        const struct pw_target_state *t = &s->targets[hv->trouble[k]];
        if (t->status != PW_STATUS_DOWN)
            hv->failing++;
        else if (r->now_ms - t->since_ms < hv->min_ms)
            hv->young++;
        else
            hv->down++;
    }
    hv->st = pw_req_store(r);
    hv->storage_fails = true;
    if (hv->st) {
        pw_store_health(hv->st, &hv->h);
        hv->storage_fails =
            hv->h.state != PW_STORE_OK && r->now_ms - hv->h.since_ms >= hv->min_ms;
    }
    if (hv->down)
        hv->word = PW_WORD_CRITICAL;
    else if (hv->storage_fails || hv->tally.status[PW_STATUS_UNKNOWN] == hv->checked)
        hv->word = PW_WORD_UNKNOWN;
    else if (hv->young || hv->failing || hv->outside)
        hv->word = PW_WORD_WARNING;
    else
        hv->word = PW_WORD_OK;
}

static void reply_json(struct pw_req *r, const struct pw_health *hv, struct pw_reply *out)
{
    const struct pw_snapshot *s = r->view.snap;
    json_t *doc = json_object(), *fails = json_array();
    for (size_t k = 0; k < hv->ntrouble; k++) {
        size_t i = hv->trouble[k];
        int64_t age = r->now_ms - s->targets[i].since_ms;
        if (s->targets[i].status != PW_STATUS_DOWN || age < hv->min_ms)
            continue;
        json_t *j = pw_api_target_json(&r->view, i, true);
        json_object_set_new(j, "down_for_ms", json_integer(age > 0 ? age : 0));
        json_array_append_new(fails, j);
    }
    char word[16];
    snprintf(word, sizeof word, "%s", pw_word_name(hv->word));
    for (char *c = word; *c; c++)
        *c = (char)(*c - 'A' + 'a');
    json_object_set_new(doc, "status", json_string(word));
    json_object_set_new(doc, "checked", json_integer((json_int_t)hv->checked));
    json_object_set_new(doc, "down", json_integer((json_int_t)hv->down));
    json_object_set_new(doc, "down_below_min_duration", json_integer((json_int_t)hv->young));
    json_object_set_new(doc, "failing", json_integer((json_int_t)hv->failing));
    json_object_set_new(doc, "maintenance", json_integer((json_int_t)hv->maintenance));
    json_object_set_new(doc, "unknown",
                        json_integer((json_int_t)hv->tally.status[PW_STATUS_UNKNOWN]));
    json_object_set_new(doc, "endpoints_outside_range", json_integer((json_int_t)hv->outside));
    json_t *sj = pw_api_storage_json(hv->st);
    json_object_set_new(sj, "failing", json_boolean(hv->storage_fails));
    json_object_set_new(doc, "storage", sj);
    json_object_set_new(doc, "last_sweep", pw_api_sweep_json(&s->stats));
    json_object_set_new(doc, "snapshot_at", pw_jtime(s->taken_ms));
    json_object_set_new(doc, "failures", fails);
    pw_reply_json(out, pw_word_http(hv->word), doc);
}

void pw_api_health(struct pw_req *r, struct pw_reply *out)
{
    struct pw_scope sc;
    struct pw_health hv = {0};
    if (pw_scope_parse(r, false, &sc, out) != 0 ||
        pw_web_param_duration(r, "min_duration", 0, 366 * PW_DAY_MS, &hv.min_ms, out) != 0)
        return;
    const char *fmt = pw_web_param(r, "format");
    if (fmt && strcmp(fmt, "text") != 0 && strcmp(fmt, "json") != 0) {
        char shown[32];
        pw_reply_error(out, 400, "bad parameter", "format: '%s' is not a format; use json or text",
                       pw_shown(fmt, shown, sizeof shown));
        return;
    }
    if (scan_targets(r, &sc, &hv) != 0) {
        pw_reply_error(out, 503, "unavailable", "out of memory");
        return;
    }
    hv.outside = sc.role ? 0 : count_outside(r, &sc);
    judge(r, &hv);
    if (fmt && strcmp(fmt, "text") == 0)
        pw_health_text(r, &sc, &hv, out);
    else
        reply_json(r, &hv, out);
    free(hv.trouble);
}
