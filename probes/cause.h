/*
 * Why a target is in its state, in an operator's words: what happened and
 * what it means. The one home of that text: the daemon's log lines, and
 * any other place that names a cause, write it through here.
 */
#ifndef PW_CAUSE_H
#define PW_CAUSE_H

#include "probes/probe.h"

#include <stddef.h>


/* The cause of one outcome, written into buf (always terminated): the
 * state's meaning, with the resolver's or the OS's detail where there is
 * one; for a connection that was accepted, what the protocol exchange
 * found, naming the service the target should be (`service`, e.g. "SQL
 * Server"; NULL when none is known): "wrong service: an HTTP server
 * answered (...), not SQL Server". Returns buf. */
char *pw_cause_format(enum pw_state state, enum pw_verify verify, const char *verify_info,
                      const char *detail, const char *service, char *buf, size_t len);

/* The cause of one outcome as one word, for grouping outages into
 * incidents and the API's "cause": "refused", "filtered", "unreachable",
 * "dns_error", "error"; for an accepted connection "mismatch" (something
 * else answered), "no_reply", or "open" (a port expected closed). */
const char *pw_cause_key(enum pw_state state, enum pw_verify verify);

/* The service target t of plan p should answer with, for a cause's "not
 * X": the catalog row's ("SQL Server"), else the one its protocol proves
 * (a check with protocol = tds), else NULL. */
const char *pw_target_service(const struct pw_plan *p, uint32_t t);

#endif
