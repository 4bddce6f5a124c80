/*
 * The protocol table: one row per protocol a probe can prove (enum
 * pw_proto; its name and service are config/protocol.c's), with the
 * catalog port that gets it by default, whether its request takes random
 * bytes, its request builder and its reply parser (one file each: tds.c,
 * dcerpc.c, smb2.c, http_status.c). Everything else reads the table: the
 * port rule, pw_verify_request / pw_verify_reply, which the engine calls
 * once a connect succeeds and on every read (exchange.c). Adding a
 * protocol is an enum value and a row in config/protocol.h and
 * protocol.c, a row here, and its parser file.
 *
 * Also here: the names of exchange outcomes and the short info text a
 * result carries.
 */
#include "probes/verify.h"

#include "base/error.h"
#include "config/values.h"

#include <stdio.h>
#include <string.h>

static const char *const verify_names[] = {
    [PW_VERIFY_NONE] = "",
    [PW_VERIFY_OFF] = "off",
    [PW_VERIFY_VERIFIED] = "verified",
    [PW_VERIFY_MISMATCH] = "mismatch",
    [PW_VERIFY_NO_REPLY] = "no_reply",
};
_Static_assert(sizeof verify_names / sizeof verify_names[0] == PW_VERIFY_COUNT_,
               "a name per enum pw_verify");

const char *pw_verify_name(enum pw_verify v)
{
    return (unsigned)v < PW_VERIFY_COUNT_ ? verify_names[v] : "invalid";
}

enum pw_proto pw_proto_default(const struct pw_plan *p, uint32_t target)
{
    if (!p || target >= p->ntargets)
        return PW_PROTO_NONE;
    const struct pw_target *t = &p->targets[target];
    const struct pw_profile *pr = pw_target_profile(p, t);
    if (pr->verify_proto == PW_PROTO_AUTO)
        return pw_verify_proto_for_port(t->port);
    return (unsigned)pr->verify_proto < PW_PROTO_COUNT_ ? (enum pw_proto)pr->verify_proto
                                                        : PW_PROTO_NONE;
}

/* What a reply that is not the expected one looks like, by its first
 * bytes, so a mismatch says what answered instead. */
static const struct {
    const char *magic;
    size_t len;
    const char *what;
} signatures[] = {
    {"HTTP/", 5, "an HTTP server"},
    {"SSH-", 4, "an SSH server"},
    {"\x16\x03", 2, "TLS"},
    {"\x15\x03", 2, "a TLS alert"},
    {"220", 3, "an FTP/SMTP banner"},
    {"+OK", 3, "a POP3 banner"},
    {"* OK", 4, "an IMAP banner"},
    {"\x04\x01", 2, "a TDS server"},
    {"\x05\x00\x0c", 3, "a DCE/RPC bind_ack"},
    {"\x05\x00\x0d", 3, "a DCE/RPC bind_nak"},
    {"\x05\x00", 2, "DCE/RPC"},
    {"\x00\x00", 2, "NetBIOS/SMB framing"},
};

static void describe(const uint8_t *b, size_t n, char info[PW_VERIFY_INFO_MAX])
{
    const char *what = NULL;
    for (size_t i = 0; i < sizeof signatures / sizeof signatures[0] && !what; i++)
        if (n >= signatures[i].len && memcmp(b, signatures[i].magic, signatures[i].len) == 0)
            what = signatures[i].what;
    char hex[16] = "";
    size_t o = 0;
    for (size_t i = 0; i < n && i < 4; i++)
        o += (size_t)snprintf(hex + o, sizeof hex - o, "%s%02x", i ? " " : "", b[i]);
    if (what)
        snprintf(info, PW_VERIFY_INFO_MAX, "%s answered (%s)", what, hex);
    else
        snprintf(info, PW_VERIFY_INFO_MAX, "unexpected reply (%zu bytes: %s)", n, hex);
}

static enum pw_parse reply_tds(const uint8_t *b, size_t n, bool eof, char *info)
{
    struct pw_tds_info t;
    enum pw_parse st = pw_tds_prelogin_parse(b, n, eof, &t);
    if (st == PW_PARSE_OK)
        snprintf(info, PW_VERIFY_INFO_MAX, "TDS %u.%u.%u, encryption %s", t.major, t.minor,
                 t.build, pw_tds_encryption_name(t.encryption));
    return st;
}

static enum pw_parse reply_rpc(const uint8_t *b, size_t n, bool eof, char *info)
{
    struct pw_dcerpc_bind_info r;
    enum pw_parse st = pw_dcerpc_bind_ack_parse(b, n, eof, &r);
    if (st == PW_PARSE_OK)
        snprintf(info, PW_VERIFY_INFO_MAX, "endpoint mapper v3 bound (port %.8s)",
                 r.sec_addr[0] ? r.sec_addr : "?");
    else if (st == PW_PARSE_MISMATCH && r.ptype == PW_DCERPC_BIND_NAK)
        snprintf(info, PW_VERIFY_INFO_MAX, "DCE/RPC bind_nak (reason %u): not the mapper",
                 r.reason);
    else if (st == PW_PARSE_MISMATCH && r.ptype == PW_DCERPC_BIND_ACK)
        snprintf(info, PW_VERIFY_INFO_MAX, "DCE/RPC bind_ack rejected the mapper (%u/%u)",
                 r.result, r.reason);
    return st;
}

static enum pw_parse reply_smb(const uint8_t *b, size_t n, bool eof, char *info)
{
    struct pw_smb2_info s;
    enum pw_parse st = pw_smb2_negotiate_parse(b, n, eof, &s);
    char d[8];
    if (st != PW_PARSE_OK)
        return st;
    if (s.smb1)
        snprintf(info, PW_VERIFY_INFO_MAX, "SMB1 only");
    else if (s.status)
        snprintf(info, PW_VERIFY_INFO_MAX, "SMB2 negotiate refused (status 0x%08x)",
                 (unsigned)s.status);
    else
        snprintf(info, PW_VERIFY_INFO_MAX, "SMB %s%s", pw_smb2_dialect_name(s.dialect, d),
                 s.security_mode & 0x2 ? ", signing required" : "");
    return st;
}

static enum pw_parse reply_http(const uint8_t *b, size_t n, bool eof, char *info)
{
    struct pw_http_info h;
    enum pw_parse st = pw_http_status_parse(b, n, eof, &h);
    if (st == PW_PARSE_OK)
        snprintf(info, PW_VERIFY_INFO_MAX, "HTTP/%d.%d %d%s%.40s", h.major, h.minor, h.status,
                 h.server[0] ? "; " : "", h.server);
    return st;
}

/* ---- request builders ----------------------------------------------------- */

static size_t request_tds(uint8_t *buf, const char *host, uint16_t port, const uint8_t *salt)
{
    return pw_tds_prelogin_request(buf, PW_VERIFY_TX_MAX);
}

static size_t request_rpc(uint8_t *buf, const char *host, uint16_t port, const uint8_t *salt)
{
    return pw_dcerpc_bind(buf, PW_VERIFY_TX_MAX, 1, &pw_dcerpc_epm_v3, &pw_dcerpc_ndr_v2);
}

static size_t request_smb(uint8_t *buf, const char *host, uint16_t port, const uint8_t *salt)
{
    return pw_smb2_negotiate_request(buf, PW_VERIFY_TX_MAX, salt);
}

static size_t request_http(uint8_t *buf, const char *host, uint16_t port, const uint8_t *salt)
{
    return pw_http_head_request((char *)buf, PW_VERIFY_TX_MAX, host, port);
}

/* ---- the table ------------------------------------------------------------ */

/* Indexed by config/protocol.h's enum pw_proto, whose table has each
 * one's name and service. */
static const struct {
    uint16_t port;      /* the catalog port that gets it by default; 0: none */
    bool salted;        /* its request takes 32 random bytes */
    /* Builds the request into buf (PW_VERIFY_TX_MAX); returns its length. */
    size_t (*request)(uint8_t *buf, const char *host, uint16_t port, const uint8_t *salt);
    /* A parser (verify.h) that also writes the info text once decided. */
    enum pw_parse (*reply)(const uint8_t *b, size_t n, bool eof, char *info);
} protos[] = {
    [PW_PROTO_NONE] = {0, false, NULL, NULL},
    [PW_PROTO_TDS] = {1433, false, request_tds, reply_tds},
    [PW_PROTO_RPC] = {135, false, request_rpc, reply_rpc},
    [PW_PROTO_SMB] = {445, true, request_smb, reply_smb},
    [PW_PROTO_HTTP] = {1164, false, request_http, reply_http},
};
_Static_assert(sizeof protos / sizeof protos[0] == PW_PROTO_COUNT_, "a row per enum pw_proto");

enum pw_proto pw_verify_proto_for_port(uint16_t port)
{
    for (int i = 1; i < PW_PROTO_COUNT_; i++)
        if (protos[i].port == port)
            return (enum pw_proto)i;
    return PW_PROTO_NONE;
}

bool pw_verify_salted(enum pw_proto proto)
{
    return (unsigned)proto < PW_PROTO_COUNT_ && protos[proto].salted;
}

size_t pw_verify_request(enum pw_proto proto, const char *host, uint16_t port,
                         const uint8_t salt[32], uint8_t *buf)
{
    if ((unsigned)proto >= PW_PROTO_COUNT_ || !protos[proto].request)
        return 0;
    return protos[proto].request(buf, host, port, salt);
}

enum pw_parse pw_verify_reply(enum pw_proto proto, const uint8_t *b, size_t n, bool eof,
                              char info[PW_VERIFY_INFO_MAX])
{
    info[0] = '\0';
    if ((unsigned)proto >= PW_PROTO_COUNT_ || !protos[proto].reply)
        return PW_PARSE_MISMATCH;
    enum pw_parse st = protos[proto].reply(b, n, eof, info);
    if (st == PW_PARSE_MISMATCH && !info[0])
        describe(b, n, info);
    return st;
}
