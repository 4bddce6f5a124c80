/*
 * Bearer-token authentication of API requests (auth.c). The dashboard's
 * files need none (routes.c says which paths do).
 */
#ifndef PW_WEB_AUTH_H
#define PW_WEB_AUTH_H

#include "web/reply.h"

/* Whether header (the Authorization request header, or NULL) carries
 * token. When not, fills out with the 401 and its challenge. */
bool pw_auth_check(const char *token, size_t token_len, const char *header,
                   struct pw_reply *out);

#endif
