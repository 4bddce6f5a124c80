/*
 * Helpers shared by the store's read side (store_query.c: these helpers,
 * status and start-up states; store_history.c; store_outages.c;
 * store_uptime.c; the endpoint-mapper read in store_epm.c). Not for other
 * modules.
 */
#ifndef PW_STORE_QUERY_INT_H
#define PW_STORE_QUERY_INT_H

#include "store/store_int.h"

struct span {
    int64_t a, b; /* [a, b) */
};

struct spans {
    struct span *v;
    size_t n;
};

static inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Room for element n of an array of `cap` elements, doubling it (from
 * `first`) when full. Returns the array, or NULL with v untouched. */
void *sq_grow(void *v, size_t *cap, size_t n, size_t elem, size_t first);
/* Prepares sql and binds a, b, c to those of ?1..?3 it has. 0 or
 * PW_ESTORAGE. */
int sq_prepare3(sqlite3 *db, const char *sql, sqlite3_stmt **s, int64_t a, int64_t b,
                int64_t c);
/* Ends a query that filled v with *n rows (finalizes s, unlocks the
 * reader); returns v, or NULL with *n 0 when rc says it failed. */
void *sq_list_end(struct pw_store *st, sqlite3_stmt *s, int rc, void *v, size_t *n);
/* |[a,b) ∩ union(cov)|; cov sorted and disjoint. */
int64_t sq_covered(const struct spans *cov, int64_t a, int64_t b);
/* The coverage spans overlapping [from, to), sorted and disjoint. */
int sq_load_coverage(sqlite3 *db, int64_t from, int64_t to, struct spans *out);
/* d less p (both sorted and disjoint) into out, which has room for
 * nd + np spans; returns how many. */
size_t sq_subtract(const struct span *d, size_t nd, const struct span *p, size_t np,
                   struct span *out);
/* cov (the daemon's coverage) less target_id's own gaps (due and not
 * probed), in place. 0 or an error. */
int sq_target_coverage(sqlite3 *db, int64_t target_id, int64_t from, int64_t to,
                       struct spans *cov);
/* Whether the database ever had a target on host (ignoring case) and one
 * with role (NULL: true). 0 or PW_ESTORAGE. */
int sq_known(sqlite3 *db, const char *host, const char *role, bool *host_ok, bool *role_ok);
/* Column col as text into dst ("" for NULL). */
void sq_text_col(sqlite3_stmt *s, int col, char *dst, size_t cap);
/* bsearch's comparison for arrays of structs whose first member is a
 * uint32_t target id, sorted by it; the key is a uint32_t. */
int sq_cmp_id(const void *key, const void *elem);

#endif
