/*
 * `portwatch check`'s output, built from a plan and a snapshot: the table
 * an operator reads (which ports fail, and which administrative tasks that
 * breaks) and the JSON a script reads; and the one JSON rendering of a
 * target, which the HTTP API's documents use too. See probes/report.h.
 */
#include "probes/report.h"

#include "config/values.h"
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

/* ---- one target as JSON: the API's rendering ----------------------------- */

json_t *pw_report_time(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    char buf[40];
    pw_format_rfc3339(ms, buf, sizeof buf);
    return json_string(buf);
}

json_t *pw_report_latency_ms(int64_t us)
{
    /* whole microseconds: three decimals, which a writer with
     * JSON_REAL_PRECISION(15) prints as such (0.081) */
    return us < 0 ? json_null() : json_real((double)us / 1000.0);
}

json_t *pw_report_state_fields(json_t *o, const struct pw_target_state *t)
{
    bool r = t->has_result;
    json_object_set_new(o, "status", json_string(pw_status_name(t->status)));
    json_object_set_new(o, "state", r ? json_string(pw_state_name(t->state)) : json_null());
    json_object_set_new(o, "ok", r ? json_boolean(t->ok) : json_null());
    json_object_set_new(o, "latency_ms", r ? pw_report_latency_ms(t->latency_us) : json_null());
    json_object_set_new(o, "detail", json_string(r ? t->detail : ""));
    /* Protocol proof (issue 9): null until a probe connected. */
    json_object_set_new(o, "verify", r && t->verify != PW_VERIFY_NONE
                                         ? json_string(pw_verify_name(t->verify))
                                         : json_null());
    json_object_set_new(o, "verify_info", json_string(r ? t->verify_info : ""));
    json_object_set_new(o, "since", pw_report_time(t->since_ms));
    json_object_set_new(o, "last_checked", pw_report_time(t->last_ms));
    json_object_set_new(o, "consecutive_failures", json_integer(t->fails));
    return o;
}

static json_t *roles_json(const struct pw_profile *pf)
{
    json_t *a = json_array();
    for (size_t k = 0; k < pf->nroles; k++)
        json_array_append_new(a, json_string(pf->roles[k]));
    return a;
}

static json_t *reasons_json(const struct pw_profile *pf)
{
    json_t *a = json_array();
    for (size_t k = 0; k < pf->nreasons; k++) {
        const struct pw_reason *rs = &pf->reasons[k];
        json_t *o = json_object();
        json_object_set_new(o, "role", json_string(rs->role));
        json_object_set_new(o, "service", rs->service ? json_string(rs->service) : json_null());
        json_object_set_new(o, "text", json_string(rs->text ? rs->text : ""));
        if (rs->row)
            json_object_set_new(o, "catalog_row", json_integer(rs->row));
        json_array_append_new(a, o);
    }
    return a;
}

json_t *pw_report_target(const struct pw_plan *p, const struct pw_snapshot *s, size_t i,
                         uint32_t id, bool with_reasons)
{
    const struct pw_profile *pf = pw_target_profile(p, &p->targets[i]);
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "id", json_integer(id));
    json_object_set_new(o, "host", json_string(p->hosts[p->targets[i].host].name));
    json_object_set_new(o, "port", json_integer(p->targets[i].port));
    json_object_set_new(o, "roles", roles_json(pf));
    json_object_set_new(o, "expect", json_string(pw_expect_name(pf->expect)));
    pw_report_state_fields(o, &s->targets[i]);
    if (with_reasons)
        json_object_set_new(o, "reasons", reasons_json(pf));
    return o;
}

/* An element's text, each line after the first indented two more: it
 * sits inside the array. */
static int write_indented(const char *s, size_t len, FILE *f)
{
    for (const char *end = s + len; s < end;) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = nl ? (size_t)(nl - s) + 1 : (size_t)(end - s);
        if (fwrite(s, 1, n, f) != n || (nl && fputs("  ", f) == EOF))
            return -1;
        s += n;
    }
    return 0;
}

int pw_report_json_write(const struct pw_plan *p, const struct pw_snapshot *s, FILE *f)
{
    size_t n = s->ntargets < p->ntargets ? s->ntargets : p->ntargets;
    /* The array's brackets and separators are written here so that only
     * one element exists at a time; jansson serializes every element, into
     * memory first: json_dumpf writes token by token, and at 100,000
     * targets those locked stdio calls cost more than the sweep's probes. */
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    int rc = buf ? 0 : -1;
    fputs(n ? "[\n  " : "[", f);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const size_t flags = JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15);
        json_t *o = pw_report_target(p, s, i, (uint32_t)(i + 1), true);
        len = o ? json_dumpb(o, buf, cap, flags) : 0;
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
        json_decref(o);
        if (len == 0 || write_indented(buf, len, f) != 0)
            rc = -1;
        fputs(i + 1 < n ? ",\n  " : "\n", f);
    }
    fputs("]\n", f);
    free(buf);
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
