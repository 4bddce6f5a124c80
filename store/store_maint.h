/*
 * One-off maintenance windows in the history database (schema v5, table
 * maintenance): `portwatch maintenance start|end|list` write and read them
 * through the file while the daemon runs (no HTTP write endpoint: who may
 * write the database may declare planned work), and the daemon reads the
 * open ones each second through its store. Recurring windows live in the
 * configuration (config/maintenance.h), not here.
 */
#ifndef PW_STORE_MAINT_H
#define PW_STORE_MAINT_H

#include "store/store.h"

#include <sqlite3.h>
#include <stdbool.h>

#include <stddef.h>
#include <stdint.h>

struct pw_store_maint {
    int64_t id;
    char *name;         /* as given, or "cli-ID" */
    int64_t start_ms, end_ms;
    char *hosts;        /* separated by commas; "" for every host */
    char *roles;        /* role keys or check names; "" for every one */
    char *reason;
    int ended_early;    /* end_ms is when `maintenance end` ran */
};

/* Adds a window to the database at path. With the daemon running (its
 * lock held) the file must already be at this schema; without one, the file
 * is created or migrated first. name may be NULL (then "cli-ID"); a name an
 * open window has is refused. Returns 0 and *id, or an error with err. */
int pw_store_maint_add(const char *path, const struct pw_store_maint *w, int64_t *id,
                       char err[PW_STORE_MSG_MAX]);
/* Ends early the windows open at now_ms named `name` (or "cli-ID"), or all
 * of them when name is NULL: their end becomes now_ms. *ended says how
 * many; none matching is PW_ENOT_FOUND with err naming the open ones. */
int pw_store_maint_end(const char *path, const char *name, int64_t now_ms, int *ended,
                       char err[PW_STORE_MSG_MAX]);
/* The windows that end after now_ms, by start, from the file (the CLI)... */
int pw_store_maint_list(const char *path, int64_t now_ms, struct pw_store_maint **out,
                        size_t *n, char err[PW_STORE_MSG_MAX]);
/* ... or through an open store's read connection (daemon, web; any
 * thread). 0, or PW_ESTORAGE. */
int pw_store_maint_open_windows(struct pw_store *st, int64_t now_ms, struct pw_store_maint **out,
                                size_t *n);
void pw_store_maint_free(struct pw_store_maint *w, size_t n);

/* ---- planned time ---- */
/* Records that window `window` covers targets ids[0..n) (store ids) from
 * start_ms to end_ms: their planned time. A span already recorded (the
 * same target, window and start: a daemon restarted inside the window) is
 * kept. On a connection of its own, as the commands write: call it off the
 * loop thread. 0, or an error with err. */
int pw_store_maint_record(const char *path, const char *window, int64_t start_ms, int64_t end_ms,
                          const uint32_t *ids, size_t n, char err[PW_STORE_MSG_MAX]);

struct pw_store_planned {
    uint32_t target_id;
    int64_t start_ms, end_ms;
};
/* The planned spans overlapping [from, to), by target, then start
 * (through the read connection; any thread). 0, PW_ENOMEM or PW_ESTORAGE. */
int pw_store_query_planned(sqlite3 *db, int64_t from, int64_t to, struct pw_store_planned **out,
                           size_t *n);
/* Whether target id was inside a window at instant t (v as the query
 * returns it). */
bool pw_store_planned_at(const struct pw_store_planned *v, size_t n, uint32_t id, int64_t t);

#endif
