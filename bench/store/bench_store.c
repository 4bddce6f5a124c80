/*
 * History store benchmark (issue 21): the one-year database of a farm,
 * default the daemon benchmark's 100,000 targets (bench/store/run.sh
 * writes the configuration: 500 hosts x 200 ports), probed every 30 s.
 *
 * DAYS (default 1) are simulated through the store's own API, as fast as
 * it goes, with the results the probe engine would give:
 *   - the first 4 ports of every host listen (open), the rest refuse
 *     (closed, which `expect = reachable` passes);
 *   - the last DROP hosts drop every SYN (filtered, down the whole time);
 *   - each day 2% of the targets flap (1-5 timeouts), 2 hosts are down
 *     for 1-8 hours, and 0.05% of the targets are probed 45 s late once
 *     (a target gap).
 * The writer turns them into what a daemon leaves: state runs, outages,
 * the fine/hour/day buckets, the coverage run and target gaps. Then the
 * rest of the year is completed from the simulated period, copied back in
 * time as whole periods: buckets, ended outages and target gaps shifted;
 * state runs shifted and joined across the copies' seams where the state
 * goes on (a stable target keeps one run the whole year, as the writer
 * would have written); the coverage run and targets' first_ms moved to
 * the year's start. Fine buckets only within keep_detail (7 days).
 * The simulated period ends at the current hour, so that a daemon started
 * on the database continues it.
 *
 * usage: bench_store DIR CONFIG [DAYS] [DROP]
 * Writes DIR/bench.db; prints its size beside the naive row-per-probe
 * design (measured on 10 sweeps and extrapolated).
 */
#include "config/config.h"
#include "store/store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <uv.h>

#define IVL 30000LL
#define HOUR 3600000LL
#define DAY 86400000LL
#define FINE_MS 300000LL
#define KEEP_RAW (7 * DAY)
#define LISTENING 4 /* ports per host that answer */

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

/* ---- the simulated period --------------------------------------------- */

struct sim {
    const struct pw_plan *plan;
    size_t nt;
    size_t first_drop;   /* targets from here on are on dropping hosts */
    uint8_t *fails;
    uint8_t *status;
    int64_t *flap_at;    /* sweep number a flap starts, -1 none */
    uint8_t *flap_len;
    int64_t *late_at;    /* sweep number of a late probe, -1 none */
    int64_t down_from[2], down_to[2]; /* sweeps of today's hosts down */
    size_t down_host[2];
};

static void sim_new_day(struct sim *s, int64_t sw, int64_t per_day)
{
    for (size_t k = 0; k < s->nt / 50; k++) {
        size_t t = xr() % s->nt;
        s->flap_at[t] = sw + (int64_t)(xr() % (uint64_t)(per_day - 10));
        s->flap_len[t] = (uint8_t)(1 + xr() % 5);
    }
    for (size_t k = 0; k < s->nt / 2000; k++)
        s->late_at[xr() % s->nt] = sw + (int64_t)(xr() % (uint64_t)per_day);
    size_t up_hosts = s->plan->nhosts - (s->nt - s->first_drop) / (s->nt / s->plan->nhosts);
    for (int i = 0; i < 2; i++) {
        s->down_host[i] = up_hosts ? xr() % up_hosts : 0;
        s->down_from[i] = sw + (int64_t)(xr() % (uint64_t)(per_day / 2));
        s->down_to[i] = s->down_from[i] + (int64_t)(1 + xr() % 8) * (HOUR / IVL);
    }
}

static bool sim_fails(const struct sim *s, size_t t, int64_t sw)
{
    if (t >= s->first_drop)
        return true;
    size_t h = s->plan->targets[t].host;
    for (int i = 0; i < 2; i++)
        if (h == s->down_host[i] && sw >= s->down_from[i] && sw < s->down_to[i])
            return true;
    return s->flap_at[t] >= 0 && sw >= s->flap_at[t] && sw < s->flap_at[t] + s->flap_len[t];
}

static void sim_result(struct sim *s, size_t t, int64_t sw, int64_t base, struct pw_result *r)
{
    bool fail = sim_fails(s, t, sw);
    const struct pw_target *tg = &s->plan->targets[t];
    bool listens = t - s->plan->hosts[tg->host].first < LISTENING;
    if (fail) {
        if (s->fails[t] < 255)
            s->fails[t]++;
        if (s->fails[t] >= 2 || s->status[t] == PW_STATUS_UNKNOWN)
            s->status[t] = PW_STATUS_DOWN;
    } else {
        s->fails[t] = 0;
        s->status[t] = PW_STATUS_UP;
    }
    r->target = (uint32_t)t;
    r->state = fail ? PW_STATE_FILTERED : listens ? PW_STATE_OPEN : PW_STATE_CLOSED;
    r->ok = !fail;
    r->status = (enum pw_status)s->status[t];
    r->status_changed = false;
    r->latency_us = fail ? -1 : 40 + (int64_t)(xr() % 60);
    r->at_ms = base + (int64_t)(t % 4000) * 7; /* spread over the interval */
    r->late_since_ms = s->late_at[t] == sw ? r->at_ms - 45000 : 0;
    memcpy(r->detail, fail ? "ETIMEDOUT" : listens ? "" : "ECONNREFUSED", 13);
    r->verify = fail ? PW_VERIFY_NONE : PW_VERIFY_OFF;
    r->verify_info[0] = 0;
}

/* Feeds DAYS x 2,880 sweeps from t0 through the store. Returns results
 * written or 0. */
static uint64_t simulate(struct pw_store *st, struct sim *s, int64_t t0, int days)
{
    struct pw_result *sweep = calloc(s->nt, sizeof *sweep);
    if (!sweep)
        return 0;
    const int64_t per_day = DAY / IVL;
    struct pw_store_stats ss;
    uint64_t total = 0;
    for (int64_t sw = 0; sw < days * per_day; sw++) {
        if (sw % per_day == 0)
            sim_new_day(s, sw, per_day);
        for (size_t t = 0; t < s->nt; t++)
            sim_result(s, t, sw, t0 + sw * IVL, &sweep[t]);
        /* a real loop would drop beyond the bound; the benchmark waits for
         * room so that every result is written */
        for (;;) {
            pw_store_stats(st, &ss);
            if (ss.queued + s->nt <= ss.queue_max)
                break;
            uv_sleep(1);
        }
        if (pw_store_submit(st, sweep, s->nt) != s->nt) {
            fprintf(stderr, "queue refused results\n");
            free(sweep);
            return 0;
        }
        total += s->nt;
    }
    free(sweep);
    return total;
}

/* ---- completing the year ---------------------------------------------- */

struct year {
    int64_t t0, span, end, ystart;
    int copies; /* periods copied back before the simulated one */
};

/* The columns of a bucket row and the store's own merge of two (as its
 * writer's upsert in store/store.c), for the seams between copies. */
#define BUCKET_COLS "target_id,b,n0,n1,n2,n3,n4,n5,nfail,lat_n,lat_min,lat_sum,lat_max"
#define BUCKET_MERGE                                                              \
    " ON CONFLICT(target_id,b) DO UPDATE SET n0=n0+excluded.n0, n1=n1+excluded.n1," \
    " n2=n2+excluded.n2, n3=n3+excluded.n3, n4=n4+excluded.n4, n5=n5+excluded.n5,"  \
    " nfail=nfail+excluded.nfail, lat_n=lat_n+excluded.lat_n,"                       \
    " lat_min=min(coalesce(lat_min,excluded.lat_min),coalesce(excluded.lat_min,lat_min)),"\
    " lat_max=max(coalesce(lat_max,excluded.lat_max),coalesce(excluded.lat_max,lat_max)),"\
    " lat_sum=coalesce(lat_sum,0)+coalesce(excluded.lat_sum,0)"

/* Copy k of the buckets, ended outages and target gaps: the simulated
 * period's rows (snapshots in temp tables) shifted k periods back, those
 * older than a year left out. */
static int copy_period(sqlite3 *db, const struct year *y, int k)
{
    static const char *const tier[3] = {"bucket_fine", "bucket_hour", "bucket_day"};
    static const long long tier_ms[3] = {FINE_MS, HOUR, DAY};
    long long sh = (long long)k * y->span, lo = y->ystart + sh;
    char sql[2048];
    for (int i = 0; i < 3; i++) {
        long long from = lo;
        if (i == 0 && from < y->end - KEEP_RAW + sh)
            from = y->end - KEEP_RAW + sh;
        if (from >= y->t0 + y->span)
            continue;
        snprintf(sql, sizeof sql,
                 "INSERT INTO %s(" BUCKET_COLS ") SELECT target_id,b-%lld,n0,n1,n2,n3,n4,n5,"
                 "nfail,lat_n,lat_min,lat_sum,lat_max FROM snap_%s WHERE b>=%lld ORDER BY target_id,b"
                 BUCKET_MERGE ";",
                 tier[i], sh / tier_ms[i], tier[i], from / tier_ms[i]);
        if (exec(db, sql))
            return -1;
    }
    snprintf(sql, sizeof sql,
             "INSERT INTO outages(target_id,start_ms,end_ms,last_ms,state,fails,detail)"
             " SELECT target_id,start_ms-%lld,end_ms-%lld,last_ms-%lld,state,fails,detail"
             " FROM snap_outages WHERE start_ms>=%lld;"
             "INSERT INTO target_gaps(target_id,from_ms,to_ms) SELECT target_id,from_ms-%lld,"
             "to_ms-%lld FROM snap_gaps WHERE from_ms>=%lld;",
             sh, sh, sh, lo, sh, sh, lo);
    return exec(db, sql);
}

struct run {
    int64_t id, target, first, last, count, since, fails_before, latency;
    int state, status, ok, verify;
    char detail[64], info[PW_VERIFY_INFO_MAX];
};

static bool run_same(const struct run *a, const struct run *b)
{
    return a->state == b->state && a->status == b->status && a->ok == b->ok &&
           a->verify == b->verify;
}

/* Writes one run of the year: the simulated period's own row updated when
 * the run ends in it (orig), else a new row. */
static int run_emit(sqlite3_stmt *ins, sqlite3_stmt *upd, const struct run *r, int64_t orig)
{
    sqlite3_stmt *s = orig ? upd : ins;
    if (orig) {
        sqlite3_bind_int64(s, 1, orig);
        sqlite3_bind_int64(s, 2, r->first);
        sqlite3_bind_int64(s, 3, r->count);
        sqlite3_bind_int64(s, 4, r->since);
    } else {
        int64_t v[9] = {r->target, r->state, r->status, r->ok, r->first, r->last,
                        r->count, r->since, r->fails_before};
        for (int i = 0; i < 9; i++)
            sqlite3_bind_int64(s, 1 + i, v[i]);
        if (r->latency >= 0)
            sqlite3_bind_int64(s, 10, r->latency);
        else
            sqlite3_bind_null(s, 10);
        sqlite3_bind_text(s, 11, r->detail, -1, SQLITE_STATIC);
        if (r->verify >= 0)
            sqlite3_bind_int(s, 12, r->verify);
        else
            sqlite3_bind_null(s, 12);
        sqlite3_bind_text(s, 13, r->info, -1, SQLITE_STATIC);
    }
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* One target's runs of the year: its simulated runs R[0..m) repeated for
 * every copy, oldest first, clipped to the year, a run joined with the
 * next where the state goes on over a seam. */
static int target_year(sqlite3_stmt *ins, sqlite3_stmt *upd, const struct year *y,
                       const struct run *R, size_t m, uint64_t *rows)
{
    struct run cur;
    int64_t orig = 0;
    bool have = false;
    for (int k = y->copies; k >= 0; k--) {
        int64_t sh = (int64_t)k * y->span;
        for (size_t i = 0; i < m; i++) {
            struct run r = R[i];
            r.first -= sh, r.last -= sh, r.since -= sh;
            if (r.last < y->ystart)
                continue;
            if (r.first < y->ystart) {
                r.count -= (y->ystart - r.first) / IVL;
                r.first = y->ystart;
            }
            if (r.since < y->ystart)
                r.since = y->ystart;
            if (have && run_same(&cur, &r) && !(orig && k == 0)) {
                cur.last = r.last;
                cur.count += r.count;
                if (k == 0)
                    orig = R[i].id;
                continue;
            }
            /* a status that goes on from the previous run keeps its start */
            if (have && r.status == cur.status && R[i].since <= y->t0 + 2 * IVL)
                r.since = cur.since;
            if (have && run_emit(ins, upd, &cur, orig))
                return -1;
            *rows += have;
            cur = r, have = true, orig = k == 0 ? R[i].id : 0;
        }
    }
    *rows += have;
    return have ? run_emit(ins, upd, &cur, orig) : 0;
}

static int read_run(sqlite3_stmt *s, struct run *r)
{
    r->id = sqlite3_column_int64(s, 0);
    r->target = sqlite3_column_int64(s, 1);
    r->state = sqlite3_column_int(s, 2);
    r->status = sqlite3_column_int(s, 3);
    r->ok = sqlite3_column_int(s, 4);
    r->first = sqlite3_column_int64(s, 5);
    r->last = sqlite3_column_int64(s, 6);
    r->count = sqlite3_column_int64(s, 7);
    r->since = sqlite3_column_int64(s, 8);
    r->fails_before = sqlite3_column_int64(s, 9);
    r->latency = sqlite3_column_type(s, 10) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, 10);
    snprintf(r->detail, sizeof r->detail, "%s", (const char *)sqlite3_column_text(s, 11));
    r->verify = sqlite3_column_type(s, 12) == SQLITE_NULL ? -1 : sqlite3_column_int(s, 12);
    const unsigned char *vi = sqlite3_column_text(s, 13);
    snprintf(r->info, sizeof r->info, "%s", vi ? (const char *)vi : "");
    return 0;
}

static int year_runs(sqlite3 *db, const struct year *y, uint64_t *rows)
{
    sqlite3_stmt *sel, *ins, *upd;
    if (sqlite3_prepare_v2(db, "SELECT id,target_id,state,status,ok,first_ms,last_ms,count,"
                           "status_since_ms,fails_before,latency_us,detail,verify,verify_info"
                           " FROM state_runs ORDER BY target_id,first_ms", -1, &sel, NULL) ||
        sqlite3_prepare_v2(db, "INSERT INTO state_runs(target_id,state,status,ok,first_ms,"
                           "last_ms,count,status_since_ms,fails_before,latency_us,detail,verify,"
                           "verify_info) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)", -1, &ins, NULL) ||
        sqlite3_prepare_v2(db, "UPDATE state_runs SET first_ms=?2, count=?3, status_since_ms=?4"
                           " WHERE id=?1", -1, &upd, NULL)) {
        fprintf(stderr, "prepare: %s\n", sqlite3_errmsg(db));
        return -1;
    }
    /* every simulated run first: the loop below writes into the table */
    size_t n = 0, cap = 1024;
    struct run *all = malloc(cap * sizeof *all);
    while (all && sqlite3_step(sel) == SQLITE_ROW) {
        if (n == cap && !(all = realloc(all, (cap *= 2) * sizeof *all)))
            break;
        read_run(sel, &all[n++]);
    }
    sqlite3_finalize(sel);
    int rc = all ? 0 : -1;
    for (size_t i = 0, j; !rc && i < n; i = j) {
        for (j = i; j < n && all[j].target == all[i].target; j++)
            ;
        rc = target_year(ins, upd, y, &all[i], j - i, rows);
    }
    free(all);
    sqlite3_finalize(ins);
    sqlite3_finalize(upd);
    return rc;
}

static int complete_year(sqlite3 *db, const struct year *y, uint64_t *runs)
{
    /* one transaction of a few GB: a rollback journal holds only the few
     * pages it changes; the WAL would hold all of them */
    if (exec(db, "PRAGMA journal_mode=DELETE; PRAGMA cache_size=-262144; BEGIN;"
                 "CREATE TEMP TABLE snap_bucket_fine AS SELECT * FROM bucket_fine;"
                 "CREATE TEMP TABLE snap_bucket_hour AS SELECT * FROM bucket_hour;"
                 "CREATE TEMP TABLE snap_bucket_day AS SELECT * FROM bucket_day;"
                 "CREATE TEMP TABLE snap_outages AS SELECT * FROM outages WHERE end_ms IS NOT NULL;"
                 "CREATE TEMP TABLE snap_gaps AS SELECT * FROM target_gaps;"))
        return -1;
    /* oldest first: each copy appends to the targets' history, as the
     * writer does over time (and leaves the pages as full as it would) */
    for (int k = y->copies; k >= 1; k--)
        if (copy_period(db, y, k))
            return -1;
    if (year_runs(db, y, runs))
        return -1;
    char sql[1024];
    /* down since the simulated period began: since the year's start */
    snprintf(sql, sizeof sql,
             "UPDATE outages SET start_ms=%lld+(start_ms-%lld) WHERE end_ms IS NULL AND start_ms<%lld;"
             "UPDATE runs SET started_ms=%lld WHERE started_ms<%lld;"
             "UPDATE targets SET first_ms=%lld;"
             "COMMIT; PRAGMA journal_mode=WAL;",
             (long long)y->ystart, (long long)y->t0, (long long)(y->t0 + 3 * IVL),
             (long long)y->ystart, (long long)(y->t0 + IVL), (long long)y->ystart);
    return exec(db, sql);
}

/* ---- the naive design ------------------------------------------------- */

/* A row per probe with a (target, time) index, 10 sweeps of the farm.
 * Returns bytes per probe. */
static double naive_bytes_per_probe(const char *dir, size_t nt)
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
    sqlite3_prepare_v2(db, "INSERT INTO probes(target_id,at_ms,state,latency_us) VALUES(?,?,1,?)",
                       -1, &s, NULL);
    long long n = 0;
    for (int sw = 0; sw < 10; sw++)
        for (size_t t = 0; t < nt; t++, n++) {
            sqlite3_bind_int64(s, 1, (int64_t)t + 1);
            sqlite3_bind_int64(s, 2, 1700000000000LL + sw * IVL + (int64_t)(t % 4000) * 7);
            sqlite3_bind_int(s, 3, 40 + (int)(xr() % 60));
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

/* ---- main ------------------------------------------------------------- */

static int load_plan(const char *path, struct pw_plan **plan)
{
    struct pw_config *c;
    struct pw_diag d = {0};
    int rc = pw_config_load(path, &c, &d);
    if (!rc) {
        rc = pw_plan_build(c, plan, &d);
        pw_config_free(c);
    }
    for (size_t i = 0; i < d.n; i++)
        fprintf(stderr, "%s: %s\n", path, d.msgs[i]);
    pw_diag_free(&d);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s DIR CONFIG [DAYS] [DROP]\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    int days = argc > 3 ? atoi(argv[3]) : 1;
    int drop = argc > 4 ? atoi(argv[4]) : 10;
    if (days < 1 || days > 365 || drop < 0) {
        fprintf(stderr, "DAYS must be 1..365 and DROP 0 or more\n");
        return 2;
    }
    struct pw_plan *plan;
    if (load_plan(argv[2], &plan))
        return 1;
    if ((size_t)drop > plan->nhosts)
        drop = (int)plan->nhosts;
    char path[512], wal[600];
    snprintf(path, sizeof path, "%s/bench.db", dir);
    snprintf(wal, sizeof wal, "%s-wal", path);
    remove(path);
    remove(wal);

    struct year y = {.span = days * DAY};
    y.end = (int64_t)time(NULL) * 1000 / IVL * IVL;
    y.t0 = y.end - y.span;
    y.ystart = y.end - 365 * DAY;
    y.copies = (int)((365 * DAY - y.span + y.span - 1) / y.span);

    struct pw_store *st;
    char err[PW_STORE_MSG_MAX];
    struct pw_store_options o = {.queue_max = 1u << 21, .batch_max = 1u << 20,
                                 .commit_interval_ms = 1000, .keep_raw_ms = KEEP_RAW,
                                 .keep_hourly_ms = 400 * DAY, .keep_events_ms = 400 * DAY,
                                 .housekeep_every_ms = -1};
    if (pw_store_open(path, &o, &st, err) != 0 || pw_store_sync_targets(st, plan, NULL) != 0) {
        fprintf(stderr, "open: %s\n", err);
        return 1;
    }
    struct sim s = {.plan = plan, .nt = plan->ntargets};
    s.first_drop = drop ? plan->hosts[plan->nhosts - (size_t)drop].first : s.nt;
    s.fails = calloc(s.nt, 1);
    s.status = calloc(s.nt, 1);
    s.flap_at = malloc(s.nt * sizeof *s.flap_at);
    s.late_at = malloc(s.nt * sizeof *s.late_at);
    s.flap_len = calloc(s.nt, 1);
    if (!s.fails || !s.status || !s.flap_at || !s.late_at || !s.flap_len)
        return 1;
    for (size_t i = 0; i < s.nt; i++)
        s.flap_at[i] = s.late_at[i] = -1;

    double t_start = now_s();
    uint64_t total = simulate(st, &s, y.t0, days);
    pw_store_flush(st, -1);
    double ingest_s = now_s() - t_start;
    struct pw_store_stats ss;
    pw_store_stats(st, &ss);
    pw_store_close(st);
    if (!total)
        return 1;

    sqlite3 *db;
    sqlite3_open(path, &db);
    exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
    long long sim_size = fsize(path);
    double t_fill = now_s();
    uint64_t runs = 0;
    if (complete_year(db, &y, &runs))
        return 1;
    double fill_s = now_s() - t_fill;
    sqlite3_close(db);
    long long year_size = fsize(path);
    double naive = naive_bytes_per_probe(dir, s.nt);
    double probes_year = (double)s.nt * (DAY / IVL) * 365.0;
    double rate = (double)total / ingest_s;

    printf("== portwatch history store: %zu targets on %zu hosts every 30 s; %d hosts drop,"
           " 2%% of targets flap daily, 2 hosts down 1-8 h daily ==\n",
           s.nt, plan->nhosts, drop);
    printf("ingest, %d simulated day(s): %llu results in %.1f s = %.0f results/s = %.0fx real time\n",
           days, (unsigned long long)total, ingest_s, rate, rate / (s.nt / 30.0));
    printf("commits: %llu, avg %lld us, max %lld us; dropped %llu; %.1f MB after the simulation\n",
           (unsigned long long)ss.commits, (long long)ss.commit_avg_us,
           (long long)ss.commit_max_us, (unsigned long long)ss.dropped, sim_size / 1e6);
    printf("one-year database (%d copies back, %llu state runs, in %.1f s): %.1f MB"
           " (target <= 2,500 MB)\n", y.copies, (unsigned long long)runs, fill_s, year_size / 1e6);
    printf("row per probe for the same year: %.1f bytes x %.3g probes = %.0f GB\n", naive,
           probes_year, naive * probes_year / 1e9);
    pw_plan_free(plan);
    return 0;
}
