/*
 * Incidents as documents (incident_doc.c): the JSON of GET
 * /api/v1/incidents (shapes agreed with the dashboard), their one-line
 * summaries ("sql01: the name does not resolve (203 ports)") and the
 * tasks they break. The plan, when there is one, names the service a port
 * should be ("not SQL Server") and the tasks; without one (a report read
 * from the database alone) causes say "the expected service" and tasks
 * are left out. Used by api_incidents.c, report.c and the daemon's
 * `portwatch report`.
 */
#ifndef PW_WEB_INCIDENT_DOC_H
#define PW_WEB_INCIDENT_DOC_H

#include "store/store_incidents.h"

#include <jansson.h>

/* The plan's targets by host name (ignoring case) and port: history names
 * targets by host and port, the plan by index. */
struct pw_plan_key {
    const char *host;
    uint16_t port;
    uint32_t target;
};
struct pw_plan_index {
    const struct pw_plan *plan; /* NULL: no plan */
    struct pw_plan_key *v;      /* sorted by host, then port */
    size_t n;
};
/* p may be NULL. Returns 0 or PW_ENOMEM. */
int pw_plan_index_init(struct pw_plan_index *ix, const struct pw_plan *p);
/* The plan index of host:port, or -1. */
long pw_plan_index_find(const struct pw_plan_index *ix, const char *host, uint16_t port);
void pw_plan_index_free(struct pw_plan_index *ix);

/* "Began together" for the plan: its longest interval plus timeout (the
 * spread of one sweep's detections); 0 without a plan (the store's
 * default). */
int64_t pw_incident_window(const struct pw_plan *p);

/* The cause text of one outage of an incident (as the log and the text
 * health say it), naming the service the plan expects on its port. */
void pw_incident_cause(const struct pw_store_incident_target *x, const struct pw_plan_index *ix,
                       char *buf, size_t len);

/* Incident i of l as the API shows it (NULL: out of memory); durations of
 * open incidents run to now_ms. */
json_t *pw_incident_json(const struct pw_store_incident_list *l, size_t i,
                         const struct pw_plan_index *ix, int64_t now_ms);

#endif
