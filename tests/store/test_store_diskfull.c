/*
 * Disk full: the store writes to a 4 MiB tmpfs this test mounts, a filler
 * file takes the rest of the space, and results keep coming. The store must
 * report degraded, keep what fits in its queue and count the rest as
 * dropped, then write everything queued once the filler is removed. Needs
 * root (mount(2)); exits 77 otherwise.
 */
#include "store_util.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>
#include <uv.h>

#define CHECK(c)                                                              \
    do {                                                                      \
        if (!(c)) {                                                           \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
            failed = 1;                                                       \
            goto out;                                                         \
        }                                                                     \
    } while (0)

int main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "skip: needs root to mount a tmpfs\n");
        return 77;
    }
    char *dir = mktmpdir();
    if (!dir || mount("tmpfs", dir, "tmpfs", 0, "size=4m") != 0) {
        fprintf(stderr, "skip: cannot mount tmpfs: %s\n", strerror(errno));
        if (dir)
            rmdir(dir);
        return 77;
    }
    int failed = 0;
    char path[512], filler[512];
    snprintf(path, sizeof path, "%s/h.db", dir);
    snprintf(filler, sizeof filler, "%s/filler", dir);
    struct pw_store *st = NULL;
    char err[PW_STORE_MSG_MAX];
    struct pw_store_options o = {.queue_max = 4000, .batch_max = 400, .busy_timeout_ms = 50,
                                 .retry_max_ms = 100, .commit_interval_ms = -1};
    CHECK(pw_store_open(path, &o, &st, err) == 0);
    CHECK(pw_store_sync_targets(st, &test_plan, NULL) == 0);

    /* fill the file system */
    int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    static char chunk[4096];
    memset(chunk, 'x', sizeof chunk);
    while (write(fd, chunk, sizeof chunk) > 0)
        ;
    close(fd);

    /* every result a new state run: rows the full disk cannot take */
    uint64_t accepted = 0;
    int64_t at = T0;
    struct pw_store_health h = {0};
    for (int round = 0; round < 200 && h.state != PW_STORE_DEGRADED; round++) {
        struct pw_result r[200];
        for (int i = 0; i < 200; i++, at += 1000)
            r[i] = mkres((uint32_t)(i % 3), i % 2 ? PW_STATE_CLOSED : PW_STATE_FILTERED,
                         PW_STATUS_DOWN, at, -1);
        accepted += pw_store_submit(st, r, 200);
        (void)pw_store_flush(st, 100);
        pw_store_health(st, &h);
    }
    CHECK(h.state == PW_STORE_DEGRADED);
    fprintf(stderr, "degraded: %s\n", h.message);
    /* the path, SQLite's reason and what to do, then how much waits */
    char want[2 * PW_STORE_MSG_MAX];
    snprintf(want, sizeof want, "cannot write %s: database or disk is full: free space on its"
             " disk (", path);
    CHECK(strncmp(h.message, want, strlen(want)) == 0);
    /* overflow the queue: drops are counted */
    int64_t hole_from = 0;
    for (int round = 0; round < 30; round++) {
        struct pw_result r[200];
        for (int i = 0; i < 200; i++, at += 1000)
            r[i] = mkres((uint32_t)(i % 3), i % 2 ? PW_STATE_CLOSED : PW_STATE_FILTERED,
                         PW_STATUS_DOWN, at, -1);
        size_t took = pw_store_submit(st, r, 200);
        if (took < 200 && !hole_from)
            hole_from = r[took].at_ms;
        accepted += took;
    }
    /* the daemon's heartbeat goes on meanwhile: it must not paper over
     * the results that were dropped */
    pw_store_heartbeat(st, at);
    struct pw_store_stats s;
    pw_store_stats(st, &s);
    CHECK(s.dropped > 0);
    CHECK(s.queued == o.queue_max);
    CHECK(s.submitted == accepted + s.dropped);

    /* space comes back: everything queued is written */
    CHECK(unlink(filler) == 0);
    int frc = pw_store_flush(st, 20000);
    if (frc) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "ls -la %s; df %s", dir, dir);
        if (system(cmd)) {}
    }
    CHECK(frc == 0);
    pw_store_stats(st, &s);
    CHECK(s.health.state == PW_STORE_OK);
    CHECK(s.written == accepted);
    CHECK(s.queued == 0);
    /* results after the hole: coverage starts again there */
    int64_t after = at + 60000;
    struct pw_result r2[3];
    for (int i = 0; i < 3; i++)
        r2[i] = mkres((uint32_t)i, PW_STATE_CLOSED, PW_STATUS_DOWN, after, -1);
    accepted += pw_store_submit(st, r2, 3);
    CHECK(pw_store_flush(st, 5000) == 0);
    pw_store_close(st);
    st = NULL;
    CHECK(integrity_ok(path));
    CHECK((uint64_t)qint(path, "SELECT sum(count) FROM state_runs") == accepted);
    /* the dropped stretch is not monitored: no coverage run spans it */
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM runs WHERE started_ms < %lld AND"
             " coalesce(ended_ms, last_alive_ms) > %lld", (long long)hole_from,
             (long long)hole_from);
    CHECK(hole_from > 0 && qint(path, sql) == 0);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM runs WHERE started_ms >= %lld",
             (long long)after);
    CHECK(qint(path, sql) == 1);
    printf("disk full: accepted %llu, dropped %llu, all accepted written after recovery\n",
           (unsigned long long)accepted, (unsigned long long)s.dropped);
out:
    pw_store_close(st);
    unlink(filler);
    umount2(dir, MNT_DETACH);
    rmdir(dir);
    free(dir);
    return failed;
}
