/*
 * The protocol exchange after a connect (engine_int.h, verify.h): for a
 * target with a protocol, the request is written, the reply read into a
 * bounded buffer and fed to the protocol's parser until it decides, all
 * under the probe's one timeout (connect and exchange share it, so a probe
 * never outlives its timeout and sweeps keep their pace). Then the probe
 * ends (connect.c) and the socket is closed.
 */
#include "probes/engine_int.h"

#include <stdio.h>
#include <stdlib.h>

/* Settles an exchange from the bytes received so far; `eof`: no more will
 * come (closed, reset, timed out, or the buffer is full). */
bool eng_exchange_decide(struct probe *p, bool eof)
{
    struct pw_engine *e = p->e;
    enum pw_proto proto = (enum pw_proto)e->proto[p->target];
    char info[PW_VERIFY_INFO_MAX];
    enum pw_verify v;
    if (p->x->rx_len == 0) {
        if (!eof)
            return false;
        v = PW_VERIFY_NO_REPLY;
        snprintf(info, sizeof info, "%s: connected, but no reply", pw_proto_name(proto));
    } else {
        enum pw_parse st = pw_verify_reply(proto, p->x->rx, p->x->rx_len,
                                           eof || p->x->rx_len == sizeof p->x->rx, info);
        if (st == PW_PARSE_NEED_MORE)
            return false;
        v = st == PW_PARSE_OK ? PW_VERIFY_VERIFIED : PW_VERIFY_MISMATCH;
    }
    p->finished = true;
    p->exchanging = false;
    eng_record_v(e, p->target, PW_STATE_OPEN, "", p->latency_us, v, info);
    eng_probe_end(p);
    return true;
}

static void on_xchg_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct probe *p = h->data;
    (void)suggested;
    buf->base = (char *)p->x->rx + p->x->rx_len;
    buf->len = sizeof p->x->rx - p->x->rx_len;
}

static void on_xchg_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct probe *p = s->data;
    (void)buf;
    if (p->finished || !p->exchanging)
        return;
    if (nread > 0) {
        p->x->rx_len += (size_t)nread;
        eng_exchange_decide(p, false);
    } else if (nread < 0) {
        eng_exchange_decide(p, true); /* EOF, reset or error: decide on what came */
    }
}

static void on_xchg_written(uv_write_t *w, int status)
{
    struct probe *p = w->data;
    if (status < 0 && !p->finished && p->exchanging)
        eng_exchange_decide(p, true); /* the peer went away before taking it */
}

/* Connected: send the protocol's request and read its reply, or record
 * the open port at once when the target has no exchange. */
void eng_exchange_start(struct probe *p)
{
    struct pw_engine *e = p->e;
    uint32_t t = p->target;
    enum pw_proto proto = (enum pw_proto)e->proto[t];
    if (proto == PW_PROTO_NONE) {
        p->finished = true;
        eng_record(e, t, PW_STATE_OPEN, "", p->latency_us);
        eng_probe_end(p);
        return;
    }
    if (!p->x && !(p->x = malloc(sizeof *p->x))) {
        p->finished = true;
        eng_record_v(e, t, PW_STATE_OPEN, "", p->latency_us, PW_VERIFY_NO_REPLY,
                     "out of memory for the exchange");
        eng_probe_end(p);
        return;
    }
    p->x->rx_len = 0;
    p->x->wreq.data = p;
    uint8_t salt[32];
    if (pw_verify_salted(proto) && uv_random(NULL, NULL, salt, sizeof salt, 0, NULL) != 0) {
        uint64_t h = uv_hrtime() ^ (uint64_t)(uintptr_t)p;
        for (size_t i = 0; i < sizeof salt; i++, h = h * 6364136223846793005ULL + 1)
            salt[i] = (uint8_t)(h >> 56);
    }
    const struct pw_target *tg = &e->plan->targets[t];
    size_t len = pw_verify_request(proto, e->hosts[tg->host].name, tg->port, salt, p->x->tx);
    uv_buf_t b = uv_buf_init((char *)p->x->tx, (unsigned)len);
    p->exchanging = true;
    int err = len ? uv_write(&p->x->wreq, (uv_stream_t *)&p->tcp, &b, 1, on_xchg_written)
                  : UV_EINVAL;
    if (err == 0)
        err = uv_read_start((uv_stream_t *)&p->tcp, on_xchg_alloc, on_xchg_read);
    if (err != 0)
        eng_exchange_decide(p, true);
    /* The timeout timer keeps running: connect and exchange share it. */
}
