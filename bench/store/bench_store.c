/*
 * History store benchmark: a 4,100-target farm (20 hosts x 205 ports)
 * probed every 30 s, simulated through the store's own API as fast as it
 * goes: most targets stable, 2% of targets flapping each day (1-5 failed
 * probes), one host down 6 hours each week. Then a one-year database is
 * completed by copying the simulated period's aggregates (runs, outages,
 * coverage, hour and day buckets) back in time, and the web layer's
 * queries are timed on it. The naive design (a row per probe) is measured
 * in the same run on one simulated hour and extrapolated, as the
 * comparison. Run by bench/store/run.sh.
 *
 * usage: bench_store DIR [DAYS]
 */
#include "store/store.h"
#include "store/store_incidents.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#define NHOSTS 20
#define PER_HOST 205
#define NT (NHOSTS * PER_HOST)
#define IVL 30000LL
#define DAY 86400000LL
#define T0 (19000LL * DAY)

static uint64_t rng = 88172645463325252ull;
static uint64_t xr(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double now_s(void) { return (double)uv_hrtime() / 1e9; }

static long long fsize(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 ? (long long)sb.st_size : 0;
}

static const char *roles_a[] = {"management_database"};
static const char *roles_b[] = {"rpc", "sso"};
static struct pw_profile profiles[] = {
    {.expect = PW_EXPECT_LISTENING, .roles = roles_a, .nroles = 1},
    {.expect = PW_EXPECT_REACHABLE, .roles = roles_b, .nroles = 2},
};
static struct pw_host hosts[NHOSTS];
static struct pw_target targets[NT];
static char hostnames[NHOSTS][32];
static struct pw_plan plan = {hosts, NHOSTS, targets, NT, profiles, 2, NULL};

static void build_plan(void)
{
    for (int h = 0; h < NHOSTS; h++) {
        snprintf(hostnames[h], sizeof hostnames[h], "srv%02d", h);
        hosts[h] = (struct pw_host){hostnames[h], (uint32_t)(h * PER_HOST), PER_HOST};
        static const uint16_t fixed[4] = {135, 445, 1164, 1433};
        for (int i = 0; i < PER_HOST; i++) {
            struct pw_target *t = &targets[h * PER_HOST + i];
            t->host = (uint32_t)h;
            t->port = i < 4 ? fixed[i] : (uint16_t)(50000 + i - 4);
            t->profile = i < 4 ? 0 : 1;
        }
    }
}

struct sim {
    uint8_t fails[NT];
    uint8_t status[NT];
    int64_t flap_at[NT];  /* sweep number when a flap starts, -1 none */
    uint8_t flap_len[NT];
};

static double pctl(double *v, int n, double p)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
            double t = v[j]; v[j] = v[j - 1]; v[j - 1] = t;
        }
    return v[(int)(p * (n - 1))];
}

static int exec(sqlite3 *db, const char *sql)
{
    char *e = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &e) != SQLITE_OK) {
        fprintf(stderr, "sql: %s: %s\n", sql, e);
        sqlite3_free(e);
        return -1;
    }
    return 0;
}

/* The naive design measured: a row per probe with a (target, time) index,
 * one simulated hour of the farm. Returns bytes per probe. */
static double naive_bytes_per_probe(const char *dir)
{
    char p[512];
    snprintf(p, sizeof p, "%s/naive.db", dir);
    remove(p);
    sqlite3 *db;
    sqlite3_open(p, &db);
    exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
             "CREATE TABLE probes(id INTEGER PRIMARY KEY, target_id INTEGER NOT NULL,"
             " at_ms INTEGER NOT NULL, state INTEGER NOT NULL, latency_us INTEGER,"
             " detail TEXT NOT NULL DEFAULT '');"
             "CREATE INDEX probes_target ON probes(target_id, at_ms);"
             "BEGIN");
    sqlite3_stmt *s;
    sqlite3_prepare_v2(db, "INSERT INTO probes(target_id,at_ms,state,latency_us) VALUES(?,?,0,?)",
                       -1, &s, NULL);
    long long n = 0;
    for (int sw = 0; sw < 120; sw++)
        for (int t = 0; t < NT; t++, n++) {
            sqlite3_bind_int(s, 1, t + 1);
            sqlite3_bind_int64(s, 2, T0 + sw * IVL + t * 7);
            sqlite3_bind_int(s, 3, 800 + (int)(xr() % 400));
            sqlite3_step(s);
            sqlite3_reset(s);
        }
    sqlite3_finalize(s);
    exec(db, "COMMIT; PRAGMA wal_checkpoint(TRUNCATE);");
    sqlite3_close(db);
    double b = (double)fsize(p) / (double)n;
    remove(p);
    return b;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR [DAYS]\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    int days = argc > 2 ? atoi(argv[2]) : 90;
    if (days < 1 || days > 365) {
        fprintf(stderr, "DAYS must be 1..365, not %s\n", argv[2]);
        return 2;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/bench.db", dir);
    remove(path);
    char wal[600];
    snprintf(wal, sizeof wal, "%s-wal", path);
    remove(wal);
    build_plan();

    struct pw_store *st;
    char err[PW_STORE_MSG_MAX];
    struct pw_store_options o = {.queue_max = 1u << 20, .batch_max = 1u << 18,
                                 .commit_interval_ms = 50, .keep_raw_ms = 7 * DAY,
                                 .keep_hourly_ms = 400 * DAY, .keep_events_ms = 400 * DAY};
    if (pw_store_open(path, &o, &st, err) != 0 || pw_store_sync_targets(st, &plan, NULL) != 0) {
        fprintf(stderr, "open: %s\n", err);
        return 1;
    }

    static struct sim sim;
    for (int i = 0; i < NT; i++) {
        sim.status[i] = PW_STATUS_UP;
        sim.flap_at[i] = -1;
    }
    static struct pw_result sweep[NT];
    const int64_t sweeps_per_day = DAY / IVL;
    struct pw_store_stats ss;
    uint64_t total = 0;
    double t_start = now_s();
    for (int64_t sw = 0; sw < days * sweeps_per_day; sw++) {
        int64_t day = sw / sweeps_per_day;
        if (sw % sweeps_per_day == 0) {
            /* 2% of targets flap today, at a random time, for 1-5 probes */
            for (int k = 0; k < NT / 50; k++) {
                int t = (int)(xr() % NT);
                sim.flap_at[t] = sw + (int64_t)(xr() % (uint64_t)(sweeps_per_day - 10));
                sim.flap_len[t] = (uint8_t)(1 + xr() % 5);
            }
        }
        int64_t tod = (sw % sweeps_per_day) * IVL;
        bool host_down = day % 7 == 3 && tod >= 2 * 3600000LL && tod < 8 * 3600000LL;
        int64_t base = T0 + sw * IVL;
        for (int t = 0; t < NT; t++) {
            bool fail = (host_down && t < PER_HOST) ||
                        (sim.flap_at[t] >= 0 && sw >= sim.flap_at[t] &&
                         sw < sim.flap_at[t] + sim.flap_len[t]);
            if (fail) {
                if (sim.fails[t] < 255)
                    sim.fails[t]++;
                if (sim.fails[t] >= 2)
                    sim.status[t] = PW_STATUS_DOWN;
            } else {
                sim.fails[t] = 0;
                sim.status[t] = PW_STATUS_UP;
            }
            struct pw_result *r = &sweep[t];
            r->target = (uint32_t)t;
            r->state = fail ? PW_STATE_FILTERED : PW_STATE_OPEN;
            r->ok = !fail;
            r->status = (enum pw_status)sim.status[t];
            r->status_changed = false;
            r->latency_us = fail ? -1 : 800 + (int64_t)(xr() % 400);
            r->at_ms = base + t * 7; /* spread over the interval */
            if (fail)
                memcpy(r->detail, "ETIMEDOUT", 10);
            else
                r->detail[0] = 0;
            /* The four catalog ports get the protocol exchange; the RPC
             * range is connect-only. */
            bool exchange = targets[t].profile == 0;
            r->verify = fail ? PW_VERIFY_NONE : exchange ? PW_VERIFY_VERIFIED : PW_VERIFY_OFF;
            snprintf(r->verify_info, sizeof r->verify_info, "%s",
                     fail || !exchange ? "" : "SQL Server 16.0.1000, encryption off");
        }
        /* a real loop would drop beyond the bound; the benchmark waits for
         * room so that every result is written */
        for (;;) {
            pw_store_stats(st, &ss);
            if (ss.queued + NT <= ss.queue_max)
                break;
            uv_sleep(1);
        }
        if (pw_store_submit(st, sweep, NT) != NT) {
            fprintf(stderr, "queue refused results\n");
            return 1;
        }
        total += NT;
    }
    pw_store_flush(st, -1);
    double ingest_s = now_s() - t_start;
    pw_store_stats(st, &ss);
    pw_store_close(st);

    sqlite3 *db;
    sqlite3_open(path, &db);
    exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
    long long sim_size = fsize(path);
    double rate = (double)total / ingest_s;
    double realtime = NT / 30.0;

    /* Complete a year: copy the simulated period's aggregates back in
     * time (older history); the simulated days stay the newest. */
    double t_fill = now_s();
    int64_t span = days * DAY;
    int copies = (int)((365 * DAY - span + span - 1) / span);
    exec(db, "BEGIN");
    for (int k = 1; k <= copies; k++) {
        int64_t sh = k * span;
        /* the oldest copy only as far as a year back */
        int64_t keep_from = T0 + sh - (365 * DAY - span); /* original time >= this */
        if (keep_from < T0)
            keep_from = T0;
        char sql[1024];
        snprintf(sql, sizeof sql,
                 "INSERT INTO state_runs(target_id,state,status,ok,first_ms,last_ms,count,"
                 "status_since_ms,fails_before,latency_us,detail,verify,verify_info) SELECT "
                 "target_id,state,status,ok,max(first_ms,%lld)-%lld,last_ms-%lld,count,"
                 "status_since_ms-%lld,fails_before,latency_us,detail,verify,verify_info "
                 "FROM state_runs WHERE id<=(SELECT max(cur_run) FROM targets)"
                 " AND last_ms>=%lld AND first_ms<%lld;",
                 (long long)keep_from, (long long)sh, (long long)sh, (long long)sh,
                 (long long)keep_from, (long long)(T0 + span));
        exec(db, sql);
        snprintf(sql, sizeof sql,
                 "INSERT INTO outages(target_id,start_ms,end_ms,last_ms,state,fails,detail)"
                 " SELECT target_id,start_ms-%lld,end_ms-%lld,last_ms-%lld,state,fails,detail"
                 " FROM outages WHERE start_ms>=%lld AND start_ms<%lld AND end_ms IS NOT NULL;",
                 (long long)sh, (long long)sh, (long long)sh, (long long)keep_from,
                 (long long)(T0 + span));
        exec(db, sql);
        static const char *const tb[2] = {"bucket_hour", "bucket_day"};
        static const long long tms[2] = {3600000LL, DAY};
        for (int i = 0; i < 2; i++) {
            snprintf(sql, sizeof sql,
                     "INSERT OR IGNORE INTO %s SELECT target_id,b-%lld,n0,n1,n2,n3,n4,n5,nfail,"
                     "lat_n,lat_min,lat_sum,lat_max FROM %s WHERE b>=%lld AND b<%lld;",
                     tb[i], (long long)(sh / tms[i]), tb[i], (long long)(keep_from / tms[i]),
                     (long long)((T0 + span) / tms[i]));
            exec(db, sql);
        }
        snprintf(sql, sizeof sql,
                 "INSERT INTO runs(started_ms,last_alive_ms,ended_ms,end_reason)"
                 " SELECT max(started_ms,%lld)-%lld,last_alive_ms-%lld,ended_ms-%lld,1 FROM runs"
                 " WHERE ended_ms IS NOT NULL AND ended_ms>%lld AND started_ms<%lld;",
                 (long long)keep_from, (long long)sh, (long long)sh, (long long)sh,
                 (long long)keep_from, (long long)(T0 + span));
        exec(db, sql);
    }
    char sql[256];
    snprintf(sql, sizeof sql, "UPDATE targets SET first_ms=%lld;",
             (long long)(T0 + span - 365 * DAY));
    exec(db, sql);
    exec(db, "COMMIT; PRAGMA wal_checkpoint(TRUNCATE);");
    sqlite3_close(db);
    long long year_size = fsize(path);
    double fill_s = now_s() - t_fill;

    /* queries on the year database */
    o.housekeep_every_ms = -1;
    if (pw_store_open(path, &o, &st, err) != 0 || pw_store_sync_targets(st, &plan, NULL) != 0) {
        fprintf(stderr, "reopen: %s\n", err);
        return 1;
    }
    int64_t end = T0 + span, ystart = end - 365 * DAY;
    enum { REPS = 7 };
    double tq[6][REPS];
    size_t counts[6] = {0};
    for (int rep = 0; rep < REPS; rep++) {
        double t;
        struct pw_store_target *tg;
        size_t n;
        t = now_s();
        pw_store_query_status(st, false, &tg, &n);
        tq[0][rep] = now_s() - t;
        counts[0] = n;
        free(tg);
        struct pw_store_history h;
        t = now_s();
        pw_store_query_history(st, 1 + PER_HOST + 7, end - 90 * DAY, end, 3600000, &h);
        tq[1][rep] = now_s() - t;
        counts[1] = h.n;
        pw_store_history_free(&h);
        struct pw_store_outage_list ol;
        struct pw_store_outage_filter f = {.from_ms = ystart, .to_ms = end};
        t = now_s();
        pw_store_query_outages(st, &f, &ol);
        tq[2][rep] = now_s() - t;
        counts[2] = ol.n;
        pw_store_outage_list_free(&ol);
        struct pw_store_uptime *u;
        t = now_s();
        pw_store_query_uptime(st, end - 30 * DAY, end, PW_GROUP_FARM, &u, &n);
        tq[3][rep] = now_s() - t;
        counts[3] = n;
        if (rep == 0 && n)
            printf("farm uptime 30 d: %.4f%% (monitored %lld target-hours)\n", u[0].uptime_pct,
                   (long long)(u[0].monitored_ms / 3600000));
        free(u);
        t = now_s();
        pw_store_query_uptime(st, end - 30 * DAY, end, PW_GROUP_HOST, &u, &n);
        tq[4][rep] = now_s() - t;
        counts[4] = n;
        free(u);
        struct pw_store_incident_list il;
        struct pw_store_incident_filter fi = {.from_ms = ystart, .to_ms = end, .open = -1,
                                              .window_ms = 30000 + 3000};
        t = now_s();
        pw_store_query_incidents(st, &fi, &il);
        tq[5][rep] = now_s() - t;
        counts[5] = il.n;
        pw_store_incident_list_free(&il);
    }
    pw_store_close(st);
    double naive = naive_bytes_per_probe(dir);
    double probes_year = (double)NT * (DAY / IVL) * 365.0;

    printf("\n== portwatch history store: %d targets every 30 s, %d simulated days ==\n", NT, days);
    printf("ingest: %llu results in %.1f s = %.0f results/s = %.0fx real time (target >= 1000x)\n",
           (unsigned long long)total, ingest_s, rate, rate / realtime);
    printf("written %llu; commits: %llu, avg %lld us, max %lld us; dropped %llu\n",
           (unsigned long long)ss.written, (unsigned long long)ss.commits, (long long)ss.commit_avg_us,
           (long long)ss.commit_max_us, (unsigned long long)ss.dropped);
    printf("size after %d days: %.1f MB = %.2f MB per simulated day\n", days,
           sim_size / 1e6, sim_size / 1e6 / days);
    printf("one-year database (aggregates copied back %d times in %.1f s): %.1f MB (target <= 250 MB)\n",
           copies, fill_s, year_size / 1e6);
    printf("\n%-44s %10s %10s %8s\n", "query (year db, 7 runs)", "median ms", "max ms", "rows");
    static const char *const names[6] = {
        "farm status (every target)", "one target, 90 days at 1 h steps",
        "all outages of the year", "farm uptime over 30 days", "uptime per host over 30 days",
        "incidents of the year"};
    for (int q = 0; q < 6; q++) {
        double mx = 0;
        for (int r = 0; r < REPS; r++)
            mx = tq[q][r] > mx ? tq[q][r] : mx;
        printf("%-44s %10.2f %10.2f %8zu\n", names[q], pctl(tq[q], REPS, 0.5) * 1e3, mx * 1e3,
               counts[q]);
    }
    printf("\n%-44s %14s %14s\n", "size for one year", "portwatch", "row per probe");
    printf("%-44s %11.1f MB %11.1f GB\n", "(naive measured on 1 h: bytes/probe x probes)",
           year_size / 1e6, naive * probes_year / 1e9);
    printf("naive: %.1f bytes per probe x %.3g probes/year\n", naive, probes_year);
    return 0;
}
