/*
 * Bearer tokens (RFC 6750) for the API (web/auth.h).
 */
#include "web/auth.h"

#include "config/values.h"

#include <string.h>

/* Compares in time independent of where the strings differ. */
static bool token_ok(const char *token, size_t token_len, const char *header)
{
    if (!header || strlen(header) < 7)
        return false;
    char scheme[7];
    memcpy(scheme, header, 6);
    scheme[6] = '\0';
    if (pw_strcasecmp(scheme, "bearer") != 0 || header[6] != ' ')
        return false;
    const char *t = header + 7;
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
    pw_reply_error(out, 401, "unauthorized",
                   header ? "the bearer token is not valid"
                          : "this server needs an API token: send the header "
                            "'Authorization: Bearer TOKEN'");
    out->challenge = "Bearer realm=\"portwatch\"";
    return false;
}
