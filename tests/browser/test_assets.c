/*
 * Unit tests of the embedded dashboard (web/dashboard/assets.h): the
 * lookup the router relies on ("/" is index.html, unknown paths are NULL),
 * ETags, content types, bytes equal to the source files, and a lint of
 * the rules the page must keep to be served under the strict CSP: nothing
 * inline, nothing from another origin, no eval or innerHTML. Fast and
 * without a browser, so it runs in the unit suite (and under Wine);
 * dashboard.test.js checks the same page in Chromium.
 */
#include "web/dashboard/assets.h"

#include "tests/check_run.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct pw_asset *must(const char *path)
{
    const struct pw_asset *a = pw_dashboard_asset(path);
    ck_assert_msg(a != NULL, "no asset at %s", path);
    return a;
}

/* The asset's bytes as a NUL-terminated string (assets are text). */
static char *text_of(const struct pw_asset *a)
{
    char *s = malloc(a->len + 1);
    ck_assert_ptr_nonnull(s);
    memcpy(s, a->data, a->len);
    s[a->len] = '\0';
    ck_assert_msg(strlen(s) == a->len, "%s holds a NUL byte", a->path);
    return s;
}

START_TEST(root_is_index)
{
    const struct pw_asset *root = must("/"), *index = must("/index.html");
    ck_assert_ptr_eq(root, index);
    ck_assert_str_eq(index->content_type, "text/html; charset=utf-8");
    ck_assert_str_eq(must("/app.js")->content_type, "text/javascript; charset=utf-8");
    ck_assert_str_eq(must("/app.css")->content_type, "text/css; charset=utf-8");
    ck_assert_str_eq(must("/icon.svg")->content_type, "image/svg+xml");
}
END_TEST

START_TEST(unknown_paths)
{
    static const char *const bad[] = {
        "", "index.html", "/index.htm", "/INDEX.HTML", "/index.html?x=1", "/../index.html",
        "//index.html", "/api/v1/status", "/metrics", "/favicon.ico", "/app.js/", "/web/dashboard/app.js",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(pw_dashboard_asset(bad[i]) == NULL, "'%s' should not be an asset", bad[i]);
    ck_assert_ptr_null(pw_dashboard_asset(NULL));
}
END_TEST

START_TEST(etags)
{
    size_t n;
    const struct pw_asset *v = pw_dashboard_assets(&n);
    ck_assert_uint_ge(n, 4);
    for (size_t i = 0; i < n; i++) {
        const char *e = v[i].etag;
        size_t el = strlen(e);
        /* strong, quoted: "pw-<16 hex>-<hex length>" */
        ck_assert_msg(el > 22 && e[0] == '"' && e[el - 1] == '"' && strncmp(e + 1, "pw-", 3) == 0,
                      "bad etag %s", e);
        for (size_t k = 4; k < 20; k++)
            ck_assert_msg(strchr("0123456789abcdef", e[k]) != NULL, "bad etag %s", e);
        ck_assert_int_eq(e[20], '-');
        ck_assert_uint_eq(strtoul(e + 21, NULL, 16), v[i].len);
        ck_assert_uint_gt(v[i].len, 0);
        ck_assert_ptr_eq(pw_dashboard_asset(v[i].path), &v[i]);
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(v[j].etag, e);
    }
}
END_TEST

/* The embedded bytes are the source files' (a stale or truncated embed
 * would serve an old page). Needs the source tree: PW_SOURCE_ROOT. */
START_TEST(bytes_match_sources)
{
    const char *root = getenv("PW_SOURCE_ROOT");
    if (!root)
        return;
    size_t n;
    const struct pw_asset *v = pw_dashboard_assets(&n);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/web/dashboard%s", root, v[i].path);
        FILE *f = fopen(path, "rb");
        ck_assert_msg(f != NULL, "cannot open %s", path);
        unsigned char *buf = malloc(v[i].len + 2);
        ck_assert_ptr_nonnull(buf);
        size_t got = fread(buf, 1, v[i].len + 1, f);
        fclose(f);
        ck_assert_msg(got == v[i].len && memcmp(buf, v[i].data, got) == 0,
                      "%s differs from its embedded copy", path);
        free(buf);
    }
}
END_TEST

/* Every src= and href= in index.html names an embedded asset, the API, or
 * a fragment: nothing is fetched from another origin. */
START_TEST(index_references_only_own_files)
{
    char *html = text_of(must("/index.html"));
    static const char *const attrs[] = {"src=\"", "href=\""};
    size_t refs = 0;
    for (size_t k = 0; k < 2; k++) {
        for (const char *p = strstr(html, attrs[k]); p; p = strstr(p + 1, attrs[k])) {
            const char *v = p + strlen(attrs[k]);
            size_t len = strcspn(v, "\"");
            char ref[256];
            ck_assert_uint_lt(len, sizeof ref);
            memcpy(ref, v, len);
            ref[len] = '\0';
            refs++;
            if (ref[0] == '#' || strncmp(ref, "api/v1/", 7) == 0 || strcmp(ref, "metrics") == 0)
                continue;
            char path[260];
            snprintf(path, sizeof path, "/%s", ref);
            ck_assert_msg(pw_dashboard_asset(path) != NULL,
                          "index.html refers to '%s', which is not an embedded asset", ref);
        }
    }
    ck_assert_uint_ge(refs, 4);
    free(html);
}
END_TEST

/* What the CSP (script-src 'self'; style-src 'self') would block, and the
 * DOM APIs the page promised not to use. */
START_TEST(csp_lint)
{
    char *html = text_of(must("/index.html"));
    ck_assert_msg(strstr(html, "<style") == NULL, "inline <style> in index.html");
    ck_assert_msg(strstr(html, " style=") == NULL, "style attribute in index.html");
    /* an attribute " on<letters>=" is an inline event handler */
    for (const char *p = strstr(html, " on"); p; p = strstr(p + 1, " on")) {
        const char *q = p + 3;
        while (*q >= 'a' && *q <= 'z')
            q++;
        ck_assert_msg(!(q > p + 3 && *q == '='), "inline event handler in index.html: %.20s", p);
    }
    for (const char *p = strstr(html, "<script"); p; p = strstr(p + 1, "<script")) {
        const char *end = strchr(p, '>');
        ck_assert_ptr_nonnull(end);
        const char *src = strstr(p, " src=");
        ck_assert_msg(src && src < end, "inline <script> in index.html");
        ck_assert_msg(strncmp(end + 1, "</script>", 9) == 0, "script with a body in index.html");
    }
    free(html);
    char *js = text_of(must("/app.js"));
    static const char *const banned[] = {
        "eval(", "new Function", "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
        "setAttribute('style'", "http://", "https://", "setTimeout('", "setInterval('",
    };
    for (size_t i = 0; i < sizeof banned / sizeof banned[0]; i++) {
        const char *hit = strstr(js, banned[i]);
        /* The SVG namespace is a name, not a URL the page fetches. */
        if (hit && strncmp(hit, "http://www.w3.org/2000/svg", 26) == 0)
            hit = strstr(hit + 26, banned[i]);
        ck_assert_msg(hit == NULL, "app.js uses %s", banned[i]);
    }
    free(js);
    char *css = text_of(must("/app.css"));
    ck_assert_msg(strstr(css, "@import") == NULL && strstr(css, "url(http") == NULL &&
                      strstr(css, "@font-face") == NULL,
                  "app.css loads something from elsewhere");
    free(css);
}
END_TEST

static Suite *assets_suite(void)
{
    Suite *s = suite_create("dashboard-assets");
    TCase *tc = tcase_create("assets");
    tcase_add_test(tc, root_is_index);
    tcase_add_test(tc, unknown_paths);
    tcase_add_test(tc, etags);
    tcase_add_test(tc, bytes_match_sources);
    tcase_add_test(tc, index_references_only_own_files);
    tcase_add_test(tc, csp_lint);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pw_check_run(assets_suite());
}
