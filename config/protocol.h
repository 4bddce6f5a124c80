/*
 * The protocols a probe can prove after connecting (issue 9), as the
 * configuration names them: the enum, each one's name (`protocol =` in a
 * [check], `--protocol`, the reports) and the service it proves, in one
 * table (protocol.c). config/ parses the names, so they live here, below
 * probes/; probes/verify.c holds the rest of each row (catalog port,
 * request builder, reply parser), tied to this enum by a static assertion.
 * Adding a protocol: an enum value and a row here, a row in verify.c and
 * its parser file.
 */
#ifndef PW_PROTOCOL_H
#define PW_PROTOCOL_H

#include <stddef.h>

/* Stable integers. */
enum pw_proto {
    PW_PROTO_NONE = 0,
    PW_PROTO_TDS = 1,  /* SQL Server: TDS PRELOGIN */
    PW_PROTO_RPC = 2,  /* RPC endpoint mapper: DCE/RPC bind to EPM v3 */
    PW_PROTO_SMB = 3,  /* SMB2 NEGOTIATE */
    PW_PROTO_HTTP = 4, /* HTTP/1.1 HEAD / */
    PW_PROTO_COUNT_
};

/* A [check]'s protocol when it names none: by port, as for catalog rows. */
#define PW_PROTO_AUTO (-1)

/* "none", "tds", "rpc", "smb", "http"; "invalid" out of range. */
const char *pw_proto_name(enum pw_proto p);
/* A name of pw_proto_name, in any case; PW_EINVAL otherwise. */
int pw_proto_parse(const char *s, enum pw_proto *out);
/* The service the exchange proves, as a cause names it ("SQL Server",
 * "the RPC endpoint mapper", "SMB", "an HTTP server"); NULL for none or
 * out of range. */
const char *pw_proto_service(enum pw_proto p);

/* A check's choice: "auto" (PW_PROTO_AUTO) or a protocol's name, in any
 * case. Returns 0 and *out, or PW_EINVAL. */
int pw_proto_choice_parse(const char *s, int *out);
/* The choices, for messages and the reference: "auto, none, tds, rpc,
 * smb, http" (always terminated). */
void pw_proto_choices(char *buf, size_t len);

#endif
