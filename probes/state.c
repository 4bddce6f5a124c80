/*
 * Names of probe states and target statuses, and the verdict table that
 * says which states meet which expectation. Used by the engine, by the
 * store (states are stored as integers, named on the way out), by the web
 * layer and by `portwatch check`'s report.
 */
#include "probes/probe.h"

#include <stddef.h>

static const char *const state_names[] = {
    [PW_STATE_OPEN] = "open",
    [PW_STATE_CLOSED] = "closed",
    [PW_STATE_FILTERED] = "filtered",
    [PW_STATE_UNREACHABLE] = "unreachable",
    [PW_STATE_DNS_ERROR] = "dns_error",
    [PW_STATE_ERROR] = "error",
};
_Static_assert(sizeof state_names / sizeof state_names[0] == PW_STATE_COUNT_,
               "a name per enum pw_state");

/* passes[state][expect]: the whole verdict rule in one place. */
static const bool passes[PW_STATE_COUNT_][PW_EXPECT_REACHABLE + 1] = {
    [PW_STATE_OPEN] = {[PW_EXPECT_LISTENING] = true, [PW_EXPECT_REACHABLE] = true},
    [PW_STATE_CLOSED] = {[PW_EXPECT_REACHABLE] = true},
};

static const char *const status_names[] = {
    [PW_STATUS_UNKNOWN] = "unknown",
    [PW_STATUS_UP] = "up",
    [PW_STATUS_DOWN] = "down",
};
_Static_assert(sizeof status_names / sizeof status_names[0] == PW_STATUS_DOWN + 1,
               "a name per enum pw_status");

const char *pw_state_name(enum pw_state s)
{
    if ((unsigned)s >= PW_STATE_COUNT_)
        return "invalid";
    return state_names[s];
}

bool pw_state_passes(enum pw_state s, enum pw_expect e)
{
    if ((unsigned)s >= PW_STATE_COUNT_ || (unsigned)e > PW_EXPECT_REACHABLE)
        return false;
    return passes[s][e];
}

const char *pw_status_name(enum pw_status s)
{
    if ((unsigned)s > PW_STATUS_DOWN)
        return "invalid";
    return status_names[s];
}
