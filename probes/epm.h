/*
 * The RPC endpoint mapper's database, read remotely: ept_lookup (opnum 2,
 * C706 appendix O, MS-RPCE 2.2.1.2) and the protocol towers it returns
 * (C706 appendix L), decoded into (interface, version, protocol sequence,
 * address, endpoint). The pure encoder/decoder (epm.c) is fuzzed by
 * tests/fuzz/fuzz_epm.c; the libuv client (epm_client.c) runs the whole
 * conversation for `portwatch rpc-endpoints` and the daemon's endpoint
 * watch (daemon/epm_watch.c), which cancels a dump in flight when it stops.
 */
#ifndef PW_EPM_H
#define PW_EPM_H

#include "probes/verify.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* ept_lookup's status when the database has no (more) entries. Samba sends
 * its last batch together with it, so entries are taken before the status
 * is looked at. */
#define PW_EPM_S_NOT_REGISTERED 0x16c9a0d6u
#define PW_EPM_OPNUM_LOOKUP 2

enum pw_epm_protseq {
    PW_EPM_UNKNOWN = 0,
    PW_EPM_NCACN_IP_TCP,  /* RPC over TCP: the port a firewall must open */
    PW_EPM_NCACN_HTTP,    /* RPC over HTTP (593) */
    PW_EPM_NCACN_NP,      /* named pipe over SMB (445) */
    PW_EPM_NCALRPC,       /* local only */
    PW_EPM_NCADG_IP_UDP,
    PW_EPM_PROTSEQ_COUNT_
};
const char *pw_epm_protseq_name(enum pw_epm_protseq p);

struct pw_epm_entry {
    struct pw_uuid object;
    bool has_iface;
    struct pw_uuid iface;     /* ("interface" is a macro on Windows) */
    uint16_t vmajor, vminor;
    enum pw_epm_protseq protseq;
    uint16_t port;          /* TCP/UDP/HTTP port; 0 when none */
    char address[64];       /* IP floor ("127.0.0.1") or NetBIOS name; "" */
    char endpoint[80];      /* port as text, pipe or LRPC name */
    char annotation[65];    /* printable */
};

/* One registration as portwatch keeps it, the same for the daemon's
 * endpoint watch, the store (epm_entries) and the API: the entry as read,
 * when it was first and last seen, and whether it is a TCP port outside
 * [biztalk] secondary_rpc_ports (set by the watch; false as the store
 * loads it). */
struct pw_epm_registration {
    struct pw_epm_entry e;
    int64_t first_seen_ms, last_seen_ms;
    bool outside_range;
};

/* Decodes one tower's octets. Returns 0, or PW_EINVAL when malformed
 * (e is then partly filled: whatever floors made sense). */
int pw_epm_tower_decode(const uint8_t *t, size_t n, struct pw_epm_entry *e);

/* The ept_lookup request stub: every element (RPC_C_EP_ALL_ELTS), any
 * object, any interface, all versions, the context handle of the previous
 * call (zeros at first), at most max_ents entries. Returns its length
 * (40). */
size_t pw_epm_lookup_stub(uint8_t buf[40], const uint8_t handle[20], uint32_t max_ents);

/* Receives each decoded entry of a reply. Return nonzero to stop. */
typedef int (*pw_epm_entry_cb)(void *ud, const struct pw_epm_entry *e);

/* Decodes an ept_lookup reply stub (NDR, byte order `be`): the new context
 * handle, the entries (each passed to cb), the status. Returns 0, or
 * PW_EINVAL when the stub is malformed (entries before the fault were
 * still delivered). */
int pw_epm_lookup_parse(const uint8_t *stub, size_t n, bool be, uint8_t handle_out[20],
                        uint32_t *num_out, uint32_t *status_out, pw_epm_entry_cb cb, void *ud);

/* A well-known interface's name ("MSDTC (IXnRemote)"), or NULL. */
const char *pw_epm_interface_name(const struct pw_uuid *u);

/* ---- the client (epm_client.c) ------------------------------------------ */

struct pw_epm_result {
    struct pw_epm_entry *v;
    size_t n;
    int err;              /* 0, or why the dump stopped (UV_E*, PW_E*) */
    char message[160];    /* what went wrong, for people; "" when ok */
    uint32_t calls;       /* ept_lookup calls made */
};
void pw_epm_result_free(struct pw_epm_result *r);

typedef void (*pw_epm_done_cb)(void *ud, struct pw_epm_result *r);

/* One dump in flight; valid from a successful pw_epm_dump_start until
 * its done callback starts. */
struct pw_epm_dump;

/* Connects to addr (port set), binds to the endpoint mapper, calls
 * ept_lookup until the mapper says no more entries (or the handle comes
 * back empty), and calls done once with every entry (the result is the
 * caller's to free with pw_epm_result_free). timeout_ms bounds the whole
 * dump. done always runs on a later loop turn, after the dump's handles
 * are closed (so a loop closes cleanly right after it). Returns 0 and,
 * when out is not NULL, the dump in *out (for pw_epm_dump_cancel); or a
 * negative error without calling done (*out is then NULL). */
int pw_epm_dump_start(uv_loop_t *loop, const struct sockaddr *addr, int64_t timeout_ms,
                      pw_epm_done_cb done, void *ud, struct pw_epm_dump **out);

/* pw_epm_dump_start without a handle: a dump that runs to its end. */
int pw_epm_dump(uv_loop_t *loop, const struct sockaddr *addr, int64_t timeout_ms,
                pw_epm_done_cb done, void *ud);

/* Ends d now, for a caller that stops (the daemon at stop or reload)
 * rather than wait up to timeout_ms for a silent mapper: the connection
 * is closed at once (a connect or write in flight is cancelled) and done
 * still runs exactly once, through the usual path on a later loop turn,
 * with err UV_ECANCELED, message "cancelled" and the entries received so
 * far (an incomplete list: use none of it as the mapper's database). When
 * d had already ended (done pending, not yet run), this does nothing and
 * done reports how it ended. Only for a d whose done has not started;
 * NULL: no-op. Loop thread only. */
void pw_epm_dump_cancel(struct pw_epm_dump *d);

#endif
