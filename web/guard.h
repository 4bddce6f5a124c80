/*
 * The slow-client guard (guard.c): a deadline on receiving a whole request
 * and a reserve of connection slots for new clients. libmicrohttpd has only
 * an idle timeout, which every byte a client trickles in resets, so a few
 * hundred connections each sending a header line every few seconds could
 * hold every slot for good (slowloris). The guard tracks each connection
 * from accept (MHD_OPTION_NOTIFY_CONNECTION) and:
 *   - closes one that has not delivered a complete request within the
 *     deadline of its accept (or of its previous answer, on keep-alive);
 *   - when connections reach the total limit less a reserve, closes the
 *     oldest one still receiving, so a new client always finds a slot and
 *     a slow client never holds the last ones.
 * Closing is shutdown(2) of the socket (winsock's shutdown on Windows):
 * libmicrohttpd sees the end of the stream and cleans up as usual.
 */
#ifndef PW_WEB_GUARD_H
#define PW_WEB_GUARD_H

#include "base/error.h"
#include "base/log.h"

#include <stdbool.h>
#include <stdint.h>

struct MHD_Connection;
struct pw_guard;

struct pw_guard_stats {
    uint64_t deadline_closed; /* no whole request within the deadline */
    uint64_t evicted;         /* closed to keep the reserve free */
    unsigned open;            /* connections open now */
};

/* Starts the guard's timer thread. max_conns is libmicrohttpd's connection
 * limit; deadline_ms the time a request may take to arrive. What it closed
 * is logged (warning) at most once a minute through log. */
int pw_guard_start(unsigned max_conns, int64_t deadline_ms, pw_log_sink log, void *log_ud,
                   struct pw_guard **out);
/* Joins the thread and frees g, after libmicrohttpd has stopped. */
void pw_guard_stop(struct pw_guard *g);
/* The notify-connection callback's work: started or closed. */
void pw_guard_notify(struct pw_guard *g, struct MHD_Connection *c, void **socket_context,
                     bool started);
/* The connection's request is complete (busy: its answer is being made or
 * sent; no deadline) or its answer is done (the next request's deadline
 * starts now). */
void pw_guard_busy(struct pw_guard *g, struct MHD_Connection *c, bool busy);
void pw_guard_stats(struct pw_guard *g, struct pw_guard_stats *out);

#endif
