/*
 * A one-shot reader of a host's endpoint mapper over TCP 135: connect,
 * bind to the mapper, ept_lookup again and again with the context handle
 * the mapper returns until it says "no more entries", then close. What
 * `portwatch rpc-endpoints` prints (like `PortQry -e 135`), and what the
 * daemon's endpoint watch polls (and cancels when it stops).
 * Unauthenticated, as the mapper allows. Runs on the caller's libuv loop;
 * see probes/epm.h.
 */
#include "probes/epm.h"

#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RX_CAP 16384        /* two fragments of 4280 and then some */
#define STUB_CAP (256 * 1024) /* one reassembled reply */
#define MAX_ENTS 32         /* per call; a bigger database takes several calls */
#define MAX_CALLS 1000      /* a mapper handing out handles forever */

enum step { S_CONNECT, S_BIND, S_LOOKUP, S_DONE };

struct pw_epm_dump {
    uv_loop_t *loop;
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_write_t wreq;
    uv_timer_t timer;
    int open_handles;
    enum step step;
    uint32_t call_id;
    uint8_t handle[20];
    uint8_t tx[PW_VERIFY_TX_MAX];
    uint8_t *rx;
    size_t rx_len;
    uint8_t *stub;
    struct pw_dcerpc_reasm reasm;
    struct pw_epm_result res;
    size_t cap;
    pw_epm_done_cb done;
    void *ud;
};

void pw_epm_result_free(struct pw_epm_result *r)
{
    if (!r)
        return;
    free(r->v);
    r->v = NULL;
    r->n = 0;
}

static void on_closed(uv_handle_t *h)
{
    struct pw_epm_dump *d = h->data;
    if (--d->open_handles > 0)
        return;
    struct pw_epm_result res = d->res;
    pw_epm_done_cb done = d->done;
    void *ud = d->ud;
    free(d->rx);
    free(d->stub);
    free(d);
    if (done)
        done(ud, &res);
    else
        pw_epm_result_free(&res);
}

/* Ends the dump: err 0 for a complete one, else why it stopped. */
static void finish(struct pw_epm_dump *d, int err, const char *fmt, ...) PW_PRINTF(3, 4);
static void finish(struct pw_epm_dump *d, int err, const char *fmt, ...)
{
    if (d->step == S_DONE)
        return;
    d->step = S_DONE;
    d->res.err = err;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->res.message, sizeof d->res.message, fmt, ap);
        va_end(ap);
    }
    uv_timer_stop(&d->timer);
    uv_close((uv_handle_t *)&d->timer, on_closed);
    uv_close((uv_handle_t *)&d->tcp, on_closed);
}

static void on_timeout(uv_timer_t *t)
{
    struct pw_epm_dump *d = t->data;
    finish(d, UV_ETIMEDOUT, "timed out %s",
           d->step == S_CONNECT ? "connecting"
           : d->step == S_BIND  ? "waiting for the bind_ack"
                                : "waiting for an ept_lookup reply");
}

static void on_written(uv_write_t *w, int status)
{
    struct pw_epm_dump *d = w->data;
    if (status < 0 && status != UV_ECANCELED)
        finish(d, status, "sending to the endpoint mapper failed: %s", uv_strerror(status));
}

static int send_bytes(struct pw_epm_dump *d, size_t len)
{
    uv_buf_t b = uv_buf_init((char *)d->tx, (unsigned)len);
    return uv_write(&d->wreq, (uv_stream_t *)&d->tcp, &b, 1, on_written);
}

static void send_lookup(struct pw_epm_dump *d)
{
    uint8_t stub[40];
    size_t sl = pw_epm_lookup_stub(stub, d->handle, MAX_ENTS);
    d->call_id++;
    size_t len = pw_dcerpc_request(d->tx, sizeof d->tx, d->call_id, PW_EPM_OPNUM_LOOKUP, stub, sl);
    memset(&d->reasm, 0, sizeof d->reasm);
    d->reasm.stub = d->stub;
    d->reasm.cap = STUB_CAP;
    d->reasm.call_id = d->call_id;
    d->res.calls++;
    int err = send_bytes(d, len);
    if (err)
        finish(d, err, "sending ept_lookup failed: %s", uv_strerror(err));
}

static int add_entry(void *ud, const struct pw_epm_entry *e)
{
    struct pw_epm_dump *d = ud;
    if (d->res.n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 64;
        struct pw_epm_entry *v = realloc(d->res.v, cap * sizeof *v);
        if (!v)
            return 1;
        d->res.v = v;
        d->cap = cap;
    }
    d->res.v[d->res.n++] = *e;
    return 0;
}

static bool handle_empty(const uint8_t h[20])
{
    for (int i = 0; i < 20; i++)
        if (h[i])
            return false;
    return true;
}

/* One whole reply stub: keep its entries, then decide whether to ask
 * again. Entries come before the status is looked at: Samba sends its
 * last batch with "no more entries". */
static void on_reply(struct pw_epm_dump *d)
{
    if (d->reasm.fault) {
        finish(d, PW_EIO, "the endpoint mapper answered ept_lookup with fault 0x%08x",
               (unsigned)d->reasm.fault);
        return;
    }
    uint32_t num = 0, status = 0;
    size_t before = d->res.n;
    int rc = pw_epm_lookup_parse(d->stub, d->reasm.len, d->reasm.big_endian, d->handle, &num,
                                 &status, add_entry, d);
    if (rc != 0) {
        finish(d, rc, "malformed ept_lookup reply (call %u)", (unsigned)d->call_id);
        return;
    }
    if (d->res.n - before != num) {
        finish(d, PW_ENOMEM, "out of memory after %zu entries", d->res.n);
        return;
    }
    if (status == PW_EPM_S_NOT_REGISTERED || handle_empty(d->handle) ||
        (status == 0 && num == 0)) {
        finish(d, 0, NULL);
        return;
    }
    if (status != 0) {
        finish(d, PW_EIO, "ept_lookup failed with status 0x%08x", (unsigned)status);
        return;
    }
    if (d->res.calls >= MAX_CALLS) {
        finish(d, PW_ETOO_BIG, "the endpoint mapper still had entries after %u calls",
               (unsigned)d->res.calls);
        return;
    }
    send_lookup(d);
}

/* Consumes whole PDUs from the receive buffer. */
static void process(struct pw_epm_dump *d, bool eof)
{
    for (;;) {
        if (d->step == S_BIND) {
            struct pw_dcerpc_bind_info bi;
            enum pw_parse st = pw_dcerpc_bind_ack_parse(d->rx, d->rx_len, eof, &bi);
            if (st == PW_PARSE_NEED_MORE)
                return;
            if (st != PW_PARSE_OK) {
                char info[PW_VERIFY_INFO_MAX];
                pw_verify_reply(PW_PROTO_RPC, d->rx, d->rx_len, true, info);
                finish(d, PW_EIO, "not an endpoint mapper: %s",
                       d->rx_len ? info : "closed without a reply");
                return;
            }
            size_t used = (size_t)(d->rx[8] | d->rx[9] << 8);
            if (!(d->rx[4] & 0x10))
                used = (size_t)(d->rx[8] << 8 | d->rx[9]);
            memmove(d->rx, d->rx + used, d->rx_len - used);
            d->rx_len -= used;
            d->step = S_LOOKUP;
            send_lookup(d);
            continue;
        }
        if (d->step != S_LOOKUP)
            return;
        size_t used = 0;
        enum pw_parse st = pw_dcerpc_response_feed(&d->reasm, d->rx, d->rx_len, &used);
        memmove(d->rx, d->rx + used, d->rx_len - used);
        d->rx_len -= used;
        if (st == PW_PARSE_MISMATCH) {
            finish(d, PW_EIO, "unexpected PDU in the ept_lookup reply (call %u)",
                   (unsigned)d->call_id);
            return;
        }
        if (st == PW_PARSE_OK) {
            on_reply(d);
            continue;
        }
        if (used == 0) { /* need more bytes */
            if (eof)
                finish(d, UV_EOF, "the endpoint mapper closed the connection mid-reply");
            return;
        }
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct pw_epm_dump *d = h->data;
    (void)suggested;
    buf->base = (char *)d->rx + d->rx_len;
    buf->len = RX_CAP - d->rx_len;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct pw_epm_dump *d = s->data;
    (void)buf;
    if (d->step == S_DONE)
        return;
    if (nread > 0) {
        d->rx_len += (size_t)nread;
        process(d, false);
        if (d->step != S_DONE && d->rx_len == RX_CAP)
            finish(d, PW_ETOO_BIG, "a reply fragment larger than %d bytes", RX_CAP);
    } else if (nread < 0) {
        process(d, true);
        if (d->step != S_DONE)
            finish(d, nread == UV_EOF ? 0 : (int)nread,
                   nread == UV_EOF ? NULL : "reading from the endpoint mapper failed");
    }
}

static void on_connect(uv_connect_t *req, int status)
{
    struct pw_epm_dump *d = req->data;
    if (d->step == S_DONE)
        return;
    if (status < 0) {
        finish(d, status, "cannot connect to the endpoint mapper: %s", uv_strerror(status));
        return;
    }
    d->step = S_BIND;
    d->call_id = 1;
    size_t len = pw_dcerpc_bind(d->tx, sizeof d->tx, d->call_id, &pw_dcerpc_epm_v3,
                                &pw_dcerpc_ndr_v2);
    int err = send_bytes(d, len);
    if (!err)
        err = uv_read_start((uv_stream_t *)&d->tcp, on_alloc, on_read);
    if (err)
        finish(d, err, "cannot talk to the endpoint mapper: %s", uv_strerror(err));
}

int pw_epm_dump_start(uv_loop_t *loop, const struct sockaddr *addr, int64_t timeout_ms,
                      pw_epm_done_cb done, void *ud, struct pw_epm_dump **out)
{
    if (out)
        *out = NULL;
    if (!loop || !addr || !done || timeout_ms <= 0)
        return PW_EINVAL;
    struct pw_epm_dump *d = calloc(1, sizeof *d);
    if (!d)
        return PW_ENOMEM;
    d->rx = malloc(RX_CAP);
    d->stub = malloc(STUB_CAP);
    if (!d->rx || !d->stub) {
        free(d->rx);
        free(d->stub);
        free(d);
        return PW_ENOMEM;
    }
    d->loop = loop;
    d->done = done;
    d->ud = ud;
    int err = uv_tcp_init(loop, &d->tcp);
    if (err) {
        free(d->rx);
        free(d->stub);
        free(d);
        return err;
    }
    uv_timer_init(loop, &d->timer);
    d->tcp.data = d->timer.data = d->creq.data = d->wreq.data = d;
    d->open_handles = 2;
    err = uv_tcp_connect(&d->creq, &d->tcp, addr, on_connect);
    if (err) {
        /* Failed synchronously: close quietly (the last close callback
         * frees), never calling done. */
        d->done = NULL;
        d->step = S_DONE;
        uv_close((uv_handle_t *)&d->tcp, on_closed);
        uv_close((uv_handle_t *)&d->timer, on_closed);
        return err;
    }
    uv_timer_start(&d->timer, on_timeout, (uint64_t)timeout_ms, 0);
    if (out)
        *out = d;
    return 0;
}

int pw_epm_dump(uv_loop_t *loop, const struct sockaddr *addr, int64_t timeout_ms,
                pw_epm_done_cb done, void *ud)
{
    return pw_epm_dump_start(loop, addr, timeout_ms, done, ud, NULL);
}

/* Closing the TCP handle is what cancels: libuv ends a connect or write in
 * flight with UV_ECANCELED (their callbacks see S_DONE and do nothing)
 * and done follows from the last close callback like any other end. */
void pw_epm_dump_cancel(struct pw_epm_dump *d)
{
    if (d)
        finish(d, UV_ECANCELED, "cancelled");
}
