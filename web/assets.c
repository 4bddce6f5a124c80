/*
 * The dashboard's files (web/dashboard/), served from memory with their
 * ETags and a strict Content-Security-Policy.
 */
#include "web/server_int.h"
#include "web/dashboard/assets.h"

#include <microhttpd.h>
#include <string.h>

/* The dashboard's files (web/dashboard/) are served without the API token:
 * they hold no data, and a browser cannot send a bearer header when it
 * navigates; the API calls the page makes carry the token. Revalidated by
 * ETag on every load (no-cache) so an upgrade shows at once, under a CSP
 * that allows nothing but this origin. */
static const char dashboard_csp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

bool pw_assets_serve(struct pw_req *r, const char *method, int *ok)
{
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return false;
    char path[64];
    size_t n = strcspn(r->raw, "?#");
    if (n >= sizeof path)
        return false;
    memcpy(path, r->raw, n);
    path[n] = '\0';
    const struct pw_asset *a = pw_dashboard_asset(path);
    if (!a)
        return false;
    const char *inm = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                  MHD_HTTP_HEADER_IF_NONE_MATCH);
    bool fresh = inm && (strstr(inm, a->etag) || strcmp(inm, "*") == 0);
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        fresh ? 0 : a->len, fresh ? NULL : (void *)a->data, MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        *ok = 0;
        return true;
    }
    if (!fresh)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, a->etag);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(resp, "Content-Security-Policy", dashboard_csp);
    if (r->w->pem_cert)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_STRICT_TRANSPORT_SECURITY,
                                "max-age=31536000");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    *ok = MHD_queue_response(r->conn, fresh ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, resp) == MHD_YES;
    MHD_destroy_response(resp);
    return true;
}
