/*
 * What config/plan.c (building a plan) and config/plan_view.c (a plan
 * filtered to a host or role, and printed) share: the pool of strings a
 * plan owns, and freeing a profile. Cross-file names start with plan_.
 */
#ifndef PW_CONFIG_PLAN_INT_H
#define PW_CONFIG_PLAN_INT_H

#include "config/config.h"

/* Plan-owned copies of strings that come from the config (check names,
 * reasons, host names), so the plan outlives the config; and the plan's
 * warnings, kept here because struct pw_plan is initialized positionally
 * by its users and must not grow. */
struct pool {
    char **s;
    size_t n;
    struct pw_diag warnings;
    struct pw_plan_identity id;
};

/* Who watches (instance name, vantage, static labels), copied into the
 * pool. 0 or PW_ENOMEM. */
int plan_set_identity(struct pool *pool, const char *name, int vantage, const char *labels);
/* A copy of s the pool owns (freed with the plan), or NULL out of memory. */
const char *plan_pool_dup(struct pool *p, const char *s);
/* Frees what a profile owns (its roles and reasons arrays). */
void plan_profile_free(struct pw_profile *p);

#endif
