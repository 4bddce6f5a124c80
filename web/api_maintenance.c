/*
 * Maintenance windows in the API (web/maintenance.h): GET
 * /api/v1/maintenance (the windows open now and the next occurrence of
 * each recurring one), and the pieces status, health and metrics use to
 * say that a target fails inside a window: its "maintenance" object and
 * status, the health lines naming the window, and which targets health
 * leaves out of its verdict.
 */
#include "web/maintenance.h"

#include "web/api.h"
#include "web/api_doc.h"
#include "base/text.h"

#include <stdlib.h>
#include <string.h>

const struct pw_web_window *pw_web_maint_of(const struct pw_web_view *v, size_t i)
{
    const struct pw_web_maint *m = v->maint;
    if (!m || !v->snap || m->plan != (const void *)v->snap->plan || i >= m->ntargets ||
        m->of_target[i] < 0 || (size_t)m->of_target[i] >= m->nactive)
        return NULL;
    return &m->active[m->of_target[i]];
}

bool pw_web_in_maintenance(const struct pw_web_view *v, size_t i)
{
    return pw_web_maint_of(v, i) && pw_api_in_trouble(&v->snap->targets[i]);
}

static void free_windows(struct pw_web_window *w, size_t n)
{
    for (size_t i = 0; w && i < n; i++) {
        free(w[i].name);
        free(w[i].reason);
        free(w[i].hosts);
        free(w[i].roles);
    }
    free(w);
}

void pw_web_maint_free(struct pw_web_maint *m)
{
    if (!m)
        return;
    free_windows(m->active, m->nactive);
    free_windows(m->upcoming, m->nupcoming);
    free(m->of_target);
    free(m);
}

/* "a, b" as ["a", "b"]; "" as []. */
static json_t *list_json(const char *list)
{
    json_t *a = json_array();
    for (const char *p = list; p && *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ","), t = len;
        while (t && p[t - 1] == ' ')
            t--;
        if (t)
            json_array_append_new(a, json_stringn(p, t));
        p += len;
    }
    return a;
}

static json_t *window_json(const struct pw_web_window *w)
{
    json_t *o = json_object();
    json_object_set_new(o, "window", json_string(w->name));
    json_object_set_new(o, "reason", json_string(w->reason));
    json_object_set_new(o, "started_at", pw_jtime(w->start_ms));
    json_object_set_new(o, "ends_at", pw_jtime(w->end_ms));
    json_object_set_new(o, "hosts", list_json(w->hosts));
    json_object_set_new(o, "roles", list_json(w->roles));
    json_object_set_new(o, "source", json_string(w->cli ? "cli" : "config"));
    return o;
}

void pw_api_maintenance(struct pw_req *r, struct pw_reply *out)
{
    const struct pw_web_maint *m = r->view.maint;
    json_t *doc = json_object(), *active = json_array(), *upcoming = json_array();
    for (size_t i = 0; m && i < m->nactive; i++)
        json_array_append_new(active, window_json(&m->active[i]));
    for (size_t i = 0; m && i < m->nupcoming; i++)
        json_array_append_new(upcoming, window_json(&m->upcoming[i]));
    json_object_set_new(doc, "active", active);
    json_object_set_new(doc, "upcoming", upcoming);
    pw_reply_json(out, 200, doc);
}

void pw_api_maint_fields(json_t *o, const struct pw_web_view *v, size_t i)
{
    const struct pw_web_window *w = pw_web_maint_of(v, i);
    if (!w)
        return;
    json_t *m = json_object();
    json_object_set_new(m, "window", json_string(w->name));
    json_object_set_new(m, "reason", json_string(w->reason));
    json_object_set_new(m, "ends_at", pw_jtime(w->end_ms));
    json_object_set_new(o, "maintenance", m);
    if (pw_api_in_trouble(&v->snap->targets[i]))
        json_object_set_new(o, "status", json_string("maintenance"));
}

size_t pw_api_maint_drop(const struct pw_web_view *v, uint32_t *ids, size_t *n)
{
    size_t kept = 0, dropped = 0;
    for (size_t k = 0; k < *n; k++) {
        if (pw_web_in_maintenance(v, ids[k]))
            dropped++;
        else
            ids[kept++] = ids[k];
    }
    *n = kept;
    return dropped;
}

void pw_api_maint_text(const struct pw_web_view *v, const struct pw_scope *sc, struct pw_buf *b)
{
    const struct pw_web_maint *m = v->maint;
    for (size_t w = 0; m && w < m->nactive; w++) {
        size_t failing = 0;
        for (size_t i = 0; i < v->snap->ntargets; i++)
            failing += m->plan == (const void *)v->snap->plan && i < m->ntargets &&
                       m->of_target[i] == (int32_t)w && pw_scope_has(v, i, sc) &&
                       pw_api_in_trouble(&v->snap->targets[i]);
        if (!failing)
            continue;
        char until[32];
        pw_format_rfc3339(m->active[w].end_ms, until, sizeof until);
        pw_buf_printf(b, "maintenance %s until %s (%s): %zu failing target%s not counted\n",
                      m->active[w].name, until, m->active[w].reason, failing,
                      failing == 1 ? "" : "s");
    }
}
