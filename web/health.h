/*
 * The health verdict (api_health.c judges, health_text.c writes it as a
 * monitoring plugin's output). One word per verdict, in the Nagios plugin
 * guidelines' sense, and the HTTP status each word answers with:
 *   OK        200  every target in scope passes (some may be unprobed)
 *   WARNING   424  something deserves a look but nothing is down yet: a
 *                  target failing (its last probe failed, or down for less
 *                  than min_duration), or an endpoint registered outside
 *                  the RPC range (a 4xx: check_http/check_curl say WARNING)
 *   CRITICAL  503  a target down for at least min_duration
 *   UNKNOWN   500  portwatch cannot judge: no target in scope probed yet,
 *                  or its storage is degraded or missing
 * The worst applies, in the order CRITICAL, UNKNOWN, WARNING, OK.
 */
#ifndef PW_WEB_HEALTH_H
#define PW_WEB_HEALTH_H

#include "web/api_doc.h"
#include "web/req.h"

enum pw_word { PW_WORD_OK, PW_WORD_WARNING, PW_WORD_CRITICAL, PW_WORD_UNKNOWN };

struct pw_health {
    int64_t min_ms;
    enum pw_word word;
    size_t checked;           /* targets in scope */
    size_t down;              /* down for at least min_duration */
    size_t young;             /* down for less than min_duration */
    size_t failing;           /* up, but the last probe failed */
    size_t maintenance;       /* failing inside a maintenance window: not
                                 counted above, nor in trouble */
    struct pw_tally tally;    /* over the targets in scope */
    uint32_t *trouble;        /* in scope: down, young or failing */
    size_t ntrouble;
    size_t outside;           /* endpoints outside the RPC range (in scope) */
    struct pw_store *st;
    struct pw_store_health h;
    bool storage_fails;
};

/* The word's name ("OK", ...) and its HTTP status. */
const char *pw_word_name(enum pw_word w);
unsigned pw_word_http(enum pw_word w);

/* The plugin output of a verdict, in out (text/plain). */
void pw_health_text(struct pw_req *r, const struct pw_scope *sc, const struct pw_health *hv,
                    struct pw_reply *out);

#endif
