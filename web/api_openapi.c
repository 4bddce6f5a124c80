/*
 * GET /api/v1/openapi.json: the OpenAPI 3.1 description of this API,
 * web/openapi.json as built into the binary (web/embed_doc.c, with the
 * version filled in by meson). One file in the tree describes every
 * endpoint and error; tests/api validates real answers against it.
 */
#include "web/api.h"

#include <stdlib.h>
#include <string.h>

extern const char pw_openapi_json[];
extern const size_t pw_openapi_json_len;

void pw_api_openapi(struct pw_req *r, struct pw_reply *out)
{
    (void)r;
    char *body = malloc(pw_openapi_json_len);
    if (!body) {
        pw_reply_error(out, 503, "unavailable", "out of memory");
        return;
    }
    memcpy(body, pw_openapi_json, pw_openapi_json_len);
    pw_reply_text(out, 200, "application/json", body, pw_openapi_json_len);
}
