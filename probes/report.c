/*
 * `portwatch check`'s output, built from a plan and a snapshot: the table
 * an operator reads (which ports fail, and which administrative tasks that
 * breaks) and the JSON a script reads. See probes/report.h.
 */
#include "probes/report.h"

#include "probes/epm.h"

#include <stdlib.h>
#include <string.h>

/* Width of the port column: fits "50000-50200". */
#define PORTW 11

static const char *verdict(const struct pw_target_state *st)
{
    if (!st->has_result)
        return "--";
    return st->ok ? "OK" : "FAIL";
}

static const char *state_text(const struct pw_target_state *st)
{
    return st->has_result ? pw_state_name(st->state) : "no result";
}

/* Roles and reasons of a profile, indented under a failing port. */
static void print_serves(const struct pw_profile *pr, FILE *f)
{
    if (pr->nroles) {
        fprintf(f, "  %*s  roles: ", PORTW, "");
        for (size_t i = 0; i < pr->nroles; i++)
            fprintf(f, "%s%s", i ? ", " : "", pr->roles[i]);
        fputc('\n', f);
    }
    for (size_t i = 0; i < pr->nreasons; i++) {
        const struct pw_reason *r = &pr->reasons[i];
        fprintf(f, "  %*s  breaks: ", PORTW, "");
        if (r->row)
            fprintf(f, "[%s, row %d, %s] ", r->service ? r->service : "", r->row,
                    r->role ? r->role : "");
        else
            fprintf(f, "[check %s] ", r->role ? r->role : "");
        fprintf(f, "%s\n", r->text && *r->text ? r->text : "(no reason given)");
    }
}

/* Whether two results read the same on a line: state, detail and proof. */
static bool same_outcome(const struct pw_target_state *a, const struct pw_target_state *b)
{
    return a->has_result == b->has_result && a->ok == b->ok && a->state == b->state &&
           a->verify == b->verify && strcmp(a->detail, b->detail) == 0 &&
           strcmp(a->verify_info, b->verify_info) == 0;
}

/* What one host's table has already said, so that a reason is written
 * once per host, not on each of 201 ports: `common` is the outcome every
 * one of its ports failed with (written on the host's line), shown[i]
 * whether profile i's roles and reasons were written (NULL, out of
 * memory: written each time). */
struct host_said {
    const struct pw_target_state *common;
    bool *shown;
};

static void print_outcome(const struct pw_target_state *st, const struct host_said *hs, FILE *f)
{
    fputs(state_text(st), f);
    if (st->has_result && st->state == PW_STATE_OPEN && st->latency_us >= 0)
        fprintf(f, "  %.1f ms", (double)st->latency_us / 1000.0);
    if (hs && hs->common)
        return; /* the host's line said it */
    if (st->has_result && st->detail[0])
        fprintf(f, "  (%s)", st->detail);
    if (st->has_result && st->verify > PW_VERIFY_OFF)
        fprintf(f, "  %s%s%s", pw_verify_name(st->verify), st->verify_info[0] ? ": " : "",
                st->verify_info);
}

static void print_port_line(const char *ports, const struct pw_profile *pr,
                            const struct pw_target_state *st, const struct host_said *hs, FILE *f)
{
    fprintf(f, "  %-*s  %-9s  %-4s  ", PORTW, ports, pw_expect_name(pr->expect), verdict(st));
    print_outcome(st, hs, f);
    fputc('\n', f);
}

/* A profile's roles and reasons, the first time one of its ports fails on
 * this host. */
static void print_serves_once(const struct pw_plan *p, uint16_t profile, struct host_said *hs,
                              FILE *f)
{
    if (hs->shown && hs->shown[profile])
        return;
    if (hs->shown)
        hs->shown[profile] = true;
    print_serves(&p->profiles[profile], f);
}

/* The failing ports of a run, consecutive ones with the same outcome on
 * one line ("    50000-50200  listening  FAIL  closed"); nothing when
 * they are the whole run and the run's line already said all of it. */
static void print_failing(const struct pw_plan *p, const struct pw_snapshot *s, size_t a,
                          size_t b, const struct host_said *hs, FILE *f)
{
    const struct pw_profile *pr = pw_target_profile(p, &p->targets[a]);
    for (size_t i = a; i < b;) {
        const struct pw_target_state *st = &s->targets[i];
        size_t j = i + 1;
        if (!st->has_result || st->ok) {
            i = j;
            continue;
        }
        while (j < b && same_outcome(&s->targets[j], st))
            j++;
        bool said = hs->common || (!st->detail[0] && st->verify <= PW_VERIFY_OFF);
        if (i == a && j == b && said)
            return;
        char ports[24];
        if (j - i == 1)
            snprintf(ports, sizeof ports, "  %u", (unsigned)p->targets[i].port);
        else
            snprintf(ports, sizeof ports, "  %u-%u", (unsigned)p->targets[i].port,
                     (unsigned)p->targets[j - 1].port);
        print_port_line(ports, pr, st, hs, f);
        i = j;
    }
}

/* Targets [a, b) of one host: consecutive ports sharing a profile. */
static void print_run(const struct pw_plan *p, const struct pw_snapshot *s, size_t a, size_t b,
                      struct host_said *hs, FILE *f)
{
    const struct pw_profile *pr = pw_target_profile(p, &p->targets[a]);
    if (b - a == 1) {
        char port[16];
        snprintf(port, sizeof port, "%u", (unsigned)p->targets[a].port);
        print_port_line(port, pr, &s->targets[a], hs, f);
        if (s->targets[a].has_result && !s->targets[a].ok)
            print_serves_once(p, p->targets[a].profile, hs, f);
        return;
    }
    size_t counts[PW_STATE_COUNT_] = {0}, pending = 0, failing = 0;
    for (size_t i = a; i < b; i++) {
        const struct pw_target_state *st = &s->targets[i];
        if (!st->has_result)
            pending++;
        else
            counts[st->state]++;
        if (st->has_result && !st->ok)
            failing++;
    }
    char ports[16];
    snprintf(ports, sizeof ports, "%u-%u", (unsigned)p->targets[a].port,
             (unsigned)p->targets[b - 1].port);
    fprintf(f, "  %-*s  %-9s  %-4s  ", PORTW, ports, pw_expect_name(pr->expect),
            failing ? "FAIL" : pending ? "--" : "OK");
    const char *sep = "";
    for (int st = 0; st < PW_STATE_COUNT_; st++) {
        if (counts[st]) {
            fprintf(f, "%s%zu %s", sep, counts[st], pw_state_name((enum pw_state)st));
            sep = ", ";
        }
    }
    if (pending)
        fprintf(f, "%s%zu without result", sep, pending);
    fputc('\n', f);
    if (!failing)
        return;
    print_failing(p, s, a, b, hs, f);
    print_serves_once(p, p->targets[a].profile, hs, f);
}

/* The outcome every port of targets [first, end) failed with, or NULL
 * when one passed, has no result yet, or failed otherwise. */
static const struct pw_target_state *common_failure(const struct pw_snapshot *s, size_t first,
                                                    size_t end)
{
    if (first >= end)
        return NULL;
    const struct pw_target_state *c = &s->targets[first];
    if (!c->has_result || c->ok)
        return NULL;
    for (size_t i = first + 1; i < end; i++)
        if (!same_outcome(&s->targets[i], c))
            return NULL;
    return c;
}

/* One host: its line (with the failure every port shares, once), then
 * its runs of ports. Returns how many of its ports fail. */
static size_t print_host(const struct pw_plan *p, const struct pw_snapshot *s, size_t h,
                       bool *shown, FILE *f)
{
    const struct pw_host *ph = &p->hosts[h];
    size_t end = ph->first + ph->n, hfail = 0;
    if (end > s->ntargets)
        end = s->ntargets;
    for (size_t i = ph->first; i < end; i++)
        hfail += s->targets[i].has_result && !s->targets[i].ok;
    struct host_said hs = {common_failure(s, ph->first, end), shown};
    if (shown)
        memset(shown, 0, p->nprofiles * sizeof *shown);
    fprintf(f, "%s  (%u port%s, ", ph->name, ph->n, ph->n == 1 ? "" : "s");
    if (hs.common && ph->n > 1) {
        fputs("all failing: ", f);
        print_outcome(hs.common, NULL, f);
    } else {
        fprintf(f, "%zu failing", hfail);
    }
    fputs(")\n", f);
    if (hs.common && ph->n == 1)
        hs.common = NULL; /* one port: its own line says it */
    for (size_t a = ph->first; a < end;) {
        size_t b = a + 1;
        while (b < end && p->targets[b].profile == p->targets[a].profile &&
               p->targets[b].port == p->targets[b - 1].port + 1)
            b++;
        print_run(p, s, a, b, &hs, f);
        a = b;
    }
    fputc('\n', f);
    return hfail;
}

void pw_report_table(const struct pw_plan *p, const struct pw_snapshot *s, FILE *f)
{
    size_t counts[PW_STATE_COUNT_] = {0}, ok = 0, failing = 0, pending = 0;
    size_t hosts_failing = 0;
    bool *shown = calloc(p->nprofiles ? p->nprofiles : 1, sizeof *shown);
    for (size_t h = 0; h < p->nhosts; h++)
        hosts_failing += print_host(p, s, h, shown, f) != 0;
    free(shown);
    for (size_t i = 0; i < s->ntargets; i++) {
        const struct pw_target_state *st = &s->targets[i];
        if (!st->has_result) {
            pending++;
            continue;
        }
        counts[st->state]++;
        if (st->ok)
            ok++;
        else
            failing++;
    }
    fprintf(f, "Total: %zu host%s, %zu target%s: %zu ok, %zu failing", p->nhosts,
            p->nhosts == 1 ? "" : "s", s->ntargets, s->ntargets == 1 ? "" : "s", ok,
            failing);
    if (pending)
        fprintf(f, ", %zu without result", pending);
    fprintf(f, " on %zu host%s (", hosts_failing, hosts_failing == 1 ? "" : "s");
    for (int st = 0; st < PW_STATE_COUNT_; st++)
        fprintf(f, "%s%s %zu", st ? ", " : "", pw_state_name((enum pw_state)st), counts[st]);
    fprintf(f, ")\n");
}

/* json_object_set_new that remembers a failure instead of leaking. */
static void put(json_t *o, const char *k, json_t *v, bool *bad)
{
    if (!v || json_object_set_new(o, k, v) != 0)
        *bad = true;
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* Values every target of a profile shares: its roles and reasons are built
 * once and referenced from each target's object, so a 201-port range costs
 * one copy of its reasons, not 201. */
struct shared {
    json_t **roles;   /* [nprofiles] */
    json_t **reasons; /* [nprofiles] */
};

static json_t *roles_json(const struct pw_profile *pr)
{
    json_t *roles = json_array();
    for (size_t r = 0; roles && r < pr->nroles; r++)
        if (json_array_append_new(roles, str_or_null(pr->roles[r])) != 0) {
            json_decref(roles);
            return NULL;
        }
    return roles;
}

static json_t *reasons_json(const struct pw_profile *pr)
{
    bool bad = false;
    json_t *reasons = json_array();
    for (size_t r = 0; reasons && r < pr->nreasons && !bad; r++) {
        const struct pw_reason *rs = &pr->reasons[r];
        json_t *ro = json_object();
        if (!ro)
            break;
        put(ro, "role", str_or_null(rs->role), &bad);
        put(ro, "service", str_or_null(rs->service), &bad);
        put(ro, "text", str_or_null(rs->text), &bad);
        put(ro, "row", json_integer(rs->row), &bad);
        if (json_array_append_new(reasons, ro) != 0)
            bad = true;
    }
    if (bad || (reasons && json_array_size(reasons) != pr->nreasons)) {
        json_decref(reasons);
        return NULL;
    }
    return reasons;
}

static void shared_free(const struct pw_plan *p, struct shared *sh)
{
    for (size_t i = 0; i < p->nprofiles; i++) {
        if (sh->roles)
            json_decref(sh->roles[i]);
        if (sh->reasons)
            json_decref(sh->reasons[i]);
    }
    free(sh->roles);
    free(sh->reasons);
}

static int shared_build(const struct pw_plan *p, struct shared *sh)
{
    size_t n = p->nprofiles ? p->nprofiles : 1;
    sh->roles = calloc(n, sizeof *sh->roles);
    sh->reasons = calloc(n, sizeof *sh->reasons);
    if (!sh->roles || !sh->reasons)
        return -1;
    for (size_t i = 0; i < p->nprofiles; i++) {
        sh->roles[i] = roles_json(&p->profiles[i]);
        sh->reasons[i] = reasons_json(&p->profiles[i]);
        if (!sh->roles[i] || !sh->reasons[i])
            return -1;
    }
    return 0;
}

/* Sets key k of o to the string s, reusing the string already there: the
 * streaming writer fills one object for every target. */
static void put_str(json_t *o, const char *k, const char *s, bool *bad)
{
    json_t *v = json_object_get(o, k);
    if (json_is_string(v)) {
        if (json_string_set(v, s) != 0)
            *bad = true;
        return;
    }
    put(o, k, json_string(s), bad);
}

static void put_int(json_t *o, const char *k, json_int_t n, bool *bad)
{
    json_t *v = json_object_get(o, k);
    if (json_is_integer(v)) {
        json_integer_set(v, n);
        return;
    }
    put(o, k, json_integer(n), bad);
}

/* Fills o (empty, or filled for another target of the same plan) with
 * target i. Returns 0, or -1 out of memory. */
static int target_fill(json_t *o, const struct pw_plan *p, const struct pw_snapshot *s,
                       const struct shared *sh, size_t i)
{
    const struct pw_target *t = &p->targets[i];
    const struct pw_profile *pr = pw_target_profile(p, t);
    const struct pw_target_state *st = &s->targets[i];
    bool bad = false;
    put_str(o, "host", p->hosts[t->host].name, &bad);
    put_int(o, "port", t->port, &bad);
    if (st->has_result)
        put_str(o, "state", pw_state_name(st->state), &bad);
    else
        put(o, "state", json_null(), &bad);
    if (st->has_result && st->latency_us >= 0)
        put_int(o, "latency_us", st->latency_us, &bad);
    else
        put(o, "latency_us", json_null(), &bad);
    put_str(o, "expect", pw_expect_name(pr->expect), &bad);
    put(o, "ok", json_boolean(st->has_result && st->ok), &bad);
    put_str(o, "status", pw_status_name(st->status), &bad);
    put_str(o, "detail", st->has_result ? st->detail : "", &bad);
    if (st->has_result && st->verify != PW_VERIFY_NONE)
        put_str(o, "verify", pw_verify_name(st->verify), &bad);
    else
        put(o, "verify", json_null(), &bad);
    put_str(o, "verify_info", st->has_result ? st->verify_info : "", &bad);
    put(o, "roles", json_incref(sh->roles[t->profile]), &bad);
    put(o, "reasons", json_incref(sh->reasons[t->profile]), &bad);
    return bad ? -1 : 0;
}

int pw_report_json_write(const struct pw_plan *p, const struct pw_snapshot *s, FILE *f)
{
    struct shared sh = {0};
    int rc = shared_build(p, &sh);
    size_t n = s->ntargets < p->ntargets ? s->ntargets : p->ntargets;
    /* The array's brackets and separators are written here so that only
     * one element exists at a time; jansson serializes every element, into
     * memory first: json_dumpf writes token by token, and at 100,000
     * targets those locked stdio calls cost more than the sweep's probes. */
    size_t cap = 4096, len = 0;
    char *buf = rc == 0 ? malloc(cap) : NULL;
    if (!buf)
        rc = -1;
    fputs(n ? "[\n  " : "[", f);
    json_t *o = rc == 0 ? json_object() : NULL;
    if (!o)
        rc = -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const size_t flags = JSON_INDENT(2) | JSON_PRESERVE_ORDER;
        len = target_fill(o, p, s, &sh, i) == 0 ? json_dumpb(o, buf, cap, flags) : 0;
        if (len > cap) {
            char *bigger = realloc(buf, len);
            if (bigger) {
                buf = bigger;
                cap = len;
                len = json_dumpb(o, buf, cap, flags);
            } else {
                len = 0;
            }
        }
        if (len == 0 || fwrite(buf, 1, len, f) != len)
            rc = -1;
        fputs(i + 1 < n ? ",\n  " : "\n", f);
    }
    fputs("]\n", f);
    json_decref(o);
    free(buf);
    shared_free(p, &sh);
    return rc == 0 && !ferror(f) ? 0 : -1;
}

json_t *pw_report_epm_entry(const struct pw_epm_entry *e)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    char uuid[37], ver[16];
    if (e->has_iface) {
        pw_uuid_format(&e->iface, uuid);
        snprintf(ver, sizeof ver, "%u.%u", e->vmajor, e->vminor);
    }
    const char *name = e->has_iface ? pw_epm_interface_name(&e->iface) : NULL;
    json_object_set_new(o, "interface", e->has_iface ? json_string(uuid) : json_null());
    json_object_set_new(o, "version", e->has_iface ? json_string(ver) : json_null());
    json_object_set_new(o, "name", name ? json_string(name) : json_null());
    json_object_set_new(o, "annotation", json_string(e->annotation));
    json_object_set_new(o, "protocol", json_string(pw_epm_protseq_name(e->protseq)));
    json_object_set_new(o, "endpoint", json_string(e->endpoint));
    json_object_set_new(o, "port", e->port ? json_integer(e->port) : json_null());
    return o;
}

bool pw_report_all_ok(const struct pw_snapshot *s)
{
    for (size_t i = 0; i < s->ntargets; i++)
        if (!s->targets[i].has_result || !s->targets[i].ok)
            return false;
    return true;
}
