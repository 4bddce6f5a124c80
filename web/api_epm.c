/*
 * GET /api/v1/rpc/endpoints: what the daemon's endpoint watch last read
 * from each host's RPC endpoint mapper, each endpoint beside the target
 * that probes its port.
 */
#include "web/api.h"

#include "base/text.h"
#include "config/values.h"
#include "probes/report.h"
#include "web/api_doc.h"
#include "web/params.h"

#include <string.h>

/* ---- /api/v1/rpc/endpoints ------------------------------------------------------- */

/* The plan index of (host, port) in the view, or -1. Targets are sorted by
 * port within their host. */
static long find_target(const struct pw_plan *p, const char *host, uint16_t port)
{
    for (size_t h = 0; h < p->nhosts; h++) {
        if (strcmp(p->hosts[h].name, host) != 0)
            continue;
        for (uint32_t i = p->hosts[h].first; i < p->hosts[h].first + p->hosts[h].n; i++)
            if (p->targets[i].port == port)
                return (long)i;
        return -1;
    }
    return -1;
}

static json_t *epm_endpoint_json(const struct pw_web_view *v, const char *host,
                                 const struct pw_epm_registration *x)
{
    const struct pw_epm_entry *e = &x->e;
    json_t *o = pw_report_epm_entry(e);
    if (!o)
        return NULL;
    json_object_set_new(o, "first_seen", pw_jtime(x->first_seen_ms));
    json_object_set_new(o, "last_seen", pw_jtime(x->last_seen_ms));
    json_object_set_new(o, "outside_range", json_boolean(x->outside_range));
    long t = e->protseq == PW_EPM_NCACN_IP_TCP && e->port
                 ? find_target(v->snap->plan, host, e->port) : -1;
    json_object_set_new(o, "target_id", t >= 0 ? json_integer(pw_api_id(v, (size_t)t)) : json_null());
    json_object_set_new(o, "status", t >= 0 ? json_string(pw_status_name(v->snap->targets[t].status))
                                            : json_null());
    return o;
}

void pw_api_rpc_endpoints(struct pw_req *r, struct pw_reply *out)
{
    const struct pw_web_sources *src = pw_req_sources(r);
    const struct pw_web_epm *ep = src->epm_acquire ? src->epm_acquire(src->ud) : NULL;
    if (!ep) {
        pw_reply_error(out, 404, "not found", "this server watches no RPC endpoint mapper "
                       "(only `portwatch run` does, for hosts probed on port 135)");
        return;
    }
    const char *want = pw_web_param(r, "host");
    json_t *hosts = json_array();
    for (size_t h = 0; h < ep->nhosts; h++) {
        const struct pw_web_epm_host *x = &ep->hosts[h];
        if (want && pw_strcasecmp(want, x->host) != 0)
            continue;
        json_t *o = json_object(), *arr = json_array();
        json_object_set_new(o, "host", json_string(x->host));
        json_object_set_new(o, "looked_up", pw_jtime(x->looked_up_ms));
        json_object_set_new(o, "from_store", json_boolean(x->from_store));
        json_object_set_new(o, "error", x->error ? json_string(x->error) : json_null());
        for (size_t i = 0; i < x->n; i++)
            json_array_append_new(arr, epm_endpoint_json(&r->view, x->host, &x->v[i]));
        json_object_set_new(o, "endpoints", arr);
        json_array_append_new(hosts, o);
    }
    src->epm_release(src->ud, ep);
    if (want && json_array_size(hosts) == 0) {
        json_decref(hosts);
        pw_reply_error(out, 404, "not found", "host '%s' is not watched: only hosts probed on "
                       "port 135 are (see /api/v1/status)", want);
        return;
    }
    json_t *doc = json_object();
    json_object_set_new(doc, "hosts", hosts);
    pw_reply_json(out, 200, doc);
}
