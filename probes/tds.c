/*
 * SQL Server's TDS PRELOGIN exchange (MS-TDS 2.2.6.5), the proof that a
 * TDS server answers on a port: the request a client sends before login,
 * and the parser of the server's reply (its version and encryption
 * setting). No credentials are sent; after the reply the engine closes.
 * Used by verify.c and by tests/fuzz/fuzz_verify.c (as fuzz_tds).
 */
#include "probes/verify.h"

#include "probes/wire.h"

#define TDS_PRELOGIN 0x12
#define TDS_TABULAR 0x04
#define TDS_STATUS_EOM 0x01
#define TDS_HDR 8

enum { OPT_VERSION = 0, OPT_ENCRYPTION = 1, OPT_INSTOPT = 2, OPT_THREADID = 3, OPT_MARS = 4,
       OPT_TERMINATOR = 0xFF };

/* Our option values: client version 0.0.0, encryption off (the server
 * then says what it wants), the default instance (""), thread 0, no
 * MARS. */
static const struct {
    uint8_t token;
    uint8_t len;
    uint8_t data[6];
} request_opts[] = {
    {OPT_VERSION, 6, {0, 0, 0, 0, 0, 0}},
    {OPT_ENCRYPTION, 1, {PW_TDS_ENCRYPT_OFF}},
    {OPT_INSTOPT, 1, {0}},
    {OPT_THREADID, 4, {0, 0, 0, 0}},
    {OPT_MARS, 1, {0}},
};
#define NOPTS (sizeof request_opts / sizeof request_opts[0])

size_t pw_tds_prelogin_request(uint8_t *buf, size_t cap)
{
    size_t table = NOPTS * 5 + 1, data = 0;
    for (size_t i = 0; i < NOPTS; i++)
        data += request_opts[i].len;
    size_t total = TDS_HDR + table + data;
    if (cap < total)
        return 0;
    uint8_t *p = buf;
    *p++ = TDS_PRELOGIN;
    *p++ = TDS_STATUS_EOM;
    p = pw_wr_u16be(p, (uint16_t)total);
    p = pw_wr_u16be(p, 0); /* SPID */
    *p++ = 1;              /* packet id */
    *p++ = 0;              /* window */
    size_t off = table;
    uint8_t *d = buf + TDS_HDR + table;
    for (size_t i = 0; i < NOPTS; i++) {
        *p++ = request_opts[i].token;
        p = pw_wr_u16be(p, (uint16_t)off);
        p = pw_wr_u16be(p, request_opts[i].len);
        memcpy(d, request_opts[i].data, request_opts[i].len);
        d += request_opts[i].len;
        off += request_opts[i].len;
    }
    *p = OPT_TERMINATOR;
    return total;
}

static const char *const encryption_names[] = {
    [PW_TDS_ENCRYPT_OFF] = "off",
    [PW_TDS_ENCRYPT_ON] = "on",
    [PW_TDS_ENCRYPT_NOT_SUP] = "not supported",
    [PW_TDS_ENCRYPT_REQ] = "required",
};
_Static_assert(sizeof encryption_names / sizeof encryption_names[0] == PW_TDS_ENCRYPT_REQ + 1,
               "a name per enum pw_tds_encryption value");

const char *pw_tds_encryption_name(int e)
{
    if (e < 0 || e > PW_TDS_ENCRYPT_REQ)
        return "unknown";
    return encryption_names[e];
}

/* Walks the option table of a PRELOGIN message body. */
static bool parse_options(const uint8_t *d, size_t n, struct pw_tds_info *out)
{
    size_t i = 0;
    for (unsigned tokens = 0; tokens < 64; tokens++) {
        if (i >= n)
            return false; /* no terminator */
        uint8_t tok = d[i];
        if (tok == OPT_TERMINATOR)
            return out->has_version;
        if (n - i < 5)
            return false;
        size_t off = pw_get_u16be(d + i + 1), len = pw_get_u16be(d + i + 3);
        if (off > n || len > n - off)
            return false;
        if (tok == OPT_VERSION) {
            if (len < 6)
                return false;
            out->has_version = true;
            out->major = d[off];
            out->minor = d[off + 1];
            out->build = pw_get_u16be(d + off + 2);
            out->subbuild = pw_get_u16be(d + off + 4);
        } else if (tok == OPT_ENCRYPTION && len >= 1) {
            out->encryption = d[off] <= PW_TDS_ENCRYPT_REQ ? d[off] : PW_TDS_ENCRYPT_UNKNOWN;
        }
        i += 5;
    }
    return false;
}

enum pw_parse pw_tds_prelogin_parse(const uint8_t *b, size_t n, bool eof,
                                    struct pw_tds_info *out)
{
    memset(out, 0, sizeof *out);
    out->encryption = PW_TDS_ENCRYPT_UNKNOWN;
    if (n >= 1 && b[0] != TDS_TABULAR)
        return PW_PARSE_MISMATCH;
    if (n >= 4) {
        size_t len = pw_get_u16be(b + 2);
        if (len <= TDS_HDR || len > PW_VERIFY_RX_MAX)
            return PW_PARSE_MISMATCH;
        if (n >= len) {
            if (!(b[1] & TDS_STATUS_EOM))
                return PW_PARSE_MISMATCH;
            return parse_options(b + TDS_HDR, len - TDS_HDR, out) ? PW_PARSE_OK
                                                                  : PW_PARSE_MISMATCH;
        }
    }
    return eof ? PW_PARSE_MISMATCH : PW_PARSE_NEED_MORE;
}
