/*
 * Views of a built plan: the plan filtered to a host or a role (`check
 * --host/--role`, which must outlive its source), and the plan printed
 * for `config-check`.
 */
#include "config/plan_int.h"

#include "base/error.h"
#include "base/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int copy_profile(struct pw_profile *dst, const struct pw_profile *src)
{
    *dst = *src;
    dst->roles = malloc((src->nroles ? src->nroles : 1) * sizeof *dst->roles);
    dst->reasons = malloc((src->nreasons ? src->nreasons : 1) * sizeof *dst->reasons);
    if (!dst->roles || !dst->reasons) {
        plan_profile_free(dst);
        return PW_ENOMEM;
    }
    memcpy(dst->roles, src->roles, src->nroles * sizeof *dst->roles);
    memcpy(dst->reasons, src->reasons, src->nreasons * sizeof *dst->reasons);
    return 0;
}

static int profile_has_role(const struct pw_profile *pr, const char *role)
{
    for (size_t i = 0; i < pr->nroles; i++)
        if (strcmp(pr->roles[i], role) == 0)
            return 1;
    return 0;
}

/* The filtered plan shares nothing with the original: strings are copied
 * into its own pool, so either may be freed first. */
int pw_plan_filter(const struct pw_plan *src, const char *host, const char *role,
                   struct pw_plan **out)
{
    *out = NULL;
    struct pw_plan *p = calloc(1, sizeof *p);
    struct pool *pool = calloc(1, sizeof *pool);
    int rc = PW_ENOMEM;
    if (!p || !pool) {
        free(p);
        free(pool);
        return rc;
    }
    p->arena_ = pool;
    p->hosts = calloc(src->nhosts ? src->nhosts : 1, sizeof *p->hosts);
    p->targets = calloc(src->ntargets ? src->ntargets : 1, sizeof *p->targets);
    p->profiles = calloc(src->nprofiles ? src->nprofiles : 1, sizeof *p->profiles);
    if (!p->hosts || !p->targets || !p->profiles)
        goto fail;
    for (size_t i = 0; i < src->nprofiles; i++) {
        if ((rc = copy_profile(&p->profiles[i], &src->profiles[i])) != 0)
            goto fail;
        p->nprofiles++;
        struct pw_profile *pr = &p->profiles[i];
        for (size_t r = 0; r < pr->nroles; r++)
            if (!(pr->roles[r] = plan_pool_dup(pool, pr->roles[r])))
                goto fail;
        for (size_t r = 0; r < pr->nreasons; r++) {
            pr->reasons[r].role = plan_pool_dup(pool, pr->reasons[r].role);
            pr->reasons[r].service = plan_pool_dup(pool, pr->reasons[r].service);
            pr->reasons[r].text = plan_pool_dup(pool, pr->reasons[r].text);
            if (!pr->reasons[r].role || !pr->reasons[r].service || !pr->reasons[r].text)
                goto fail;
        }
    }
    rc = PW_ENOMEM;
    for (size_t h = 0; h < src->nhosts; h++) {
        if (host && pw_strcasecmp(src->hosts[h].name, host) != 0)
            continue;
        uint32_t first = (uint32_t)p->ntargets, n = 0;
        for (uint32_t i = 0; i < src->hosts[h].n; i++) {
            const struct pw_target *t = &src->targets[src->hosts[h].first + i];
            if (role && !profile_has_role(&src->profiles[t->profile], role))
                continue;
            p->targets[p->ntargets] = *t;
            p->targets[p->ntargets].host = (uint32_t)p->nhosts;
            p->ntargets++;
            n++;
        }
        if (n == 0)
            continue;
        struct pw_host *nh = &p->hosts[p->nhosts++];
        nh->first = first;
        nh->n = n;
        if (!(nh->name = (char *)plan_pool_dup(pool, src->hosts[h].name)))
            goto fail;
    }
    if (p->ntargets == 0) {
        rc = PW_ENOT_FOUND;
        goto fail;
    }
    const struct pw_plan_identity *id = pw_plan_identity(src);
    if ((rc = plan_set_identity(pool, id->instance_name, id->vantage, id->labels)) != 0)
        goto fail;
    const struct pw_diag *w = pw_plan_warnings(src);
    for (size_t i = 0; i < w->n; i++)
        pw_diag_add(&pool->warnings, "%s", w->msgs[i]);
    *out = p;
    return 0;
fail:
    pw_plan_free(p);
    return rc;
}

/* ---- printing ---------------------------------------------------------- */

static void print_roles(const struct pw_profile *pr, FILE *f)
{
    for (size_t i = 0; i < pr->nroles; i++)
        fprintf(f, "%s%s", i ? ", " : "", pr->roles[i]);
}

void pw_plan_print(const struct pw_plan *p, FILE *f)
{
    size_t ranges = 0;
    for (size_t h = 0; h < p->nhosts; h++) {
        const struct pw_host *host = &p->hosts[h];
        fprintf(f, "%s  (%u port%s)\n", host->name, host->n, host->n == 1 ? "" : "s");
        for (uint32_t i = 0; i < host->n;) {
            const struct pw_target *t = &p->targets[host->first + i];
            uint32_t j = i + 1;
            while (j < host->n && p->targets[host->first + j].profile == t->profile &&
                   p->targets[host->first + j].port == t->port + (j - i))
                j++;
            const struct pw_profile *pr = &p->profiles[t->profile];
            char ports[24];
            if (j - i > 1) {
                snprintf(ports, sizeof ports, "%u-%u", t->port, t->port + (j - i) - 1);
                ranges++;
            } else {
                snprintf(ports, sizeof ports, "%u", t->port);
            }
            char iv[32];
            pw_format_duration(pr->interval_ms, iv, sizeof iv);
            fprintf(f, "  %-12s %-10s every %-5s ", ports, pw_expect_name(pr->expect), iv);
            print_roles(pr, f);
            fprintf(f, "\n");
            i = j;
        }
    }
    fprintf(f, "total: %zu host%s, %zu target%s (%zu range%s), %zu distinct port profile%s\n",
            p->nhosts, p->nhosts == 1 ? "" : "s", p->ntargets, p->ntargets == 1 ? "" : "s",
            ranges, ranges == 1 ? "" : "s", p->nprofiles, p->nprofiles == 1 ? "" : "s");
    const struct pw_diag *w = pw_plan_warnings(p);
    for (size_t i = 0; i < w->n; i++)
        fprintf(f, "warning: %s\n", w->msgs[i]);
}
