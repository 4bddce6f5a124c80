/*
 * The SMB2 NEGOTIATE exchange (MS-SMB2 2.2.3, 2.2.4), the proof that an
 * SMB server answers on 445, and the dialect it picks. We offer every
 * SMB2/3 dialect up to 3.1.1: a Windows server since 2016 picks 3.1.1, so
 * the recorded dialect is the one its own clients get, and a server that
 * stops at 2.x shows up as such. 3.1.1 requires negotiate contexts: a
 * preauth integrity context (SHA-512 and a fresh salt) and, as Windows
 * clients send, an encryption context. No session is set up; the engine
 * closes after the reply. Used by verify.c and tests/fuzz/fuzz_verify.c
 * (as fuzz_smb2).
 */
#include "probes/verify.h"

#include "probes/wire.h"

#include <stdio.h>

#define NB_HDR 4
#define SMB2_HDR 64
#define SMB2_NEGOTIATE 0x0000
#define SMB2_FLAGS_SERVER_TO_REDIR 0x00000001u
#define NEG_REQ_SIZE 36
#define NEG_RESP_SIZE 65
#define CTX_PREAUTH 0x0001
#define CTX_ENCRYPTION 0x0002
#define HASH_SHA512 0x0001
#define CIPHER_AES128_CCM 0x0001
#define CIPHER_AES128_GCM 0x0002
#define SALT_LEN 32

static const uint16_t dialects[] = {0x0202, 0x0210, 0x0300, 0x0302, 0x0311};
#define NDIALECTS (sizeof dialects / sizeof dialects[0])

static const uint8_t smb2_magic[4] = {0xFE, 'S', 'M', 'B'};
static const uint8_t smb1_magic[4] = {0xFF, 'S', 'M', 'B'};

static size_t pad8(size_t x)
{
    return (x + 7) & ~(size_t)7;
}

size_t pw_smb2_negotiate_request(uint8_t *buf, size_t cap, const uint8_t salt[32])
{
    size_t dial_end = SMB2_HDR + NEG_REQ_SIZE + NDIALECTS * 2;
    size_t ctx1 = pad8(dial_end);
    size_t ctx1_data = 2 + 2 + 2 + SALT_LEN;
    size_t ctx2 = pad8(ctx1 + 8 + ctx1_data);
    size_t ctx2_data = 2 + 2 * 2;
    size_t msg = ctx2 + 8 + ctx2_data;
    if (cap < NB_HDR + msg)
        return 0;
    memset(buf, 0, NB_HDR + msg);
    buf[0] = 0; /* session message */
    buf[1] = (uint8_t)(msg >> 16);
    buf[2] = (uint8_t)(msg >> 8);
    buf[3] = (uint8_t)msg;
    uint8_t *h = buf + NB_HDR;
    memcpy(h, smb2_magic, 4);
    pw_wr_u16le(h + 4, SMB2_HDR);
    pw_wr_u16le(h + 12, SMB2_NEGOTIATE);
    pw_wr_u16le(h + 14, 1);      /* credits requested */
    pw_wr_u32le(h + 32, 0xFEFF); /* process id, as clients send */
    uint8_t *q = h + SMB2_HDR;
    pw_wr_u16le(q, NEG_REQ_SIZE);
    pw_wr_u16le(q + 2, (uint16_t)NDIALECTS);
    pw_wr_u16le(q + 4, 0x0001);  /* signing enabled */
    /* Client GUID: any value unique to this client; reuse the salt's. */
    memcpy(q + 12, salt + 16, 16);
    pw_wr_u32le(q + 28, (uint32_t)ctx1);
    pw_wr_u16le(q + 32, 2);
    for (size_t i = 0; i < NDIALECTS; i++)
        pw_wr_u16le(q + NEG_REQ_SIZE + 2 * i, dialects[i]);
    uint8_t *c = h + ctx1;
    pw_wr_u16le(c, CTX_PREAUTH);
    pw_wr_u16le(c + 2, (uint16_t)ctx1_data);
    pw_wr_u16le(c + 8, 1);        /* one hash algorithm */
    pw_wr_u16le(c + 10, SALT_LEN);
    pw_wr_u16le(c + 12, HASH_SHA512);
    memcpy(c + 14, salt, SALT_LEN);
    c = h + ctx2;
    pw_wr_u16le(c, CTX_ENCRYPTION);
    pw_wr_u16le(c + 2, (uint16_t)ctx2_data);
    pw_wr_u16le(c + 8, 2);
    pw_wr_u16le(c + 10, CIPHER_AES128_GCM);
    pw_wr_u16le(c + 12, CIPHER_AES128_CCM);
    return NB_HDR + msg;
}

static bool dialect_known(uint16_t d)
{
    if (d == 0x02FF) /* the SMB1-negotiate wildcard; tolerated */
        return true;
    for (size_t i = 0; i < NDIALECTS; i++)
        if (dialects[i] == d)
            return true;
    return false;
}

const char *pw_smb2_dialect_name(uint16_t d, char buf[8])
{
    switch (d) {
    case 0x0202: return "2.0.2";
    case 0x0210: return "2.1";
    case 0x0300: return "3.0";
    case 0x0302: return "3.0.2";
    case 0x0311: return "3.1.1";
    default:
        snprintf(buf, 8, "0x%04x", d);
        return buf;
    }
}

enum pw_parse pw_smb2_negotiate_parse(const uint8_t *b, size_t n, bool eof,
                                      struct pw_smb2_info *out)
{
    memset(out, 0, sizeof *out);
    if (n >= 1 && b[0] != 0)
        return PW_PARSE_MISMATCH; /* not a NetBIOS session message */
    /* The protocol magic, byte by byte as it arrives (the two differ only
     * in their first byte). */
    for (size_t i = NB_HDR; i < n && i < NB_HDR + 4; i++)
        if (b[i] != smb2_magic[i - NB_HDR] && b[i] != smb1_magic[i - NB_HDR])
            return PW_PARSE_MISMATCH;
    if (n < NB_HDR)
        return eof ? PW_PARSE_MISMATCH : PW_PARSE_NEED_MORE;
    size_t len = (size_t)b[1] << 16 | (size_t)b[2] << 8 | b[3];
    if (len < 32 || len > PW_VERIFY_RX_MAX - NB_HDR)
        return PW_PARSE_MISMATCH;
    if (n < NB_HDR + len)
        return eof ? PW_PARSE_MISMATCH : PW_PARSE_NEED_MORE;
    const uint8_t *h = b + NB_HDR;
    if (memcmp(h, smb1_magic, 4) == 0) {
        /* An SMB1-only server answering in SMB1: still SMB. */
        out->smb1 = true;
        out->status = pw_get_u32le(h + 5);
        return PW_PARSE_OK;
    }
    if (len < SMB2_HDR || pw_get_u16le(h + 4) != SMB2_HDR ||
        pw_get_u16le(h + 12) != SMB2_NEGOTIATE ||
        !(pw_get_u32le(h + 16) & SMB2_FLAGS_SERVER_TO_REDIR))
        return PW_PARSE_MISMATCH;
    out->status = pw_get_u32le(h + 8);
    if (out->status != 0)
        return PW_PARSE_OK; /* an SMB2 server refusing: still SMB2 */
    if (len < SMB2_HDR + 64 || pw_get_u16le(h + SMB2_HDR) != NEG_RESP_SIZE)
        return PW_PARSE_MISMATCH;
    out->security_mode = pw_get_u16le(h + SMB2_HDR + 2);
    out->dialect = pw_get_u16le(h + SMB2_HDR + 4);
    return dialect_known(out->dialect) ? PW_PARSE_OK : PW_PARSE_MISMATCH;
}
