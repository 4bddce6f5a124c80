/*
 * Strict parsing of the request target and its parameters (params.c):
 * the path and query split and percent-decoded, parameters checked against
 * an endpoint's list, and the time, range and duration parameters the
 * history endpoints share. Every failure fills a 400 naming the parameter
 * and what it takes.
 */
#ifndef PW_WEB_PARAMS_H
#define PW_WEB_PARAMS_H

#include "web/req.h"

/* Splits r->raw into path and parameters, percent-decoding strictly and
 * checking UTF-8. Returns 0, or fills out with a 400 and returns -1. */
int pw_web_parse_uri(struct pw_req *r, struct pw_reply *out);
/* Refuses parameters not in allowed (NULL-terminated) and repeated ones. */
int pw_web_check_params(struct pw_req *r, const char *const *allowed, struct pw_reply *out);
const char *pw_web_param(const struct pw_req *r, const char *name);
/* from/to with defaults (to: now, from: to - def_span_ms); 400 on error. */
int pw_web_param_range(struct pw_req *r, int64_t def_span_ms, int64_t *from, int64_t *to,
                       struct pw_reply *out);
/* limit=, 1 to max: *limit is def when absent. */
int pw_web_param_limit(struct pw_req *r, long long def, long long max, long long *limit,
                       struct pw_reply *out);
/* A duration parameter; *ms untouched when absent. */
int pw_web_param_duration(struct pw_req *r, const char *name, int64_t min_ms, int64_t max_ms,
                          int64_t *ms, struct pw_reply *out);

#endif
