/*
 * Internals shared by the configuration's files (config.c: the key table
 * and the loader; apply.c: setting a key's value; diag.c: diagnostics and
 * "did you mean"; reference.c: the keys' reference). Not for other modules.
 */
#ifndef PW_CONFIG_INT_H
#define PW_CONFIG_INT_H

#include "config/config.h"

enum section_kind { SEC_PORTWATCH, SEC_BIZTALK, SEC_CHECK, SEC_MAINT, SEC_COUNT };

/* The section a key belongs to (config.c). */
enum section_kind cf_key_section(const struct pw_key *k);
/* Sets k's field in base (the section's struct) from value; 0, or an
 * error code with err saying what is wrong and what is allowed (apply.c). */
int cf_apply(const struct pw_key *k, void *base, const char *value, char err[PW_ERRBUF]);
/* The candidate closest to word, if close enough to suggest; else NULL
 * (diag.c). */
const char *cf_nearest(const char *word, const char *const *cands, size_t n);

/* How cf_maint_validate reports: problem() as the loader's (one line,
 * "FILE:LINE: [section] key: msg"), and the line each key of window i was
 * set on (0: unset). */
struct cf_report {
    void *ud;
    void (*problem)(void *ud, int line, const char *section, const char *key, const char *msg);
    int (*line_of)(void *ud, size_t maint, const char *key);
};
/* The rules of [maintenance NAME] sections that span keys and sections,
 * checked once the file is read: a schedule each, that parses; a zone that
 * loads; checks and hosts the file names elsewhere; no two windows over
 * one target at one time in the year from `now` (maint_check.c). */
void cf_maint_validate(struct pw_config *c, int64_t now, const struct cf_report *r);
 
/* The key table (keys.c), CF_NKEYS rows: the loader sizes its per-key
 * line records by it; keys.c asserts the count. */
#define CF_NKEYS 66
extern const struct pw_key cf_keys[];

#endif
