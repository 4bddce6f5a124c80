/*
 * The protocol names and services (protocol.h).
 */
#include "config/protocol.h"

#include "base/error.h"
#include "base/text.h"
#include "config/values.h"

#include <stdio.h>

static const char auto_name[] = "auto";

static const struct {
    const char *name;    /* `protocol =` in a [check], and the reports */
    const char *service; /* what a verified exchange proves answers */
} protos[] = {
    [PW_PROTO_NONE] = {"none", NULL},
    [PW_PROTO_TDS] = {"tds", "SQL Server"},
    [PW_PROTO_RPC] = {"rpc", "the RPC endpoint mapper"},
    [PW_PROTO_SMB] = {"smb", "SMB"},
    [PW_PROTO_HTTP] = {"http", "an HTTP server"},
};
_Static_assert(sizeof protos / sizeof protos[0] == PW_PROTO_COUNT_, "a row per enum pw_proto");

const char *pw_proto_name(enum pw_proto p)
{
    return (unsigned)p < PW_PROTO_COUNT_ ? protos[p].name : "invalid";
}

int pw_proto_parse(const char *s, enum pw_proto *out)
{
    for (int i = 0; s && i < PW_PROTO_COUNT_; i++)
        if (pw_strcasecmp(s, protos[i].name) == 0) {
            *out = (enum pw_proto)i;
            return 0;
        }
    return PW_EINVAL;
}

const char *pw_proto_service(enum pw_proto p)
{
    return (unsigned)p < PW_PROTO_COUNT_ ? protos[p].service : NULL;
}

int pw_proto_choice_parse(const char *s, int *out)
{
    enum pw_proto p;
    if (s && pw_strcasecmp(s, auto_name) == 0) {
        *out = PW_PROTO_AUTO;
        return 0;
    }
    if (pw_proto_parse(s, &p) != 0)
        return PW_EINVAL;
    *out = (int)p;
    return 0;
}

void pw_proto_choices(char *buf, size_t len)
{
    if (len == 0)
        return;
    size_t used = (size_t)snprintf(buf, len, "%s", auto_name);
    for (int i = 0; i < PW_PROTO_COUNT_ && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, ", %s", protos[i].name);
}
