/*
 * Lookup over the asset table that embed.c generates (assets_data.c in
 * the build folder). The web router calls pw_dashboard_asset() for every
 * path outside /api and /metrics.
 */
#include "web/dashboard/assets.h"

#include <string.h>

/* Defined by the generated assets_data.c. */
extern const struct pw_asset pw_dashboard_table[];
extern const size_t pw_dashboard_table_len;

const struct pw_asset *pw_dashboard_asset(const char *path)
{
    if (!path)
        return NULL;
    if (strcmp(path, "/") == 0)
        path = "/index.html";
    for (size_t i = 0; i < pw_dashboard_table_len; i++)
        if (strcmp(pw_dashboard_table[i].path, path) == 0)
            return &pw_dashboard_table[i];
    return NULL;
}

const struct pw_asset *pw_dashboard_assets(size_t *n)
{
    *n = pw_dashboard_table_len;
    return pw_dashboard_table;
}
