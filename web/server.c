/*
 * The HTTP server behind web/web.h: libmicrohttpd set-up (listen address,
 * limits, TLS), its callbacks, start and stop. Routing is routes.c's, the
 * endpoints are the api_*.c files', replies reply.c's.
 *
 * Why this threading: MHD's internal thread pool with MHD_USE_AUTO (epoll
 * on Linux) multiplexes every connection on a few event-driven workers, so
 * slow or idle clients cost a socket and a timeout, not a thread (thread-
 * per-connection would let a few hundred slow clients exhaust threads). An
 * event-driven worker must never block, though: snapshot endpoints take
 * microseconds, but a store query can take a long time (and the store
 * serializes its queries on one read connection), so those requests are
 * suspended (MHD_suspend_connection) and handed to the query pool
 * (pool.c), which resumes them with the answer ready.
 *
 * Every request owns a struct pw_req from the moment its request line is
 * parsed (the URI log callback) to the completion callback, which frees it.
 */
#include "web/server_int.h"

#include "base/error.h"
#include "base/text.h"
#include "config/values.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#if MHD_VERSION < 0x00097002
typedef int MHD_Result_t;
#else
typedef enum MHD_Result MHD_Result_t;
#endif

#define DEF_MAX_CONNECTIONS 512
#define DEF_MAX_PER_IP 128
#define DEF_TIMEOUT_S 30
#define DEF_REQUEST_DEADLINE_S 10
#define DEF_MAX_REQUEST 32768
#define MIN_MAX_REQUEST 4096
#define DEF_THREADS 2
#define DEF_QUERY_THREADS 2
#define MAX_PEM_BYTES (1024 * 1024)
/* A request target longer than this is answered 414 (RFC 9110 9.1 asks
 * for at least 8000 octets). */
#define MAX_URI 8192
/* libmicrohttpd's own memory per connection, as a multiple of the request
 * size we accept: a request too large for us but within this gets our
 * JSON 414/431; only one larger still (over 64 kB by default) meets
 * libmicrohttpd's built-in answer (same status, an HTML body). Measured
 * with 120 kept-alive connections: 2 costs no more resident memory than
 * 1 did, 4 about 60 kB more per connection. */
#define MHD_POOL_FACTOR 2

static void wlog(struct pw_web *w, int level, const char *fmt, ...)
#if defined(__GNUC__)
    PW_PRINTF(3, 4)
#endif
    ;
static void wlog(struct pw_web *w, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pw_vlog_to(w->log, w->log_ud, "web", level, fmt, ap);
    va_end(ap);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    /* MHD's messages are about single clients (resets, timeouts, bad
     * requests): debug, except start-up problems which we report ourselves
     * (MHD_start_daemon logs them on the starting thread). */
    struct pw_web *w = cls;
    if (w->starting)
        snprintf(w->start_msg, sizeof w->start_msg, "%s", msg);
    wlog(w, 3, "%s", msg);
}

/* ---- libmicrohttpd callbacks ------------------------------------------------ */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    return pw_req_new(cls, uri, c);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode code)
{
    struct pw_web *w = cls;
    if (*con_cls)
        pw_req_free(*con_cls);
    *con_cls = NULL;
    pw_guard_busy(w->guard, c, false);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct pw_web *w = cls;
    pw_guard_notify(w->guard, c, socket_context, code == MHD_CONNECTION_NOTIFY_STARTED);
}

static MHD_Result_t add_header_size(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind;
    *(size_t *)cls += strlen(key) + (value ? strlen(value) : 0) + 4; /* ": ", CRLF */
    return MHD_YES;
}

/* Refuses, with a JSON error, a request target or header block larger
 * than we accept. Returns true when out holds the refusal. */
static bool too_large(struct pw_req *r, struct MHD_Connection *c, struct pw_reply *out)
{
    size_t uri = r->raw ? strlen(r->raw) : 0, total = uri;
    if (uri > MAX_URI) {
        pw_reply_error(out, 414, "uri too long",
                       "the request target is %zu bytes; at most %d: use fewer or shorter "
                       "parameters", uri, MAX_URI);
        return true;
    }
    MHD_get_connection_values(c, MHD_HEADER_KIND, add_header_size, &total);
    if (total > r->w->max_request) {
        pw_reply_error(out, 431, "headers too large",
                       "the request line and headers are %zu bytes; at most %zu: send fewer "
                       "or shorter headers", total, r->w->max_request);
        return true;
    }
    return false;
}

/* Whether the request announces a body (which the read-only API never
 * reads). */
static bool has_body(struct MHD_Connection *c)
{
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    return (cl && strspn(cl, "0") != strlen(cl)) ||
           MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                       MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
}

static MHD_Result_t on_request(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version,
                               const char *upload_data, size_t *upload_data_size,
                               void **con_cls)
{
    struct pw_req *r = *con_cls;
    if (!r) {
        r = pw_req_new(cls, url, c);
        if (!r)
            return MHD_NO;
        *con_cls = r;
    }
    if (r->suspended) { /* resumed by the query pool: the answer is ready */
        r->suspended = false;
        r->replied = true;
        return pw_reply_send(&r->reply, c) ? MHD_YES : MHD_NO;
    }
    if (r->replied) { /* a body we do not read */
        *upload_data_size = 0;
        return MHD_YES;
    }
    /* Answer once the whole request is in: libmicrohttpd closes the
     * connection after a response queued on the first (headers-only)
     * call, which would cost every keep-alive client a new connection.
     * Except when a body is announced: the API reads none, and waiting
     * for it (a chunk size of 2^40, a Content-Length never sent) would
     * hold the connection; answered now, and closed after. */
    if (!r->headers_seen) {
        r->headers_seen = true;
        if (!has_body(c))
            return MHD_YES;
    }
    if (*upload_data_size != 0) { /* a body we do not read */
        *upload_data_size = 0;
        return MHD_YES;
    }
    r->replied = true;
    pw_guard_busy(r->w->guard, c, true); /* the deadline is met */
    if (too_large(r, c, &r->reply))
        return pw_reply_send(&r->reply, c) ? MHD_YES : MHD_NO;
    int ok;
    if (pw_assets_serve(r, method, &ok))
        return ok ? MHD_YES : MHD_NO;
    pw_route(r, method);
    if (r->job && !r->reply.body && !r->reply.shared) {
        if (pw_req_enqueue(r))
            return MHD_YES;
        pw_reply_error(&r->reply, 503, "unavailable", "portwatch is shutting down");
    }
    return pw_reply_send(&r->reply, c) ? MHD_YES : MHD_NO;
}

/* ---- start ---------------------------------------------------------------- */

/* Written once, by the first pw_web_start, before its server answers. */
static int64_t first_start_ms;

int64_t pw_web_started_ms(void)
{
    return first_start_ms;
}

union addr {
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
};

/* Parses o->listen into *addr (port 0 allowed: any free port, for tests
 * and benchmarks; the configuration's parser rightly refuses it) and
 * refuses a non-loopback address without a token unless allowed. */
static int listen_addr(const struct pw_web_options *o, union addr *addr, bool *v6,
                       char err[PW_WEB_ERR_MAX])
{
    const char *listen = o->listen && *o->listen ? o->listen : "127.0.0.1:8470";
    char *host = NULL, perr[PW_ERRBUF], tmp[300];
    uint16_t port;
    size_t ll = strlen(listen);
    bool any_port = ll > 2 && strcmp(listen + ll - 2, ":0") == 0 && ll < sizeof tmp;
    if (any_port) {
        snprintf(tmp, sizeof tmp, "%.*s:1", (int)(ll - 2), listen);
        listen = tmp;
    }
    if (pw_parse_listen(listen, &host, &port, perr) != 0) {
        snprintf(err, PW_WEB_ERR_MAX, "listen: %.200s", perr);
        return PW_EINVAL;
    }
    if (any_port)
        port = 0;
    memset(addr, 0, sizeof *addr);
    const char *lit = pw_strcasecmp(host, "localhost") == 0 ? "127.0.0.1" : host;
    *v6 = false;
    int rc = 0;
    if (uv_ip4_addr(lit, port, &addr->in4) != 0) {
        *v6 = uv_ip6_addr(lit, port, &addr->in6) == 0;
        if (!*v6) {
            snprintf(err, PW_WEB_ERR_MAX,
                     "listen: '%.64s' is not an IP address; use an IPv4 or IPv6 address "
                     "(127.0.0.1, [::1], 0.0.0.0) or localhost", host);
            rc = PW_EINVAL;
        }
    }
    if (rc == 0 && !pw_is_loopback(host) && !(o->api_token && *o->api_token) &&
        !o->allow_anonymous) {
        snprintf(err, PW_WEB_ERR_MAX,
                 "listen: %.64s is not a loopback address, so the API needs api_token "
                 "(clients send Authorization: Bearer TOKEN), or allow_anonymous = yes "
                 "on a trusted network", o->listen);
        rc = PW_EINVAL;
    }
    free(host);
    return rc;
}

static int read_pem(const char *path, const char *what, char **out, char err[PW_WEB_ERR_MAX])
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, PW_WEB_ERR_MAX, "%s: cannot open '%s'", what, path);
        return PW_EIO;
    }
    char *buf = malloc(MAX_PEM_BYTES + 1);
    size_t n = buf ? fread(buf, 1, MAX_PEM_BYTES + 1, f) : 0;
    bool bad = ferror(f);
    fclose(f);
    if (!buf) {
        snprintf(err, PW_WEB_ERR_MAX, "%s: out of memory", what);
        return PW_ENOMEM;
    }
    if (bad || n == 0 || n > MAX_PEM_BYTES || !strstr(buf, "-----BEGIN")) {
        free(buf);
        snprintf(err, PW_WEB_ERR_MAX, "%s: '%s' is %s", what, path,
                 bad ? "unreadable" : n > MAX_PEM_BYTES ? "larger than 1 MB" : "not a PEM file");
        return PW_EINVAL;
    }
    buf[n] = '\0';
    *out = buf;
    return 0;
}

/* Checks the TLS options and reads the PEM files into w. */
static int tls_setup(struct pw_web *w, const struct pw_web_options *o,
                     char err[PW_WEB_ERR_MAX])
{
    bool tls_c = o->tls_cert_file && *o->tls_cert_file;
    bool tls_k = o->tls_key_file && *o->tls_key_file;
    if (tls_c != tls_k) {
        snprintf(err, PW_WEB_ERR_MAX,
                 "tls: give both a certificate and a key file (PEM), or neither; only the %s "
                 "is set", tls_c ? "certificate" : "key");
        return PW_EINVAL;
    }
    if (!tls_c)
        return 0;
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        snprintf(err, PW_WEB_ERR_MAX,
                 "tls: this build of libmicrohttpd has no TLS support; remove the "
                 "certificate and key, or use a libmicrohttpd built with GnuTLS");
        return PW_EINVAL;
    }
    int rc = read_pem(o->tls_cert_file, "tls certificate", &w->pem_cert, err);
    if (rc == 0)
        rc = read_pem(o->tls_key_file, "tls key", &w->pem_key, err);
    return rc;
}

static unsigned max_connections(const struct pw_web_options *o)
{
    return o->max_connections ? o->max_connections : DEF_MAX_CONNECTIONS;
}

static void web_free(struct pw_web *w)
{
    pw_guard_stop(w->guard);
    pw_pool_stop(w->pool);
    pw_status_cache_free(&w->status);
    pw_pool_free(w->pool);
    pw_memo_free(&w->memo);
    pw_down_list_free(&w->down);
    free(w->token);
    free(w->pem_cert);
    free(w->pem_key);
    free(w);
}

/* Allocates w with its token, caches and query pool. */
static int web_new(const struct pw_web_options *o, const struct pw_web_sources *src,
                   struct pw_web **out, char err[PW_WEB_ERR_MAX])
{
    struct pw_web *w = calloc(1, sizeof *w);
    if (!w || pw_memo_init(&w->memo) != 0) {
        free(w);
        snprintf(err, PW_WEB_ERR_MAX, "web: out of memory");
        return PW_ENOMEM;
    }
    w->src = *src;
    w->max_request = o->max_request_bytes ? o->max_request_bytes : DEF_MAX_REQUEST;
    if (w->max_request < MIN_MAX_REQUEST)
        w->max_request = MIN_MAX_REQUEST;
    w->log = o->log;
    w->log_ud = o->log_ud;
    pw_down_list_init(&w->down);
    int rc = pw_pool_start(o->query_threads ? o->query_threads : DEF_QUERY_THREADS, &w->pool);
    pw_status_cache_init(&w->status, &w->src, w->pool, o->tls_cert_file && *o->tls_cert_file);
    if (rc != 0) {
        snprintf(err, PW_WEB_ERR_MAX, "web: cannot start threads: %s", uv_strerror(rc));
    } else if (o->api_token && *o->api_token) {
        w->token = strdup(o->api_token);
        w->token_len = w->token ? strlen(w->token) : 0;
        if (!w->token) {
            snprintf(err, PW_WEB_ERR_MAX, "web: out of memory");
            rc = PW_ENOMEM;
        }
    }
    if (rc == 0)
        rc = tls_setup(w, o, err);
    unsigned deadline = o->request_deadline_s ? o->request_deadline_s : DEF_REQUEST_DEADLINE_S;
    if (rc == 0 && (rc = pw_guard_start(max_connections(o), deadline * 1000LL, o->log,
                                        o->log_ud, &w->guard)) != 0)
        snprintf(err, PW_WEB_ERR_MAX, "web: cannot start threads: %s", uv_strerror(rc));
    if (rc != 0) {
        web_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

static struct MHD_Daemon *mhd_start(struct pw_web *w, const struct pw_web_options *o,
                                    union addr *addr, bool v6)
{
    size_t max_req = w->max_request;
    unsigned threads = o->threads ? o->threads : DEF_THREADS;
    struct MHD_OptionItem opts[16];
    size_t no = 0;
#define OPT(k, v, p) opts[no++] = (struct MHD_OptionItem){(k), (intptr_t)(v), (p)}
    OPT(MHD_OPTION_SOCK_ADDR, 0, &addr->sa);
    if (threads > 1) /* one: the internal polling thread alone */
        OPT(MHD_OPTION_THREAD_POOL_SIZE, threads, NULL);
    OPT(MHD_OPTION_CONNECTION_LIMIT, max_connections(o), NULL);
    OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->max_per_ip ? o->max_per_ip : DEF_MAX_PER_IP,
        NULL);
    OPT(MHD_OPTION_CONNECTION_TIMEOUT, o->timeout_s ? o->timeout_s : DEF_TIMEOUT_S, NULL);
    OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, max_req * MHD_POOL_FACTOR, NULL);
    OPT(MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, w);
    OPT(MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, w);
    OPT(MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, w);
    OPT(MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, w);
    if (w->pem_cert) {
        OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, w->pem_cert);
        OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, w->pem_key);
        const char *prio = o->tls_priorities && *o->tls_priorities ? o->tls_priorities
                                                                   : PW_WEB_TLS_PRIORITIES;
        OPT(MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)(uintptr_t)prio);
    }
    OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (v6)
        flags |= MHD_USE_IPv6;
    if (w->pem_cert)
        flags |= MHD_USE_TLS;
    return MHD_start_daemon(flags, 0, NULL, NULL, on_request, w, MHD_OPTION_ARRAY, opts,
                            MHD_OPTION_END);
}

int pw_web_start(const struct pw_web_options *o, const struct pw_web_sources *src,
                 struct pw_web **out, char err[PW_WEB_ERR_MAX])
{
    *out = NULL;
    err[0] = '\0';
    if (!src || !src->acquire || !src->release) {
        snprintf(err, PW_WEB_ERR_MAX, "web: no data source (acquire/release)");
        return PW_EINVAL;
    }
    union addr addr;
    bool v6;
    int rc = listen_addr(o, &addr, &v6, err);
    struct pw_web *w = NULL;
    if (rc == 0)
        rc = web_new(o, src, &w, err);
    if (rc != 0)
        return rc;
    json_object_seed(0); /* before any thread builds an object */
    if (!first_start_ms)
        first_start_ms = pw_wall_ms();
    const char *listen = o->listen && *o->listen ? o->listen : "127.0.0.1:8470";
    w->starting = true;
    w->d = mhd_start(w, o, &addr, v6);
    w->starting = false;
    if (!w->d) {
        if (w->pem_cert && o->tls_priorities && *o->tls_priorities &&
            strstr(w->start_msg, "riorit"))
            snprintf(err, PW_WEB_ERR_MAX,
                     "tls_priorities: '%.60s' is not a GnuTLS priority string (%.60s); "
                     "leave it empty for TLS 1.2 and 1.3", o->tls_priorities, w->start_msg);
        else
            snprintf(err, PW_WEB_ERR_MAX,
                     "listen: cannot serve on %.64s (address in use, not an address of this "
                     "machine, or a bad TLS certificate/key)%s%.80s", listen,
                     *w->start_msg ? ": " : "", w->start_msg);
        web_free(w);
        return PW_EIO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(w->d, MHD_DAEMON_INFO_BIND_PORT);
    w->port = info ? info->port : 0;
    wlog(w, 2, "serving http%s://%s (%u worker threads, %u query threads)",
         w->pem_cert ? "s" : "", listen, o->threads ? o->threads : DEF_THREADS,
         o->query_threads ? o->query_threads : DEF_QUERY_THREADS);
    *out = w;
    return 0;
}

uint16_t pw_web_port(const struct pw_web *w)
{
    return w ? w->port : 0;
}

void pw_web_stop(struct pw_web *w)
{
    if (!w)
        return;
    /* Drain the query pool first: MHD must not be stopped while a
     * connection is suspended. Requests arriving meanwhile get a 503. */
    pw_pool_stop(w->pool);
    MHD_stop_daemon(w->d);
    web_free(w);
}
