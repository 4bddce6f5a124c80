/*
 * The daemon's endpoint watch (issue 9): every `epm_every` intervals it
 * reads the RPC endpoint mapper of each host the plan probes on 135, one
 * host at a time, and keeps the latest read per host with when each
 * (interface, version, protocol, port) was first and last seen. The TCP
 * ports registered there become targets of the plan through an input of
 * plan building (pw_epm_watch_registered to pw_plan_build_with: the check
 * "rpc-registered" of each host), never by editing the configuration;
 * when a host's set of registered TCP ports changes, the watch tells the
 * daemon, which rebuilds the plan. The web threads read the reads through
 * immutable, reference-counted snapshots. With a store, every complete read
 * is kept there (first and last seen per registration), and a start lists
 * each host as its latest stored read left it until the first live read.
 * Used by daemon/cmd_run.c only.
 */
#ifndef PW_EPM_WATCH_H
#define PW_EPM_WATCH_H

#include "base/log.h"
#include "config/config.h"
#include "web/web.h"

#include <uv.h>

struct pw_epm_watch;
struct pw_store;

/* Called on the loop thread after a round of reads in which some host's
 * registered TCP ports changed. */
typedef void (*pw_epm_watch_changed_cb)(void *ud);
/* Called once the watch is freed (pw_epm_watch_close). */
typedef void (*pw_epm_watch_done_cb)(void *ud);

struct pw_epm_watch_options {
    struct pw_store *store;          /* NULL: memory only */
    pw_epm_watch_changed_cb changed; /* required */
    void *ud;
    pw_log_sink log;                 /* NULL: errors and warnings to stderr */
    void *log_ud;
};

/* A watch on `loop` watching nothing yet. With a store (NULL: memory
 * only, as when the store cannot be read), it loads the stored reads now
 * (synchronously, once) for the first pw_epm_watch_configure to seed the
 * hosts it watches; each complete read is then handed to the store's
 * writer (pw_store_epm_put). The store must outlive the watch. Returns
 * NULL out of memory. */
struct pw_epm_watch *pw_epm_watch_new(uv_loop_t *loop, const struct pw_epm_watch_options *o);

/* Watches the hosts `plan` probes on 135, every c's interval x epm_every,
 * flagging TCP ports outside c's secondary RPC range. Hosts kept from the
 * previous plan keep what was read from them; at the first call, the
 * others start from the store's latest read of them (its looked_up_ms
 * kept, so the list shows its age), so pw_epm_watch_registered already
 * has their ports. The first round starts at once (on the loop's next
 * turn) when nothing was watched before. A read in flight whose host
 * left the plan is cancelled. Call after every plan change, and once
 * before building the first plan with the registered ports. */
void pw_epm_watch_configure(struct pw_epm_watch *w, const struct pw_config *c,
                            const struct pw_plan *plan);

/* The plan-building input (pw_plan_build_with) for the hosts of `base`
 * probed on 135 with TCP ports registered at their mapper (other than
 * 135): a row per host, its ports, and the interfaces named in its reason.
 * *out is a new array (free() it) whose rows borrow the watch's strings
 * and ports: use it before the loop runs again. Returns 0 (*n may be 0),
 * or PW_ENOMEM. */
int pw_epm_watch_registered(const struct pw_epm_watch *w, const struct pw_plan *base,
                            struct pw_plan_registered **out, size_t *n);

/* The latest reads, for the web threads (thread-safe); never NULL once a
 * watch exists, except out of memory. */
const struct pw_web_epm *pw_epm_watch_acquire(struct pw_epm_watch *w);
void pw_epm_watch_release(const struct pw_web_epm *e);

/* Stops reading, as pw_engine_close does: a read in flight is cancelled
 * (pw_epm_dump_cancel), so the watch is freed within a loop turn or two,
 * never waiting on a silent mapper's timeout (a name lookup already
 * running in the thread pool is waited for); done (NULL: none) is called
 * from the last close callback, after the watch is freed. Snapshots still
 * held stay valid. w NULL: no-op. */
void pw_epm_watch_close(struct pw_epm_watch *w, pw_epm_watch_done_cb done, void *ud);

#endif
