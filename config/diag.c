/*
 * Collecting configuration problems (pw_diag) and suggesting the name that
 * was probably meant ("did you mean").
 */
#include "config/config_int.h"

#include "base/error.h"
#include "base/text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- diagnostics ------------------------------------------------------- */

void pw_diag_add(struct pw_diag *d, const char *fmt, ...)
{
    if (d->n >= PW_DIAG_KEEP) {
        d->more++;
        return;
    }
    if (!d->msgs && !(d->msgs = calloc(PW_DIAG_KEEP, sizeof *d->msgs))) {
        d->more++; /* out of memory: still counted */
        return;
    }
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    pw_utf8_trim_cut(buf);
    if (!(d->msgs[d->n] = strdup(buf))) {
        d->more++;
        return;
    }
    d->n++;
}

size_t pw_diag_count(const struct pw_diag *d)
{
    return d->n + d->more;
}

void pw_diag_print(const struct pw_diag *d, FILE *f)
{
    for (size_t i = 0; i < d->n; i++)
        fprintf(f, "%s\n", d->msgs[i]);
    if (d->more)
        fprintf(f, "... and %zu more (%zu in all)\n", d->more,
                pw_diag_count(d));
}

void pw_diag_free(struct pw_diag *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->msgs[i]);
    free(d->msgs);
    d->msgs = NULL;
    d->n = 0;
    d->more = 0;
}

/* ---- "did you mean" ---------------------------------------------------- */

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 99;
    size_t prev[65], cur[65];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (lb + 1) * sizeof prev[0]);
    }
    return prev[lb];
}

const char *cf_nearest(const char *word, const char *const *cands, size_t n)
{
    const char *best = NULL;
    size_t bestd = 3;
    for (size_t i = 0; i < n; i++) {
        size_t d = edit_distance(word, cands[i]);
        size_t limit = strlen(cands[i]) / 3 + 1;
        if (d < bestd && d <= limit) {
            best = cands[i];
            bestd = d;
        }
    }
    return best;
}

const char *pw_nearest_name(const char *word, const char *const *names, size_t n)
{
    return cf_nearest(word, names, n);
}
