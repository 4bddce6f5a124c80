/*
 * The daemon's endpoint watch (issue 9): every `epm_every` intervals it
 * reads the RPC endpoint mapper of each host the plan probes on 135, one
 * host at a time, and keeps the latest read per host with when each
 * (interface, version, protocol, port) was first and last seen. The TCP
 * ports registered there become targets of the plan (as an implicit check,
 * "rpc-registered", added by pw_epm_watch_add_checks at plan-build time);
 * when a host's set of registered TCP ports changes, the watch tells the
 * daemon, which rebuilds the plan. The web threads read the reads through
 * immutable, reference-counted snapshots. Used by daemon/cmd_run.c only.
 */
#ifndef PW_EPM_WATCH_H
#define PW_EPM_WATCH_H

#include "config/config.h"
#include "web/web.h"

#include <uv.h>

struct pw_epm_watch;

/* Called on the loop thread after a round of reads in which some host's
 * registered TCP ports changed. */
typedef void (*pw_epm_watch_changed_cb)(void *ud);

/* A watch on `loop` watching nothing yet. Returns NULL out of memory. */
struct pw_epm_watch *pw_epm_watch_new(uv_loop_t *loop, pw_epm_watch_changed_cb changed, void *ud);

/* Watches the hosts `plan` probes on 135, every c's interval x epm_every,
 * flagging TCP ports outside c's secondary RPC range. Hosts kept from the
 * previous plan keep what was read from them. The first round starts at
 * once when nothing was watched before. Call after every plan change. */
void pw_epm_watch_configure(struct pw_epm_watch *w, const struct pw_config *c,
                            const struct pw_plan *plan);

/* Appends to c one check per host of `base` probed on 135 with TCP ports
 * registered at its mapper (other than 135): those ports, expected
 * listening, named "rpc-registered", the interfaces named in its reason.
 * The caller drops them with pw_config_drop_checks after building the
 * plan. Returns the number added, or a negative error (none left added). */
int pw_epm_watch_add_checks(const struct pw_epm_watch *w, struct pw_config *c,
                            const struct pw_plan *base);

/* The latest reads, for the web threads (thread-safe); never NULL once a
 * watch exists, except out of memory. */
const struct pw_web_epm *pw_epm_watch_acquire(struct pw_epm_watch *w);
void pw_epm_watch_release(const struct pw_web_epm *e);

/* Stops reading; the watch is freed once a read in flight ends (its own
 * timeout bounds that). Snapshots still held stay valid. NULL: no-op. */
void pw_epm_watch_close(struct pw_epm_watch *w);

#endif
