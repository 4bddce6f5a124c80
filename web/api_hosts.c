/*
 * GET /api/v1/hosts: the farm summarised server-side for the dashboard
 * (issue 21: 100,000 targets on 500 hosts). Per host and per (host, role)
 * the targets counted in four sets that never overlap (down; failing, not
 * yet down; not yet probed; passing), the same counts for the farm, the
 * probe schedules with how fresh their results are, and the targets in
 * trouble (down, failing, in maintenance) in full, at most TROUBLE_MAX.
 * The rule for which set a target is in is pw_api_in_trouble's: a target
 * whose status is unknown counts as not yet probed, whatever it carries;
 * a status beyond up, down and unknown (the "maintenance" of a target
 * failing inside a maintenance window) is its own set.
 */
#include "web/api_hosts.h"

#include "web/api_doc.h"
#include "web/maintenance.h"

#include <stdlib.h>
#include <string.h>

/* Enough for every failing target of a farm in a bad hour; past it the
 * dashboard says how many it does not list. */
#define TROUBLE_MAX 5000

enum set { SET_DOWN, SET_FAILING, SET_MAINT, SET_UNKNOWN, SET_PASSING, SET_COUNT_ };

static const char *const set_names[SET_COUNT_] = {
    [SET_DOWN] = "down", [SET_FAILING] = "failing", [SET_MAINT] = "maintenance",
    [SET_UNKNOWN] = "unknown", [SET_PASSING] = "passing"};

static enum set set_of(const struct pw_web_view *v, size_t i)
{
    const struct pw_target_state *t = &v->snap->targets[i];
    if (pw_web_in_maintenance(v, i))
        return SET_MAINT;
    if (t->status == PW_STATUS_DOWN)
        return SET_DOWN;
    if (t->status == PW_STATUS_UP)
        return pw_api_failing_now(t) ? SET_FAILING : SET_PASSING;
    return SET_UNKNOWN;
}

static json_t *counts_json(const size_t c[SET_COUNT_])
{
    json_t *o = json_object();
    size_t n = 0;
    for (int k = 0; k < SET_COUNT_; k++) {
        json_object_set_new(o, set_names[k], json_integer((json_int_t)c[k]));
        n += c[k];
    }
    json_object_set_new(o, "targets", json_integer((json_int_t)n));
    return o;
}

/* The plan's role keys, each once, in first-seen order; role_of[p][k] is
 * the index of profile p's k-th role in that list. */
struct roles {
    const char **keys;
    size_t n;
    size_t **role_of;
};

static void roles_free(struct roles *rl, size_t nprofiles)
{
    for (size_t p = 0; rl->role_of && p < nprofiles; p++)
        free(rl->role_of[p]);
    free(rl->role_of);
    free(rl->keys);
}

static int roles_collect(const struct pw_plan *pl, struct roles *rl)
{
    size_t cap = 0;
    for (size_t p = 0; p < pl->nprofiles; p++)
        cap += pl->profiles[p].nroles;
    rl->n = 0;
    rl->keys = malloc((cap ? cap : 1) * sizeof *rl->keys);
    rl->role_of = calloc(pl->nprofiles ? pl->nprofiles : 1, sizeof *rl->role_of);
    if (!rl->keys || !rl->role_of)
        return -1;
    for (size_t p = 0; p < pl->nprofiles; p++) {
        const struct pw_profile *pf = &pl->profiles[p];
        rl->role_of[p] = malloc((pf->nroles ? pf->nroles : 1) * sizeof **rl->role_of);
        if (!rl->role_of[p])
            return -1;
        for (size_t k = 0; k < pf->nroles; k++) {
            size_t j = 0;
            while (j < rl->n && strcmp(rl->keys[j], pf->roles[k]) != 0)
                j++;
            if (j == rl->n)
                rl->keys[rl->n++] = pf->roles[k];
            rl->role_of[p][k] = j;
        }
    }
    return 0;
}

/* One host: its counts, its worst set, and its counts per role it serves. */
static json_t *host_json(const struct pw_web_view *v, const struct pw_host *ho,
                         const struct roles *rl, size_t (*per_role)[SET_COUNT_],
                         size_t farm[SET_COUNT_])
{
    const struct pw_plan *pl = v->snap->plan;
    size_t c[SET_COUNT_] = {0};
    memset(per_role, 0, rl->n * sizeof *per_role);
    for (uint32_t i = ho->first; i < ho->first + ho->n; i++) {
        enum set s = set_of(v, i);
        const struct pw_target *t = &pl->targets[i];
        c[s]++;
        farm[s]++;
        for (size_t k = 0; k < pl->profiles[t->profile].nroles; k++)
            per_role[rl->role_of[t->profile][k]][s]++;
    }
    json_t *o = json_object(), *roles = json_object();
    json_object_set_new(o, "name", json_string(ho->name));
    json_object_set_new(o, "counts", counts_json(c));
    for (size_t j = 0; j < rl->n; j++) {
        size_t n = 0;
        for (int k = 0; k < SET_COUNT_; k++)
            n += per_role[j][k];
        if (n)
            json_object_set_new(roles, rl->keys[j], counts_json(per_role[j]));
    }
    json_object_set_new(o, "roles", roles);
    return o;
}

/* Probe schedules: targets sharing an interval (the RPC range apart, as
 * it runs on its own rolling period), with the newest and oldest result
 * among them: every result is fresh when the oldest is younger than the
 * interval. One line per schedule, so a 1-minute check never reads as
 * the farm's sweep. */
static json_t *schedules_json(const struct pw_snapshot *s)
{
    const struct pw_plan *pl = s->plan;
    struct sched {
        int64_t interval_ms, newest, oldest;
        int rpc_range;
        size_t n, probed;
    } *v = calloc(pl->nprofiles ? pl->nprofiles : 1, sizeof *v);
    size_t nv = 0;
    json_t *a = json_array();
    if (!v)
        return a;
    for (size_t i = 0; i < s->ntargets; i++) {
        const struct pw_profile *pf = &pl->profiles[pl->targets[i].profile];
        int rr = pf->rpc_range != 0;
        size_t j = 0;
        while (j < nv && !(v[j].interval_ms == pf->interval_ms && v[j].rpc_range == rr))
            j++;
        if (j == nv)
            v[nv++] = (struct sched){pf->interval_ms, 0, INT64_MAX, rr, 0, 0};
        int64_t at = s->targets[i].last_ms;
        v[j].n++;
        if (at > 0) {
            v[j].probed++;
            v[j].newest = at > v[j].newest ? at : v[j].newest;
            v[j].oldest = at < v[j].oldest ? at : v[j].oldest;
        }
    }
    for (size_t j = 0; j < nv; j++) {
        json_t *o = json_object();
        json_object_set_new(o, "interval_ms", json_integer(v[j].interval_ms));
        json_object_set_new(o, "rpc_range", json_boolean(v[j].rpc_range));
        json_object_set_new(o, "targets", json_integer((json_int_t)v[j].n));
        json_object_set_new(o, "probed", json_integer((json_int_t)v[j].probed));
        json_object_set_new(o, "newest_result_at", pw_jtime(v[j].newest));
        json_object_set_new(o, "oldest_result_at", pw_jtime(v[j].probed ? v[j].oldest : 0));
        json_array_append_new(a, o);
    }
    free(v);
    return a;
}

/* Targets in trouble, down first, then failing, then in maintenance, in
 * plan order. */
static json_t *trouble_json(const struct pw_web_view *v, size_t *left_off)
{
    json_t *a = json_array();
    size_t n = 0;
    *left_off = 0;
    for (int want = SET_DOWN; want <= SET_MAINT; want++) {
        for (size_t i = 0; i < v->snap->ntargets; i++) {
            if (set_of(v, i) != (enum set)want)
                continue;
            if (n++ < TROUBLE_MAX)
                json_array_append_new(a, pw_api_target_json(v, i, false));
            else
                (*left_off)++;
        }
    }
    return a;
}

static json_t *hosts_doc(const struct pw_web_view *v, struct pw_store *st)
{
    const struct pw_snapshot *s = v->snap;
    const struct pw_plan *pl = s->plan;
    struct roles rl = {0};
    size_t (*per_role)[SET_COUNT_] = NULL;
    if (roles_collect(pl, &rl) != 0 ||
        !(per_role = malloc((rl.n ? rl.n : 1) * sizeof *per_role))) {
        roles_free(&rl, pl->nprofiles);
        return NULL;
    }
    size_t farm[SET_COUNT_] = {0}, left_off;
    json_t *doc = json_object(), *hosts = json_array(), *roles = json_array();
    for (size_t h = 0; h < pl->nhosts; h++)
        json_array_append_new(hosts, host_json(v, &pl->hosts[h], &rl, per_role, farm));
    for (size_t j = 0; j < rl.n; j++)
        json_array_append_new(roles, json_string(rl.keys[j]));
    json_t *sum = counts_json(farm);
    json_object_set_new(sum, "hosts", json_integer((json_int_t)pl->nhosts));
    json_object_set_new(sum, "interval_ms", pw_api_shortest_interval(pl));
    json_object_set_new(sum, "storage", pw_api_storage_json(st));
    json_object_set_new(sum, "last_sweep", pw_api_sweep_json(&s->stats));
    json_object_set_new(doc, "instance", pw_api_identity_json(pl));
    json_object_set_new(doc, "snapshot_at", pw_jtime(s->taken_ms));
    json_object_set_new(doc, "summary", sum);
    json_object_set_new(doc, "schedules", schedules_json(s));
    json_object_set_new(doc, "roles", roles);
    json_object_set_new(doc, "hosts", hosts);
    json_object_set_new(doc, "trouble", trouble_json(v, &left_off));
    json_object_set_new(doc, "trouble_left_off", json_integer((json_int_t)left_off));
    free(per_role);
    roles_free(&rl, pl->nprofiles);
    return doc;
}

void pw_api_hosts(struct pw_req *r, struct pw_reply *out)
{
    json_t *doc = hosts_doc(&r->view, pw_req_store(r));
    if (!doc) {
        pw_reply_error(out, 503, "unavailable", "out of memory building the host summary");
        return;
    }
    pw_reply_json(out, 200, doc);
}
