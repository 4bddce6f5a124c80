/*
 * Cause texts (see cause.h). The words follow what each state proves about
 * the path: a refusal comes from the host itself, so the network lets the
 * connection through and only the service is missing; silence means
 * something on the way drops it; an ICMP error names the network.
 */
#include "probes/cause.h"

#include <stdbool.h>
#include <stdio.h>

static const char *const meaning[] = {
    [PW_STATE_OPEN] = "open: accepted the connection",
    [PW_STATE_CLOSED] = "refused: nothing listens (the path is open)",
    [PW_STATE_FILTERED] = "filtered: no answer within the timeout (a firewall drops it)",
    [PW_STATE_UNREACHABLE] = "unreachable: the host or its network cannot be reached",
    [PW_STATE_DNS_ERROR] = "the name does not resolve",
    [PW_STATE_ERROR] = "error",
};
_Static_assert(sizeof meaning / sizeof meaning[0] == PW_STATE_COUNT_,
               "a meaning for every enum pw_state");

/* What a probe outcome means for one state alone, e.g. "refused: nothing
 * listens (the path is open)". Never NULL. */
static const char *state_meaning(enum pw_state s)
{
    return (unsigned)s < PW_STATE_COUNT_ ? meaning[s] : "unknown state";
}

static const char *const keys[] = {
    [PW_STATE_OPEN] = "open",
    [PW_STATE_CLOSED] = "refused",
    [PW_STATE_FILTERED] = "filtered",
    [PW_STATE_UNREACHABLE] = "unreachable",
    [PW_STATE_DNS_ERROR] = "dns_error",
    [PW_STATE_ERROR] = "error",
};
_Static_assert(sizeof keys / sizeof keys[0] == PW_STATE_COUNT_, "a key for every enum pw_state");

const char *pw_cause_key(enum pw_state state, enum pw_verify verify)
{
    if ((unsigned)state >= PW_STATE_COUNT_)
        return "error";
    /* a mismatch is a cause of its own, like a refusal: the port answers,
     * but not as the service it should be */
    if (state == PW_STATE_OPEN && verify == PW_VERIFY_MISMATCH)
        return "mismatch";
    if (state == PW_STATE_OPEN && verify == PW_VERIFY_NO_REPLY)
        return "no_reply";
    return keys[state];
}

static char *verified_cause(enum pw_verify verify, const char *info, const char *service,
                            char *buf, size_t len)
{
    const char *want = service && service[0] ? service : "the expected service";
    switch (verify) {
    case PW_VERIFY_VERIFIED:
        snprintf(buf, len, "open: %s answered%s%s%s", want, info[0] ? " (" : "", info,
                 info[0] ? ")" : "");
        break;
    case PW_VERIFY_MISMATCH:
        snprintf(buf, len, "wrong service: %s, not %s", info[0] ? info : "something else answered",
                 want);
        break;
    case PW_VERIFY_NO_REPLY:
        snprintf(buf, len, "open, but no reply: accepted the connection, then did not answer "
                           "as %s would", want);
        break;
    default:
        snprintf(buf, len, "%s", meaning[PW_STATE_OPEN]);
    }
    return buf;
}

char *pw_cause_format(enum pw_state state, enum pw_verify verify, const char *verify_info,
                      const char *detail, const char *service, char *buf, size_t len)
{
    if (len == 0)
        return buf;
    if (state == PW_STATE_OPEN)
        return verified_cause(verify, verify_info ? verify_info : "", service, buf, len);
    /* Refused and filtered say all there is; the others carry the OS's or
     * the resolver's own words. */
    bool says_more = state != PW_STATE_CLOSED && state != PW_STATE_FILTERED;
    if (says_more && detail && detail[0])
        snprintf(buf, len, "%s (%s)", state_meaning(state), detail);
    else
        snprintf(buf, len, "%s", state_meaning(state));
    return buf;
}

const char *pw_target_service(const struct pw_plan *p, uint32_t t)
{
    const struct pw_profile *pf = pw_target_profile(p, &p->targets[t]);
    /* a check's reasons[0].service is the check's own name, not a service */
    if (pf->nreasons && pf->reasons[0].row)
        return pf->reasons[0].service;
    return pw_proto_service(pw_proto_default(p, t));
}
