/*
 * Target filters (web/scope.h): host=, role=, port=, state=, status=.
 */
#include "web/scope.h"

#include "base/error.h"
#include "config/values.h"
#include "web/params.h"
#include "base/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool has_role(const struct pw_profile *pf, const char *role)
{
    for (size_t k = 0; k < pf->nroles; k++)
        if (strcmp(pf->roles[k], role) == 0)
            return true;
    return false;
}

/* A comma-separated list of names into a bit mask (bit k: names[k]).
 * Returns 0, or -1 with a 400 naming the allowed words. */
static int read_names(const char *param, const char *value, const char *const *names,
                      unsigned n, unsigned *mask, struct pw_reply *out)
{
    char allowed[160] = "";
    for (unsigned k = 0, o = 0; k < n; k++)
        o += (unsigned)snprintf(allowed + o, sizeof allowed - o, "%s%s", k ? ", " : "",
                                names[k]);
    *mask = 0;
    for (const char *s = value;; s++) { /* "a,,b" and "a," hold an empty name */
        size_t len = strcspn(s, ",");
        unsigned k = 0;
        while (k < n && !(strlen(names[k]) == len && strncmp(names[k], s, len) == 0))
            k++;
        if (k == n) {
            char shown[48];
            pw_printable(s, len, shown, sizeof shown);
            pw_reply_error(out, 400, "bad parameter",
                           "%s: '%s' is not allowed; use %s (several separated by commas)",
                           param, shown, allowed);
            return -1;
        }
        *mask |= 1u << k;
        s += len;
        if (!*s)
            break;
    }
    return 0;
}

/* port=1433 or port=50000-50200. */
static int read_port(const char *value, struct pw_scope *sc, struct pw_reply *out)
{
    struct pw_portset ps = {0};
    char err[PW_ERRBUF];
    bool ok = pw_parse_ports(value, &ps, err) == 0;
    if (ok && ps.n == 1) {
        sc->port_lo = ps.r[0].lo;
        sc->port_hi = ps.r[0].hi;
    }
    pw_portset_free(&ps);
    if (!ok || !sc->port_lo) {
        char shown[48];
        pw_printable(value, strlen(value), shown, sizeof shown);
        pw_reply_error(out, 400, "bad parameter",
                       "port: '%s' is not a port; use one port (1433) or one range "
                       "(50000-50200), ports 1 to 65535", shown);
        return -1;
    }
    return 0;
}

int pw_scope_read(struct pw_req *r, bool with_status, struct pw_scope *sc,
                  struct pw_reply *out)
{
    static const char *const statuses[] = {"unknown", "up", "down"};
    _Static_assert(PW_STATUS_UNKNOWN == 0 && PW_STATUS_UP == 1 && PW_STATUS_DOWN == 2,
                   "statuses[] follows enum pw_status");
    memset(sc, 0, sizeof *sc);
    sc->host = pw_web_param(r, "host");
    sc->role = pw_web_param(r, "role");
    if (!with_status)
        return 0;
    const char *states[PW_STATE_COUNT_];
    for (int s = 0; s < PW_STATE_COUNT_; s++)
        states[s] = pw_state_name((enum pw_state)s);
    const char *v;
    if ((v = pw_web_param(r, "status")) &&
        read_names("status", v, statuses, 3, &sc->status_mask, out) != 0)
        return -1;
    if ((v = pw_web_param(r, "state")) &&
        read_names("state", v, states, PW_STATE_COUNT_, &sc->state_mask, out) != 0)
        return -1;
    if ((v = pw_web_param(r, "port")) && read_port(v, sc, out) != 0)
        return -1;
    return 0;
}

/* A name as the client gave it (valid UTF-8: params.c checked), cut to
 * fit with "..." at a character boundary; control characters are the
 * error document's to replace. */
static void shown_name(const char *s, char *buf, size_t len)
{
    size_t n = strlen(s);
    if (n < len) {
        memcpy(buf, s, n + 1);
        return;
    }
    n = len - 4;
    while (n && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    snprintf(buf, len, "%.*s...", (int)n, s);
}

static void unknown_host(const char *host, struct pw_reply *out)
{
    char shown[120];
    shown_name(host, shown, sizeof shown);
    pw_reply_error(out, 404, "not found", "host: no target is on host '%s'", shown);
}

/* The 404 for a role no target serves, naming the catalog's roles. */
static void unknown_role(const char *role, struct pw_reply *out)
{
    struct pw_buf list = {0};
    size_t nr;
    const struct pw_role *roles = pw_catalog_roles(&nr);
    for (size_t k = 0; k < nr; k++)
        pw_buf_printf(&list, "%s%s", k ? ", " : "", roles[k].key);
    char shown[120];
    shown_name(role, shown, sizeof shown);
    pw_reply_error(out, 404, "not found",
                   "role: no target serves role '%s' (roles: %s, or a [check] name)", shown,
                   list.p && !list.oom ? list.p : "see /api/v1/status");
    free(list.p);
}

int pw_scope_parse(struct pw_req *r, bool with_status, struct pw_scope *sc,
                   struct pw_reply *out)
{
    if (pw_scope_read(r, with_status, sc, out) != 0)
        return -1;
    const struct pw_plan *p = r->view.snap->plan;
    bool found = !sc->host;
    for (size_t h = 0; h < p->nhosts && !found; h++)
        found = pw_strcasecmp(p->hosts[h].name, sc->host) == 0 && p->hosts[h].n > 0;
    if (!found) {
        unknown_host(sc->host, out);
        return -1;
    }
    found = !sc->role;
    for (size_t k = 0; k < p->nprofiles && !found; k++)
        found = has_role(&p->profiles[k], sc->role);
    if (!found) {
        unknown_role(sc->role, out);
        return -1;
    }
    return 0;
}

int pw_scope_parse_store(struct pw_req *r, struct pw_store *st, struct pw_scope *sc,
                         struct pw_reply *out)
{
    if (pw_scope_read(r, true, sc, out) != 0)
        return -1;
    if (!sc->host && !sc->role)
        return 0;
    /* two index lookups: every target's status (100,000) took 0.2 s */
    bool host_ok, role_ok;
    int rc = pw_store_known(st, sc->host, sc->role, &host_ok, &role_ok);
    if (rc != 0) {
        pw_reply_error(out, 503, "unavailable", "history query failed: %s", pw_strerror(rc));
        return -1;
    }
    if (!host_ok)
        unknown_host(sc->host, out);
    else if (!role_ok)
        unknown_role(sc->role, out);
    return host_ok && role_ok ? 0 : -1;
}

bool pw_scope_port(const struct pw_scope *sc, uint16_t port)
{
    return !sc->port_lo || (port >= sc->port_lo && port <= sc->port_hi);
}

bool pw_scope_has(const struct pw_web_view *v, size_t i, const struct pw_scope *sc)
{
    const struct pw_plan *p = v->snap->plan;
    const struct pw_target_state *t = &v->snap->targets[i];
    if (sc->host && pw_strcasecmp(p->hosts[p->targets[i].host].name, sc->host) != 0)
        return false;
    if (sc->role && !has_role(pw_target_profile(p, &p->targets[i]), sc->role))
        return false;
    if (!pw_scope_port(sc, p->targets[i].port))
        return false;
    if (sc->status_mask && !(sc->status_mask & (1u << t->status)))
        return false;
    return !sc->state_mask || (t->has_result && (sc->state_mask & (1u << t->state)));
}
