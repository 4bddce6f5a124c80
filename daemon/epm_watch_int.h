/*
 * What the endpoint watch's two files share (daemon/epm_watch.c: life, the
 * round of reads, configuration and the plan's input; epm_watch_hosts.c:
 * what each host's mapper said, merged, seeded from the store and
 * published as snapshots). Cross-file names start with ew_. Loop thread
 * only, but for the snapshot pointer under `lock`.
 */
#ifndef PW_EPM_WATCH_INT_H
#define PW_EPM_WATCH_INT_H

#include "daemon/epm_watch.h"

#include "base/error.h"
#include "base/log.h"
#include "probes/epm.h"

#include <stdatomic.h>
#include <stdbool.h>

#define EPM_PORT 135

/* One watched host: its latest read (or the stored one) and what the
 * plan needs of it. */
struct whost {
    char *name;
    struct pw_epm_registration *v;
    size_t n;
    int64_t looked_ms;
    bool from_store;   /* v is the stored read; no live one completed yet */
    char *err;
    uint16_t *ports;   /* registered TCP ports but 135, sorted, unique */
    size_t nports;
    char *reason;      /* the plan's reason for them: the interfaces named */
};

/* A published snapshot: the public part first, so release can find the
 * whole from it. */
struct snap {
    struct pw_web_epm pub;
    atomic_uint refs;
    struct pw_web_epm_host *hosts;
};

struct pw_epm_watch {
    uv_loop_t *loop;
    struct pw_store *store;          /* NULL: in memory only */
    struct pw_store_epm_host *stored; /* the store's reads, until the first configure */
    size_t nstored;
    struct pw_epm_dump *dump;        /* the read in flight, for the cancel */
    uv_timer_t timer;
    uv_getaddrinfo_t gai;
    uv_mutex_t lock;       /* cur */
    struct snap *cur;
    struct whost *hosts;
    size_t nhosts;
    struct pw_portset range;
    int64_t period_ms, timeout_ms;
    int family;
    pw_epm_watch_changed_cb changed_cb;
    void *ud;
    pw_log_sink log;
    void *log_ud;
    pw_epm_watch_done_cb done; /* pw_epm_watch_close's */
    void *done_ud;
    char *reading;         /* host of the read in flight, or NULL */
    size_t next;           /* next host of the round */
    bool busy, resolving, changed, started, closing, timer_closed, put_failed;
};

/* ---- epm_watch.c ---- */
void ew_log(struct pw_epm_watch *w, int level, const char *fmt, ...) PW_PRINTF(3, 4);

/* ---- epm_watch_hosts.c ---- */
/* Copies the hosts' state into a new snapshot and makes it current. Out of
 * memory, the previous one stays. */
void ew_publish(struct pw_epm_watch *w);
/* The watched host of that name, or NULL. */
struct whost *ew_host_named(struct pw_epm_watch *w, const char *name);
/* Whether e is a registered TCP port outside range (135 never is). */
bool ew_outside(const struct pw_portset *range, const struct pw_epm_entry *e);
/* A complete or failed read of host `name` merged into its host. */
void ew_merge(struct pw_epm_watch *w, const char *name, const struct pw_epm_result *r);
/* The read of host `name` could not be made (err: UV_E* or pw_err). */
void ew_read_failed(struct pw_epm_watch *w, const char *name, int err);
/* A host new to the watch starts from the store's latest read of it. */
void ew_seed_host(struct pw_epm_watch *w, struct whost *h, const struct pw_portset *range);
void ew_host_free(struct whost *h);
/* Drops the snapshot the watch holds (at its end). */
void ew_snap_drop(struct pw_epm_watch *w);

#endif
