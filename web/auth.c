/*
 * Bearer tokens (RFC 6750) for the API (web/auth.h).
 */
#include "web/auth.h"

#include "base/text.h"
#include "config/values.h"

#include <string.h>

/* The credential of a "Bearer TOKEN" header (scheme case-insensitive), or
 * NULL for no header or another scheme. */
static const char *bearer_of(const char *header)
{
    if (!header || strlen(header) < 7)
        return NULL;
    char scheme[7];
    memcpy(scheme, header, 6);
    scheme[6] = '\0';
    if (pw_strcasecmp(scheme, "bearer") != 0 || header[6] != ' ')
        return NULL;
    return header + 7;
}

/* Compares in time independent of where the strings differ. */
static bool token_ok(const char *token, size_t token_len, const char *header)
{
    const char *t = bearer_of(header);
    if (!t)
        return false;
    while (*t == ' ')
        t++;
    size_t n = strlen(t);
    unsigned char diff = (unsigned char)(n != token_len);
    for (size_t i = 0; i < token_len; i++)
        diff |= (unsigned char)(token[i] ^ (i < n ? t[i] : 0));
    return diff == 0;
}

bool pw_auth_check(const char *token, size_t token_len, const char *header,
                   struct pw_reply *out)
{
    if (token_ok(token, token_len, header))
        return true;
    /* RFC 6750 section 3: a request without a bearer token gets only the
     * realm; one whose token is wrong is told so (invalid_token), so a
     * client can tell "send a token" from "your token was refused". */
    if (bearer_of(header)) {
        pw_reply_error(out, 401, "unauthorized",
                       "the bearer token is not valid; send the api_token this server "
                       "is configured with");
        out->challenge = "Bearer realm=\"portwatch\", error=\"invalid_token\"";
    } else {
        pw_reply_error(out, 401, "unauthorized",
                       header ? "this server takes only bearer tokens: send the header "
                                "'Authorization: Bearer TOKEN'"
                              : "this server needs an API token: send the header "
                                "'Authorization: Bearer TOKEN'");
        out->challenge = "Bearer realm=\"portwatch\"";
    }
    return false;
}
