/*
 * Protocol proof: the one polite exchange the probe engine makes after a
 * connect succeeds, to tell "SQL Server answers on 1433" from "something
 * accepts connections on 1433". Per protocol, a request builder and a
 * parser of the reply. Parsers are pure functions over bytes (no libuv, no
 * allocation), so the libFuzzer targets in tests/fuzz/ call them directly;
 * the engine (exchange.c) and `portwatch rpc-endpoints` (epm_client.c) feed
 * them what the socket delivered so far.
 *
 * Every parser takes the bytes received so far and `eof` (the peer closed,
 * the timeout passed, or the buffer is full: no more bytes will come) and
 * returns PW_PARSE_NEED_MORE (only when !eof), PW_PARSE_OK or
 * PW_PARSE_MISMATCH. It decides MISMATCH as early as a byte proves the
 * reply cannot be the expected one.
 */
#ifndef PW_VERIFY_H
#define PW_VERIFY_H

#include "probes/probe.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pw_parse {
    PW_PARSE_NEED_MORE = 0,
    PW_PARSE_OK = 1,
    PW_PARSE_MISMATCH = 2,
};

/* The receive buffer the engine gives one exchange; every reply we wait
 * for fits well inside. */
#define PW_VERIFY_RX_MAX 4096
/* Largest request any protocol builds. */
#define PW_VERIFY_TX_MAX 512

/* ---- the protocol table and the engine's entry points (verify.c) --------- */

/* The protocol a port gets in the catalog (the table's port column);
 * PW_PROTO_NONE for a port no protocol claims. */
enum pw_proto pw_verify_proto_for_port(uint16_t port);

/* Whether proto's request takes 32 random bytes (the salt argument). */
bool pw_verify_salted(enum pw_proto proto);

/* Builds proto's request into buf (PW_VERIFY_TX_MAX bytes). host and port
 * are the target's (the HTTP Host header); salt is 32 random bytes when
 * pw_verify_salted(proto) (SMB 3.1.1's preauth salt and client GUID),
 * else unread. Returns its length, 0 for PW_PROTO_NONE. */
size_t pw_verify_request(enum pw_proto proto, const char *host, uint16_t port,
                         const uint8_t salt[32], uint8_t *buf);

/* Parses the reply so far and, once decided, writes a short printable
 * description into info (PW_VERIFY_INFO_MAX): "SQL Server 16.0.1000,
 * encryption off", "SMB 3.1.1", "HTTP/1.1 200; Microsoft-IIS/10.0", or on
 * a mismatch what came instead ("reply starts 48 54 54 50 (HTTP)"). */
enum pw_parse pw_verify_reply(enum pw_proto proto, const uint8_t *b, size_t n, bool eof,
                              char info[PW_VERIFY_INFO_MAX]);

/* ---- TDS (tds.c): MS-TDS 2.2.6.5 PRELOGIN -------------------------------- */

enum pw_tds_encryption {
    PW_TDS_ENCRYPT_OFF = 0,
    PW_TDS_ENCRYPT_ON = 1,
    PW_TDS_ENCRYPT_NOT_SUP = 2,
    PW_TDS_ENCRYPT_REQ = 3,
    PW_TDS_ENCRYPT_UNKNOWN = -1, /* absent or another value */
};

struct pw_tds_info {
    bool has_version;
    uint8_t major, minor;
    uint16_t build, subbuild;
    int encryption; /* enum pw_tds_encryption */
};

/* A PRELOGIN packet (type 0x12) offering VERSION 0.0.0, ENCRYPTION off,
 * the default instance, thread id 0 and MARS off. Returns its length. */
size_t pw_tds_prelogin_request(uint8_t *buf, size_t cap);
/* OK on one whole tabular-result packet (type 0x04, end of message) whose
 * option tokens are in bounds, end with 0xFF, and include VERSION. */
enum pw_parse pw_tds_prelogin_parse(const uint8_t *b, size_t n, bool eof,
                                    struct pw_tds_info *out);
const char *pw_tds_encryption_name(int e);

/* ---- SMB2 (smb2.c): MS-SMB2 2.2.3 / 2.2.4 NEGOTIATE ----------------------- */

struct pw_smb2_info {
    bool smb1;          /* an SMB1 reply (0xFF 'SMB'): the server has no SMB2 */
    uint32_t status;    /* NT status of the reply (0: success) */
    uint16_t dialect;   /* 0x0202, 0x0210, 0x0300, 0x0302, 0x0311 */
    uint16_t security_mode;
};

/* NEGOTIATE offering 2.0.2, 2.1, 3.0, 3.0.2 and 3.1.1, with the 3.1.1
 * negotiate contexts: preauth integrity (SHA-512, salt) and encryption
 * (AES-128-GCM, AES-128-CCM). salt doubles as the client GUID's source.
 * Framed for direct TCP (4-byte length). Returns its length or 0 if cap is
 * too small. */
size_t pw_smb2_negotiate_request(uint8_t *buf, size_t cap, const uint8_t salt[32]);
enum pw_parse pw_smb2_negotiate_parse(const uint8_t *b, size_t n, bool eof,
                                      struct pw_smb2_info *out);
/* "2.0.2", "3.1.1", or "0x02ff". buf needs 8 bytes. */
const char *pw_smb2_dialect_name(uint16_t d, char buf[8]);

/* ---- DCE/RPC connection-oriented PDUs (dcerpc.c): C706 ch. 12 ------------ */

enum {
    PW_DCERPC_REQUEST = 0,
    PW_DCERPC_RESPONSE = 2,
    PW_DCERPC_FAULT = 3,
    PW_DCERPC_BIND = 11,
    PW_DCERPC_BIND_ACK = 12,
    PW_DCERPC_BIND_NAK = 13,
};
#define PW_DCERPC_PFC_FIRST_FRAG 0x01
#define PW_DCERPC_PFC_LAST_FRAG 0x02
#define PW_DCERPC_HDR 16

/* A UUID as its string reads: d1-d2-d3-d4[0..1]-d4[2..7]. */
struct pw_uuid {
    uint32_t d1;
    uint16_t d2, d3;
    uint8_t d4[8];
};
struct pw_syntax {
    struct pw_uuid uuid;
    uint16_t major, minor;
};
extern const struct pw_syntax pw_dcerpc_epm_v3; /* e1af8308-...-08002b14a0fa 3.0 */
extern const struct pw_syntax pw_dcerpc_ndr_v2; /* 8a885d04-...-08002b104860 2.0 */

/* "e1af8308-5d1f-11c9-91a4-08002b14a0fa"; out needs 37 bytes. */
void pw_uuid_format(const struct pw_uuid *u, char out[37]);
/* A UUID from its 16 NDR bytes (first three fields in byte order `be`),
 * and back (little-endian). */
void pw_uuid_from_ndr(const uint8_t p[16], bool be, struct pw_uuid *out);
uint8_t *pw_uuid_to_ndr(uint8_t *p, const struct pw_uuid *u);

/* A bind (ptype 11) of one presentation context (id 0) to `abstract` over
 * `transfer`, little-endian, max fragments 4280. Returns its length. */
size_t pw_dcerpc_bind(uint8_t *buf, size_t cap, uint32_t call_id,
                      const struct pw_syntax *abstract, const struct pw_syntax *transfer);

struct pw_dcerpc_bind_info {
    uint8_t ptype;        /* 12 bind_ack, 13 bind_nak */
    uint16_t max_xmit, max_recv;
    uint32_t assoc_group;
    char sec_addr[32];    /* the secondary address ("135"), printable */
    uint16_t result;      /* first context: 0 accepted, 1 user rejection,
                             2 provider rejection */
    uint16_t reason;      /* its reason, or bind_nak's reject reason */
};
/* OK on a bind_ack whose first context result is acceptance; MISMATCH on
 * anything else, a bind_nak or a rejected context included (out still
 * filled, ptype says which). */
enum pw_parse pw_dcerpc_bind_ack_parse(const uint8_t *b, size_t n, bool eof,
                                       struct pw_dcerpc_bind_info *out);

/* A request PDU (ptype 0, context 0, one fragment, little-endian) carrying
 * stub. Returns its length or 0 if it does not fit cap. */
size_t pw_dcerpc_request(uint8_t *buf, size_t cap, uint32_t call_id, uint16_t opnum,
                         const uint8_t *stub, size_t stub_len);

/* Reassembles a fragmented response: feed it every PDU of one call in
 * order. The stub bytes are appended to a caller-owned buffer. */
struct pw_dcerpc_reasm {
    uint8_t *stub;       /* caller-provided */
    size_t cap, len;
    uint32_t call_id;    /* expected call id */
    bool big_endian;     /* the stub's integer order (first fragment's label) */
    bool started, done;
    uint32_t fault;      /* nonzero: the server answered with a fault */
};
/* Consumes at most one PDU from b[0..n): *used says how many bytes. Returns
 * NEED_MORE (need a whole PDU, or more fragments: feed again), OK (the last
 * fragment arrived, or a fault: see r->fault) or MISMATCH (not a response
 * PDU of this call, or the stub would exceed r->cap). */
enum pw_parse pw_dcerpc_response_feed(struct pw_dcerpc_reasm *r, const uint8_t *b, size_t n,
                                      size_t *used);

/* ---- HTTP (http_status.c) ------------------------------------------------ */

struct pw_http_info {
    int major, minor;    /* HTTP/major.minor */
    int status;          /* 100-999 */
    char server[48];     /* Server header, printable, possibly cut */
};
/* "HEAD / HTTP/1.1" with Host (IPv6 literal bracketed, port unless 80),
 * User-Agent and Connection: close. Returns its length or 0. */
size_t pw_http_head_request(char *buf, size_t cap, const char *host, uint16_t port);
/* OK once the status line is valid and the header block ended (or, at eof,
 * the status line alone); MISMATCH as soon as the bytes cannot be one. */
enum pw_parse pw_http_status_parse(const uint8_t *b, size_t n, bool eof,
                                   struct pw_http_info *out);

#endif
