/*
 * The dashboard's files, compiled into the binary so an administration
 * server without internet access (and without a web root to install)
 * serves them as they were built. embed.c turns web/dashboard/'s assets
 * into a table at build time; the web layer's router asks this module for
 * a path and sends the bytes with their content type and ETag.
 */
#ifndef PW_DASHBOARD_ASSETS_H
#define PW_DASHBOARD_ASSETS_H

#include <stddef.h>

struct pw_asset {
    const char *path;         /* "/index.html", "/app.js", ... */
    const char *content_type; /* "text/html; charset=utf-8", ... */
    const unsigned char *data;
    size_t len;
    const char *etag;         /* strong, quoted: "\"pw-<hash>-<len>\"" */
};

/* The asset served at path (the URL path, already percent-decoded, without
 * the query string); "/" is "/index.html". NULL when no asset has that
 * path. The result is static: never freed. */
const struct pw_asset *pw_dashboard_asset(const char *path);

/* Every asset, for tests and for listing; *n receives the count. */
const struct pw_asset *pw_dashboard_assets(size_t *n);

#endif
