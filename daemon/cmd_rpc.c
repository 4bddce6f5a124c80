/*
 * `portwatch rpc-endpoints HOST[:PORT] [--format table|json] [--timeout D]`:
 * a one-shot dump of a host's RPC endpoint mapper, like `PortQry -e 135`:
 * every registered interface with its protocol sequence and endpoint, the
 * well-known ones named, and the TCP ports a firewall between the
 * administration server and that host must let through. Exit 0 when the
 * dump completed, 1 when the mapper could not be read, 2 on usage errors.
 */
#include "daemon/cli.h"

#include "base/error.h"
#include "config/values.h"
#include "probes/epm.h"
#include "probes/report.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_TIMEOUT_MS 10000

struct job {
    const char *host;
    uint16_t port;
    int json;
    int rc;
};

static int cmp_port(const void *a, const void *b)
{
    return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

/* The distinct TCP ports registered (ncacn_ip_tcp), sorted. */
static size_t tcp_ports(const struct pw_epm_result *r, uint16_t *out)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (r->v[i].protseq != PW_EPM_NCACN_IP_TCP || !r->v[i].port)
            continue;
        bool seen = false;
        for (size_t k = 0; k < n && !seen; k++)
            seen = out[k] == r->v[i].port;
        if (!seen)
            out[n++] = r->v[i].port;
    }
    qsort(out, n, sizeof *out, cmp_port);
    return n;
}

static void print_table(const struct job *j, const struct pw_epm_result *r, FILE *f)
{
    uint16_t *ports = malloc((r->n ? r->n : 1) * sizeof *ports);
    size_t np = ports ? tcp_ports(r, ports) : 0;
    fprintf(f, "Endpoint mapper %s:%u: %zu entr%s; TCP ports registered:", j->host,
            (unsigned)j->port, r->n, r->n == 1 ? "y" : "ies");
    for (size_t k = 0; k < np; k++)
        fprintf(f, "%s%u", k ? ", " : " ", (unsigned)ports[k]);
    fprintf(f, "%s\n\n", np ? "" : " none");
    free(ports);
    fprintf(f, "%-12s  %-24s  %-15s  %-36s  %-5s  %s\n", "protocol", "endpoint", "address",
            "interface", "ver", "name / annotation");
    for (size_t i = 0; i < r->n; i++) {
        const struct pw_epm_entry *e = &r->v[i];
        char uuid[37] = "-";
        if (e->has_iface)
            pw_uuid_format(&e->iface, uuid);
        char ver[16];
        snprintf(ver, sizeof ver, "%u.%u", e->vmajor, e->vminor);
        const char *name = e->has_iface ? pw_epm_interface_name(&e->iface) : NULL;
        fprintf(f, "%-12s  %-24s  %-15s  %-36s  %-5s  %s%s%s\n", pw_epm_protseq_name(e->protseq),
                e->endpoint[0] ? e->endpoint : "-", e->address[0] ? e->address : "-", uuid, ver,
                name ? name : "", name && e->annotation[0] ? "; " : "", e->annotation);
    }
}

/* The shared fields, plus where the mapper says the endpoint lives. */
static json_t *entry_json(const struct pw_epm_entry *e)
{
    json_t *o = pw_report_epm_entry(e);
    if (!o)
        return NULL;
    char uuid[37];
    pw_uuid_format(&e->object, uuid);
    json_object_set_new(o, "address", json_string(e->address));
    json_object_set_new(o, "object", json_string(uuid));
    return o;
}

static void print_json(const struct job *j, const struct pw_epm_result *r, FILE *f)
{
    json_t *doc = json_object(), *arr = json_array(), *tp = json_array();
    uint16_t *ports = malloc((r->n ? r->n : 1) * sizeof *ports);
    size_t np = ports ? tcp_ports(r, ports) : 0;
    for (size_t k = 0; k < np; k++)
        json_array_append_new(tp, json_integer(ports[k]));
    free(ports);
    for (size_t i = 0; i < r->n; i++)
        json_array_append_new(arr, entry_json(&r->v[i]));
    json_object_set_new(doc, "host", json_string(j->host));
    json_object_set_new(doc, "port", json_integer(j->port));
    json_object_set_new(doc, "complete", json_boolean(r->err == 0));
    json_object_set_new(doc, "error", r->err ? json_string(r->message) : json_null());
    json_object_set_new(doc, "lookup_calls", json_integer(r->calls));
    json_object_set_new(doc, "tcp_ports", tp);
    json_object_set_new(doc, "entries", arr);
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text)
        fprintf(f, "%s\n", text);
    free(text);
    json_decref(doc);
}

static void on_dump(void *ud, struct pw_epm_result *r)
{
    struct job *j = ud;
    if (j->json)
        print_json(j, r, stdout);
    else if (r->n || !r->err)
        print_table(j, r, stdout);
    if (r->err) {
        fprintf(stderr, "portwatch rpc-endpoints: %s:%u: %s%s\n", j->host, (unsigned)j->port,
                r->message[0] ? r->message : uv_strerror(r->err),
                r->n ? " (the entries above are what arrived before)" : "");
        j->rc = PW_EXIT_FAILED;
    } else {
        j->rc = PW_EXIT_OK;
    }
    pw_epm_result_free(r);
}

struct lookup {
    uv_getaddrinfo_t req;
    struct job *j;
    uv_loop_t *loop;
    int64_t timeout_ms;
};

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct lookup *l = req->data;
    if (status != 0 || !res) {
        fprintf(stderr, "portwatch rpc-endpoints: %s: %s\n", l->j->host, uv_strerror(status));
        l->j->rc = PW_EXIT_FAILED;
    } else {
        struct sockaddr_storage ss;
        memcpy(&ss, res->ai_addr, res->ai_addrlen);
        if (ss.ss_family == AF_INET6)
            ((struct sockaddr_in6 *)&ss)->sin6_port = htons(l->j->port);
        else
            ((struct sockaddr_in *)&ss)->sin_port = htons(l->j->port);
        int err = pw_epm_dump(l->loop, (struct sockaddr *)&ss, l->timeout_ms, on_dump, l->j);
        if (err) {
            fprintf(stderr, "portwatch rpc-endpoints: %s: %s\n", l->j->host,
                    err > PW_ERR_FIRST_ && err < PW_ERR_LAST_ ? pw_strerror(err)
                                                              : uv_strerror(err));
            l->j->rc = PW_EXIT_FAILED;
        }
    }
    uv_freeaddrinfo(res);
}

/* HOST, HOST:PORT, [V6]:PORT or a bare IPv6 address. */
static int split_host(char *s, const char **host, uint16_t *port)
{
    char *colon = strrchr(s, ':');
    *port = 135;
    if (s[0] == '[') {
        char *end = strchr(s, ']');
        if (!end)
            return -1;
        *end = '\0';
        *host = s + 1;
        colon = end[1] == ':' ? end + 1 : NULL;
        if (end[1] && !colon)
            return -1;
    } else {
        *host = s;
        if (colon && strchr(s, ':') != colon)
            colon = NULL; /* a bare IPv6 address */
    }
    if (colon) {
        *colon = '\0';
        char *endp;
        long v = strtol(colon + 1, &endp, 10);
        if (*endp || v < 1 || v > 65535)
            return -1;
        *port = (uint16_t)v;
    }
    return **host ? 0 : -1;
}

int pw_cmd_rpc_endpoints(const struct pw_command *cmd, const struct pw_args *a);
int pw_cmd_rpc_endpoints(const struct pw_command *cmd, const struct pw_args *a)
{
    const char *fmt = pw_arg(cmd, a, "format");
    if (fmt && strcmp(fmt, "table") != 0 && strcmp(fmt, "json") != 0) {
        fprintf(stderr, "portwatch rpc-endpoints: --format '%s' is not allowed; use table or "
                        "json\n", fmt);
        return PW_EXIT_USAGE;
    }
    if (a->npos != 1) {
        fprintf(stderr, "portwatch rpc-endpoints: name one host, as HOST or HOST:PORT (default "
                        "port 135)\n");
        return PW_EXIT_USAGE;
    }
    int64_t timeout_ms = DEFAULT_TIMEOUT_MS;
    const char *to = pw_arg(cmd, a, "timeout");
    char derr[PW_ERRBUF] = "";
    if (to && (pw_parse_duration(to, &timeout_ms, derr) != 0 || timeout_ms < 10 ||
               timeout_ms > 600000)) {
        fprintf(stderr, "portwatch rpc-endpoints: --timeout '%s': %s; use a duration from "
                        "10ms to 10m (e.g. 10s, 500ms)\n", to, derr[0] ? derr : "out of range");
        return PW_EXIT_USAGE;
    }
    char *spec = strdup(a->pos[0]);
    struct job j = {.json = fmt && strcmp(fmt, "json") == 0, .rc = PW_EXIT_FAILED};
    if (!spec || split_host(spec, &j.host, &j.port) != 0) {
        fprintf(stderr, "portwatch rpc-endpoints: '%s' is not HOST, HOST:PORT or [IPV6]:PORT "
                        "(port 1-65535)\n", a->pos[0]);
        free(spec);
        return PW_EXIT_USAGE;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct lookup l = {.j = &j, .loop = &loop, .timeout_ms = timeout_ms};
    l.req.data = &l;
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    int err = uv_getaddrinfo(&loop, &l.req, on_resolved, j.host, NULL, &hints);
    if (err) {
        fprintf(stderr, "portwatch rpc-endpoints: %s: %s\n", j.host, uv_strerror(err));
        j.rc = PW_EXIT_FAILED;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    free(spec);
    return j.rc;
}
