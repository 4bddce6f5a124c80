/*
 * Connection-oriented DCE/RPC (C706 chapter 12, MS-RPCE 2.2.2): the few
 * PDUs portwatch speaks. The bind to the endpoint mapper and its bind_ack
 * are the engine's proof that port 135 is an RPC endpoint mapper
 * (verify.c); request/response with fragment reassembly carry ept_lookup
 * for `portwatch rpc-endpoints` (epm_client.c). We always send
 * little-endian; we read either byte order, as the data representation
 * label of each PDU says. Fuzzed by tests/fuzz/fuzz_dcerpc.c.
 */
#include "probes/verify.h"

#include "config/values.h"
#include "probes/wire.h"

#include <stdio.h>

#define RPC_VERS 5
#define MAX_FRAG 4280
#define DREP_LE 0x10

const struct pw_syntax pw_dcerpc_epm_v3 = {
    {0xe1af8308, 0x5d1f, 0x11c9, {0x91, 0xa4, 0x08, 0x00, 0x2b, 0x14, 0xa0, 0xfa}}, 3, 0};
const struct pw_syntax pw_dcerpc_ndr_v2 = {
    {0x8a885d04, 0x1ceb, 0x11c9, {0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60}}, 2, 0};

void pw_uuid_format(const struct pw_uuid *u, char out[37])
{
    snprintf(out, 37, "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", (unsigned)u->d1,
             (unsigned)u->d2, (unsigned)u->d3, u->d4[0], u->d4[1], u->d4[2], u->d4[3],
             u->d4[4], u->d4[5], u->d4[6], u->d4[7]);
}

void pw_uuid_from_ndr(const uint8_t p[16], bool be, struct pw_uuid *out)
{
    struct pw_rd r = pw_rd_init(p, 16, be);
    out->d1 = pw_rd_u32(&r);
    out->d2 = pw_rd_u16(&r);
    out->d3 = pw_rd_u16(&r);
    memcpy(out->d4, p + 8, 8);
}

uint8_t *pw_uuid_to_ndr(uint8_t *p, const struct pw_uuid *u)
{
    p = pw_wr_u32le(p, u->d1);
    p = pw_wr_u16le(p, u->d2);
    p = pw_wr_u16le(p, u->d3);
    memcpy(p, u->d4, 8);
    return p + 8;
}

static uint8_t *header(uint8_t *p, uint8_t ptype, uint16_t frag_len, uint32_t call_id)
{
    *p++ = RPC_VERS;
    *p++ = 0;
    *p++ = ptype;
    *p++ = PW_DCERPC_PFC_FIRST_FRAG | PW_DCERPC_PFC_LAST_FRAG;
    *p++ = DREP_LE; /* little-endian, ASCII, IEEE floats */
    *p++ = 0;
    *p++ = 0;
    *p++ = 0;
    p = pw_wr_u16le(p, frag_len);
    p = pw_wr_u16le(p, 0); /* no authentication */
    return pw_wr_u32le(p, call_id);
}

size_t pw_dcerpc_bind(uint8_t *buf, size_t cap, uint32_t call_id,
                      const struct pw_syntax *abstract, const struct pw_syntax *transfer)
{
    size_t len = PW_DCERPC_HDR + 8 + 4 + 4 + 20 + 20;
    if (cap < len)
        return 0;
    uint8_t *p = header(buf, PW_DCERPC_BIND, (uint16_t)len, call_id);
    p = pw_wr_u16le(p, MAX_FRAG);
    p = pw_wr_u16le(p, MAX_FRAG);
    p = pw_wr_u32le(p, 0); /* new association group */
    *p++ = 1;              /* one presentation context */
    *p++ = 0;
    p = pw_wr_u16le(p, 0);
    p = pw_wr_u16le(p, 0); /* context id 0 */
    *p++ = 1;              /* one transfer syntax */
    *p++ = 0;
    p = pw_uuid_to_ndr(p, &abstract->uuid);
    p = pw_wr_u16le(p, abstract->major);
    p = pw_wr_u16le(p, abstract->minor);
    p = pw_uuid_to_ndr(p, &transfer->uuid);
    p = pw_wr_u16le(p, transfer->major);
    pw_wr_u16le(p, transfer->minor);
    return len;
}

size_t pw_dcerpc_request(uint8_t *buf, size_t cap, uint32_t call_id, uint16_t opnum,
                         const uint8_t *stub, size_t stub_len)
{
    size_t len = PW_DCERPC_HDR + 8 + stub_len;
    if (cap < len || len > MAX_FRAG)
        return 0;
    uint8_t *p = header(buf, PW_DCERPC_REQUEST, (uint16_t)len, call_id);
    p = pw_wr_u32le(p, (uint32_t)stub_len); /* allocation hint */
    p = pw_wr_u16le(p, 0);                  /* context id */
    p = pw_wr_u16le(p, opnum);
    if (stub_len)
        memcpy(p, stub, stub_len);
    return len;
}

/* The common header, checked as far as it has arrived: version 5.0/5.1,
 * a ptype in `ok_types`, a data representation we can read, a fragment
 * length that fits our buffer. Returns MISMATCH, NEED_MORE (fewer than
 * 16 bytes, or less than the whole fragment), or OK with *frag_len and
 * *be set. */
static enum pw_parse pdu_header(const uint8_t *b, size_t n, const uint8_t *ok_types,
                                size_t ntypes, size_t max_len, size_t *frag_len, bool *be)
{
    if (n >= 1 && b[0] != RPC_VERS)
        return PW_PARSE_MISMATCH;
    if (n >= 2 && b[1] > 1)
        return PW_PARSE_MISMATCH;
    if (n >= 3) {
        bool known = false;
        for (size_t i = 0; i < ntypes; i++)
            known |= b[2] == ok_types[i];
        if (!known)
            return PW_PARSE_MISMATCH;
    }
    if (n >= 5 && (b[4] & 0xE0) != 0) /* integer order nibble: 0 big, 1 little */
        return PW_PARSE_MISMATCH;
    if (n < PW_DCERPC_HDR)
        return PW_PARSE_NEED_MORE;
    *be = (b[4] & 0x10) == 0;
    size_t len = *be ? pw_get_u16be(b + 8) : pw_get_u16le(b + 8);
    size_t auth = *be ? pw_get_u16be(b + 10) : pw_get_u16le(b + 10);
    if (len < PW_DCERPC_HDR + 8 || len > max_len || auth > len)
        return PW_PARSE_MISMATCH;
    if (n < len)
        return PW_PARSE_NEED_MORE;
    *frag_len = len;
    return PW_PARSE_OK;
}

static void printable(char *dst, size_t cap, const uint8_t *src, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < cap && src[i]; i++)
        dst[k++] = src[i] >= 0x20 && src[i] < 0x7f ? (char)src[i] : '?';
    dst[k] = '\0';
}

enum pw_parse pw_dcerpc_bind_ack_parse(const uint8_t *b, size_t n, bool eof,
                                       struct pw_dcerpc_bind_info *out)
{
    static const uint8_t types[] = {PW_DCERPC_BIND_ACK, PW_DCERPC_BIND_NAK};
    memset(out, 0, sizeof *out);
    size_t len = 0;
    bool be = false;
    enum pw_parse st = pdu_header(b, n, types, 2, PW_VERIFY_RX_MAX, &len, &be);
    if (st == PW_PARSE_NEED_MORE)
        return eof ? PW_PARSE_MISMATCH : st;
    if (st != PW_PARSE_OK)
        return st;
    out->ptype = b[2];
    struct pw_rd r = pw_rd_init(b, len, be);
    r.off = PW_DCERPC_HDR;
    if (out->ptype == PW_DCERPC_BIND_NAK) {
        out->reason = pw_rd_u16(&r);
        out->result = 2;
        return PW_PARSE_MISMATCH;
    }
    out->max_xmit = pw_rd_u16(&r);
    out->max_recv = pw_rd_u16(&r);
    out->assoc_group = pw_rd_u32(&r);
    uint16_t alen = pw_rd_u16(&r);
    const uint8_t *addr = pw_rd_bytes(&r, alen);
    if (addr)
        printable(out->sec_addr, sizeof out->sec_addr, addr, alen);
    pw_rd_align(&r, 4);
    uint8_t nres = pw_rd_u8(&r);
    pw_rd_bytes(&r, 3);
    out->result = pw_rd_u16(&r);
    out->reason = pw_rd_u16(&r);
    pw_rd_bytes(&r, 20); /* the accepted transfer syntax */
    if (r.bad || nres == 0)
        return PW_PARSE_MISMATCH;
    return out->result == 0 ? PW_PARSE_OK : PW_PARSE_MISMATCH;
}

enum pw_parse pw_dcerpc_response_feed(struct pw_dcerpc_reasm *r, const uint8_t *b, size_t n,
                                      size_t *used)
{
    static const uint8_t types[] = {PW_DCERPC_RESPONSE, PW_DCERPC_FAULT};
    *used = 0;
    if (r->done)
        return PW_PARSE_MISMATCH;
    size_t len = 0;
    bool be = false;
    /* A response fragment is at most the max_recv_frag we bound with. */
    enum pw_parse st = pdu_header(b, n, types, 2, MAX_FRAG, &len, &be);
    if (st != PW_PARSE_OK)
        return st;
    struct pw_rd rd = pw_rd_init(b, len, be);
    rd.off = 10;
    size_t auth = pw_rd_u16(&rd);
    uint32_t call = pw_rd_u32(&rd);
    uint8_t flags = b[3];
    if (call != r->call_id)
        return PW_PARSE_MISMATCH;
    pw_rd_u32(&rd); /* allocation hint */
    pw_rd_u16(&rd); /* context id */
    pw_rd_u8(&rd);  /* cancel count */
    pw_rd_u8(&rd);
    if (b[2] == PW_DCERPC_FAULT) {
        uint32_t status = pw_rd_u32(&rd);
        if (rd.bad)
            return PW_PARSE_MISMATCH;
        r->fault = status ? status : 0xFFFFFFFFu;
        r->done = true;
        *used = len;
        return PW_PARSE_OK;
    }
    if (!r->started) {
        if (!(flags & PW_DCERPC_PFC_FIRST_FRAG))
            return PW_PARSE_MISMATCH;
        r->started = true;
        r->big_endian = be;
    } else if (flags & PW_DCERPC_PFC_FIRST_FRAG || be != r->big_endian) {
        return PW_PARSE_MISMATCH;
    }
    /* Stub: up to the authentication trailer (8 bytes + auth_length). */
    size_t end = len - (auth ? 8 + auth : 0);
    if (end < rd.off || rd.bad)
        return PW_PARSE_MISMATCH;
    size_t k = end - rd.off;
    if (k > r->cap - r->len)
        return PW_PARSE_MISMATCH;
    if (k)
        memcpy(r->stub + r->len, b + rd.off, k);
    r->len += k;
    *used = len;
    if (flags & PW_DCERPC_PFC_LAST_FRAG) {
        r->done = true;
        return PW_PARSE_OK;
    }
    return PW_PARSE_NEED_MORE;
}
