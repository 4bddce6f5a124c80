/*
 * portwatch's HTTP server: the read-only JSON API, the health endpoint
 * alerting systems poll, and Prometheus metrics (the README's "HTTP API"
 * section documents every endpoint). The daemon starts it with the probe
 * engine's snapshots and the history store as its sources; tests and
 * bench/web start it the same way.
 *
 * Threads: libmicrohttpd runs its own event-driven worker pool (epoll on
 * Linux, poll/select elsewhere), so a slow or idle client costs a socket,
 * never a thread. Endpoints that only read the current snapshot (status,
 * health, metrics, a target) are answered on the worker at once; endpoints
 * that query the store (history, outages, uptime) suspend their connection
 * and run on a separate query pool, so a slow query never holds a worker
 * and never delays a health poll. Nothing here runs on the probe loop.
 */
#ifndef PW_WEB_H
#define PW_WEB_H

#include "base/log.h"
#include "probes/epm.h"
#include "probes/probe.h"
#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PW_WEB_ERR_MAX 256

/* The TLS versions and ciphers HTTPS accepts unless configured otherwise
 * (GnuTLS priority string): GnuTLS's NORMAL set restricted to TLS 1.3 and
 * 1.2. TLS 1.0 and 1.1 (RFC 8996) are refused at the handshake. */
#define PW_WEB_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/* What one request reads: immutable while held. */
struct pw_web_view {
    struct pw_snapshot *snap; /* the engine's snapshot (its plan borrowed) */
    const uint32_t *ids;      /* ids[i] = store id of snap->plan->targets[i];
                                 NULL: ids are i + 1 (no store) */
    const struct pw_web_maint *maint; /* open maintenance windows (web/maintenance.h);
                                         NULL: none */
};

/* What the daemon's endpoint watch last read from each host's RPC endpoint
 * mapper (GET /api/v1/rpc/endpoints). Immutable while held. */
struct pw_web_epm_host {
    const char *host;    /* as the plan names it */
    int64_t looked_up_ms; /* 0: not read yet */
    bool from_store;     /* the list is the stored read from before this
                            start: no complete live read yet */
    const char *error;   /* NULL when the last read completed */
    const struct pw_epm_registration *v; /* probes/epm.h */
    size_t n;
};
struct pw_web_epm {
    const struct pw_web_epm_host *hosts;
    size_t nhosts;
};

/* Where the server gets its data. acquire/release are called from the
 * server's threads (any of them, concurrently) and must be thread-safe.
 * The server keeps at most one view between requests (the cached status
 * document is built from it) and releases it when a newer snapshot shows
 * up or in pw_web_stop; so whatever a view borrows (the plan, the ids)
 * must live until its release, as for any request in flight. */
struct pw_web_sources {
    /* Fills *out with the current view; returns 0, or a negative error
     * (the request is answered 503). */
    int (*acquire)(void *ud, struct pw_web_view *out);
    void (*release)(void *ud, struct pw_web_view *v);
    void *ud;
    struct pw_store *store; /* NULL: history endpoints answer 503 and health
                               reports storage "unavailable" */
    /* The endpoint watch's latest reads, held until epm_release (thread-
     * safe, like acquire). NULL, or returning NULL: /api/v1/rpc/endpoints
     * answers 404 (the daemon watches no endpoint mapper). */
    const struct pw_web_epm *(*epm_acquire)(void *ud);
    void (*epm_release)(void *ud, const struct pw_web_epm *e);
};

struct pw_web_options {
    const char *listen;       /* "127.0.0.1:8470", "[::1]:8470", "0.0.0.0:8470";
                                 port 0 picks a free port (pw_web_port) */
    const char *api_token;    /* NULL or "": none */
    bool allow_anonymous;     /* serve a non-loopback address without a token */
    const char *tls_cert_file, *tls_key_file; /* PEM; both or neither */
    const char *tls_priorities; /* GnuTLS priority string; NULL or "":
                                   PW_WEB_TLS_PRIORITIES */
    unsigned max_connections; /* 0: 512 */
    unsigned max_per_ip;      /* 0: 128 */
    unsigned timeout_s;       /* idle connection timeout (0: 30) */
    unsigned request_deadline_s; /* a whole request must arrive within this
                                    of accept or of the previous answer
                                    (0: 10); web/guard.h */
    size_t max_request_bytes; /* per-connection memory: request line and
                                 headers must fit (0: 32768; min 4096) */
    unsigned threads;         /* HTTP worker threads (0: 2) */
    unsigned query_threads;   /* store query threads (0: 2) */
    pw_log_sink log;          /* base/log.h levels;
                                 NULL: errors and warnings to stderr */
    void *log_ud;
};

struct pw_web;

/* Validates the options, binds and starts serving. Refuses a non-loopback
 * listen address without api_token unless allow_anonymous, half a TLS pair,
 * unreadable files and TLS when libmicrohttpd lacks it. Returns 0 and *out,
 * or a negative pw_err / UV_E* code with a message in err naming what was
 * wrong and what is allowed. */
int pw_web_start(const struct pw_web_options *o, const struct pw_web_sources *src,
                 struct pw_web **out, char err[PW_WEB_ERR_MAX]);
/* The bound TCP port (useful with port 0). */
uint16_t pw_web_port(const struct pw_web *w);
/* Finishes or refuses queued store queries, closes every connection, joins
 * every thread, releases the cached view. NULL is a no-op. */
void pw_web_stop(struct pw_web *w);

/* ---- Helpers shared with the daemon and tests ---------------------------- */

/* Parses a time parameter: RFC 3339 ("2025-11-25T20:36:00Z", fractions and
 * +hh:mm offsets allowed), "now", or a relative "-24h" / "-1h30m" before
 * now_ms. Returns 0 and *out, or PW_EINVAL with a message in err. */
int pw_web_parse_time(const char *s, int64_t now_ms, int64_t *out, char err[PW_WEB_ERR_MAX]);

#endif
