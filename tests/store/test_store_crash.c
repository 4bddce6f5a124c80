/*
 * kill -9 at random moments: a child writes batches continuously and
 * reports each one on a pipe after pw_store_flush() says it is committed;
 * the parent SIGKILLs it at a random time, several times over the same
 * file. After each kill the database must open, pass integrity_check, hold
 * every reported batch, and hold whole batches only (one transaction each).
 * Slow suite.
 */
#include "store_util.h"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define M 50 /* results per batch for target 0 */
#define ROUNDS 6

static void child(const char *path, int wfd)
{
    struct pw_store *st;
    char err[PW_STORE_MSG_MAX];
    struct pw_store_options o = {.commit_interval_ms = -1};
    if (pw_store_open(path, &o, &st, err) != 0 ||
        pw_store_sync_targets(st, &test_plan, NULL) != 0) {
        fprintf(stderr, "child: %s\n", err);
        _exit(2);
    }
    /* continue after what the database holds */
    long long have = qint(path, "SELECT coalesce(sum(count),0) FROM state_runs WHERE target_id=1");
    int64_t k = have / M;
    for (;; k++) {
        struct pw_result r[M + 2];
        for (int j = 0; j < M; j++)
            r[j] = mkres(0, PW_STATE_OPEN, PW_STATUS_UP, T0 + (k * M + j) * 1000LL, 100);
        /* and state changes, so rows are inserted as well as updated */
        r[M] = mkres(1, k % 2 ? PW_STATE_CLOSED : PW_STATE_OPEN, PW_STATUS_UP, T0 + k * M * 1000LL, 100);
        r[M + 1] = mkres(2, PW_STATE_FILTERED, k % 3 ? PW_STATUS_DOWN : PW_STATUS_UP,
                         T0 + k * M * 1000LL, -1);
        pw_store_submit(st, r, M + 2);
        if (pw_store_flush(st, -1) != 0)
            _exit(3);
        int64_t done = k + 1;
        if (write(wfd, &done, sizeof done) != sizeof done)
            _exit(4);
    }
}

int main(void)
{
    char *dir = mktmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/h.db", dir);
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    int failed = 0;
    int64_t reported = 0;
    for (int round = 0; round < ROUNDS && !failed; round++) {
        int p[2];
        if (pipe(p) != 0)
            return 1;
        pid_t pid = fork();
        if (pid == 0) {
            close(p[0]);
            child(path, p[1]);
        }
        close(p[1]);
        usleep((useconds_t)(100000 + rand() % 400000));
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        int64_t v;
        while (read(p[0], &v, sizeof v) == sizeof v)
            reported = v;
        close(p[0]);
        if (!WIFSIGNALED(status)) {
            fprintf(stderr, "round %d: child exited with %d\n", round, WEXITSTATUS(status));
            failed = 1;
            break;
        }
        long long have = qint(path, "SELECT coalesce(sum(count),0) FROM state_runs WHERE target_id=1");
        long long day = qint(path, "SELECT coalesce(sum(n0),0) FROM bucket_day WHERE target_id=1");
        int ok = integrity_ok(path);
        printf("round %d: reported %lld batches, db holds %lld results (%lld in buckets), integrity %s\n",
               round, (long long)reported, have, day, ok ? "ok" : "FAILED");
        if (!ok || have < reported * M || have % M != 0 || day != have) {
            fprintf(stderr, "round %d: lost or partial batches\n", round);
            failed = 1;
        }
    }
    if (!failed) {
        /* every killed run is recorded as a crash at the next open */
        struct pw_store *st;
        char err[PW_STORE_MSG_MAX];
        if (pw_store_open(path, NULL, &st, err) != 0) {
            fprintf(stderr, "reopen: %s\n", err);
            failed = 1;
        } else {
            pw_store_close(st);
            long long crashes = qint(path, "SELECT count(*) FROM runs WHERE end_reason=2");
            long long open = qint(path, "SELECT count(*) FROM runs WHERE ended_ms IS NULL");
            printf("runs ended by crash: %lld, left open: %lld\n", crashes, open);
            if (crashes < 1 || open != 0)
                failed = 1;
        }
    }
    rmtree(dir);
    free(dir);
    return failed;
}
