/*
 * The protocol parsers of probes/verify.h over real replies: the seed
 * corpora in tests/fuzz/{tds,smb2,dcerpc,http}/ were captured from Samba
 * 4.17, FreeTDS's tdspool, python3's http.server and nginx answering
 * portwatch's own requests. Every whole reply must verify, every strict
 * prefix must ask for more (never decide early), and no reply may verify
 * as another protocol. Plus the request builders' layouts, fragment
 * reassembly and the catalog's port-to-protocol rule. Portable: no
 * network, so it also runs under Wine.
 */
#include "probes/verify.h"

#include "config/config.h"
#include "probes/epm.h"

#include "tests/check_run.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static const struct {
    const char *dir;
    enum pw_proto proto;
} corpora[] = {
    {"tds", PW_PROTO_TDS},
    {"smb2", PW_PROTO_SMB},
    {"dcerpc", PW_PROTO_RPC},
    {"http", PW_PROTO_HTTP},
};
#define NCORPORA (sizeof corpora / sizeof corpora[0])

struct sample {
    char name[128];
    enum pw_proto proto;
    bool expect_ok; /* files named "mismatch-*" are replies that must not verify */
    bool response;  /* dcerpc/response-*: ept_lookup responses, not bind replies */
    uint8_t *b;
    size_t n;
};

static struct sample samples[64];
static size_t nsamples;

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    uint8_t *b = malloc(65536);
    *n = fread(b, 1, 65536, f);
    fclose(f);
    return b;
}

static void load_samples(void)
{
    const char *src = getenv("PW_SOURCE_ROOT");
    ck_assert_msg(src != NULL, "PW_SOURCE_ROOT not set (run through meson test)");
    for (size_t c = 0; c < NCORPORA; c++) {
        char dir[512];
        snprintf(dir, sizeof dir, "%s/tests/fuzz/%s", src, corpora[c].dir);
        uv_fs_t req;
        uv_dirent_t ent;
        int n = uv_fs_scandir(NULL, &req, dir, 0, NULL);
        ck_assert_msg(n > 0, "no seed files in %s", dir);
        while (uv_fs_scandir_next(&req, &ent) != UV_EOF && nsamples < 64) {
            struct sample *s = &samples[nsamples++];
            char path[700];
            snprintf(path, sizeof path, "%s/%s", dir, ent.name);
            snprintf(s->name, sizeof s->name, "%s/%s", corpora[c].dir, ent.name);
            s->proto = corpora[c].proto;
            s->expect_ok = strncmp(ent.name, "mismatch-", 9) != 0;
            s->response = strncmp(ent.name, "response-", 9) == 0;
            s->b = slurp(path, &s->n);
        }
        uv_fs_req_cleanup(&req);
    }
}

static void free_samples(void)
{
    for (size_t i = 0; i < nsamples; i++)
        free(samples[i].b);
    nsamples = 0;
}

/* Whole replies verify (or, for mismatch-* files, do not); prefixes wait. */
START_TEST(test_real_replies)
{
    load_samples();
    size_t ok = 0;
    for (size_t i = 0; i < nsamples; i++) {
        struct sample *s = &samples[i];
        if (s->response || s->n > PW_VERIFY_RX_MAX)
            continue;
        char info[PW_VERIFY_INFO_MAX];
        enum pw_parse st = pw_verify_reply(s->proto, s->b, s->n, false, info);
        ck_assert_msg(st == (s->expect_ok ? PW_PARSE_OK : PW_PARSE_MISMATCH), "%s: %d (%s)",
                      s->name, st, info);
        ck_assert_msg(info[0] != '\0', "%s: no info", s->name);
        for (size_t k = 0; k < strlen(info); k++)
            ck_assert_msg(info[k] >= 0x20 && info[k] < 0x7f, "%s: unprintable info", s->name);
        if (!s->expect_ok)
            continue;
        ok++;
        /* Replies that end where the message ends decide only at the end. */
        for (size_t k = 0; k < s->n; k++) {
            st = pw_verify_reply(s->proto, s->b, k, false, info);
            ck_assert_msg(st == PW_PARSE_NEED_MORE, "%s: decided %d after %zu of %zu bytes",
                          s->name, st, k, s->n);
        }
    }
    ck_assert_uint_ge(ok, 4); /* at least one real reply per protocol */
    free_samples();
}
END_TEST

/* A reply of one service never verifies as another. */
START_TEST(test_cross_protocol)
{
    load_samples();
    for (size_t i = 0; i < nsamples; i++) {
        if (!samples[i].expect_ok) /* another service's reply: it may verify as that */
            continue;
        for (int p = PW_PROTO_TDS; p < PW_PROTO_COUNT_; p++) {
            if ((enum pw_proto)p == samples[i].proto)
                continue;
            char info[PW_VERIFY_INFO_MAX];
            enum pw_parse st = pw_verify_reply((enum pw_proto)p, samples[i].b, samples[i].n,
                                               true, info);
            ck_assert_msg(st == PW_PARSE_MISMATCH, "%s parsed as %s: %d", samples[i].name,
                          pw_proto_name((enum pw_proto)p), st);
        }
    }
    free_samples();
}
END_TEST

START_TEST(test_infos)
{
    load_samples();
    for (size_t i = 0; i < nsamples; i++) {
        char info[PW_VERIFY_INFO_MAX];
        pw_verify_reply(samples[i].proto, samples[i].b, samples[i].n, true, info);
        if (strcmp(samples[i].name, "tds/tdspool-prelogin.bin") == 0)
            ck_assert_str_eq(info, "TDS 10.0.1600, encryption not supported");
        if (strcmp(samples[i].name, "dcerpc/samba-epm-bind-ack.bin") == 0)
            ck_assert_str_eq(info, "endpoint mapper v3 bound (port 135)");
        if (strcmp(samples[i].name, "dcerpc/mismatch-samba-bind-nak.bin") == 0)
            ck_assert_str_eq(info, "DCE/RPC bind_nak (reason 4): not the mapper");
        if (strcmp(samples[i].name, "smb2/samba-negotiate-311.bin") == 0)
            ck_assert_str_eq(info, "SMB 3.1.1");
    }
    free_samples();
}
END_TEST

START_TEST(test_tds_request)
{
    uint8_t b[PW_VERIFY_TX_MAX];
    size_t n = pw_tds_prelogin_request(b, sizeof b);
    ck_assert_uint_eq(n, 47);
    ck_assert_uint_eq(b[0], 0x12); /* PRELOGIN */
    ck_assert_uint_eq(b[1], 0x01); /* end of message */
    ck_assert_uint_eq(b[2] << 8 | b[3], n);
    ck_assert_uint_eq(b[8 + 25], 0xFF); /* five options, then the terminator */
    ck_assert_uint_eq(pw_tds_prelogin_request(b, 46), 0);
    /* Our own request is not a reply. */
    struct pw_tds_info t;
    ck_assert_int_eq(pw_tds_prelogin_parse(b, n, true, &t), PW_PARSE_MISMATCH);
}
END_TEST

START_TEST(test_bind_request)
{
    uint8_t b[PW_VERIFY_TX_MAX];
    size_t n = pw_dcerpc_bind(b, sizeof b, 7, &pw_dcerpc_epm_v3, &pw_dcerpc_ndr_v2);
    ck_assert_uint_eq(n, 72);
    ck_assert_uint_eq(b[0], 5);
    ck_assert_uint_eq(b[2], PW_DCERPC_BIND);
    ck_assert_uint_eq(b[8] | b[9] << 8, 72);
    ck_assert_uint_eq(b[12], 7);
    /* e1af8308-5d1f-11c9-91a4-08002b14a0fa in NDR (little-endian) order. */
    static const uint8_t epm[16] = {0x08, 0x83, 0xaf, 0xe1, 0x1f, 0x5d, 0xc9, 0x11,
                                    0x91, 0xa4, 0x08, 0x00, 0x2b, 0x14, 0xa0, 0xfa};
    ck_assert_mem_eq(b + 32, epm, 16);
    ck_assert_uint_eq(b[48], 3); /* version 3.0 */
    struct pw_uuid u;
    pw_uuid_from_ndr(b + 52, false, &u);
    char s[37];
    pw_uuid_format(&u, s);
    ck_assert_str_eq(s, "8a885d04-1ceb-11c9-9fe8-08002b104860");
}
END_TEST

START_TEST(test_smb2_request)
{
    uint8_t salt[32], b[PW_VERIFY_TX_MAX];
    for (int i = 0; i < 32; i++)
        salt[i] = (uint8_t)i;
    size_t n = pw_smb2_negotiate_request(b, sizeof b, salt);
    ck_assert_uint_eq(n, 178);
    ck_assert_uint_eq((size_t)b[1] << 16 | b[2] << 8 | b[3], n - 4);
    const uint8_t *h = b + 4;
    ck_assert_mem_eq(h, "\xfeSMB", 4);
    ck_assert_uint_eq(h[64] | h[65] << 8, 36);  /* StructureSize */
    ck_assert_uint_eq(h[66] | h[67] << 8, 5);   /* five dialects */
    ck_assert_uint_eq(h[64 + 36 + 8] | h[64 + 36 + 9] << 8, 0x0311);
    uint32_t ctx = h[92] | h[93] << 8 | h[94] << 16 | (uint32_t)h[95] << 24;
    ck_assert_uint_eq(ctx % 8, 0);
    ck_assert_uint_eq(h[ctx] | h[ctx + 1] << 8, 1);          /* preauth integrity */
    ck_assert_uint_eq(h[ctx + 12] | h[ctx + 13] << 8, 1);    /* SHA-512 */
    ck_assert_mem_eq(h + ctx + 14, salt, 32);
    ck_assert_uint_eq(pw_smb2_negotiate_request(b, 100, salt), 0);
}
END_TEST

START_TEST(test_http_request)
{
    char b[PW_VERIFY_TX_MAX];
    ck_assert_uint_gt(pw_http_head_request(b, sizeof b, "web01", 1164), 0);
    ck_assert_ptr_nonnull(strstr(b, "HEAD / HTTP/1.1\r\nHost: web01:1164\r\n"));
    ck_assert_ptr_nonnull(strstr(b, "Connection: close\r\n\r\n"));
    pw_http_head_request(b, sizeof b, "::1", 80);
    ck_assert_ptr_nonnull(strstr(b, "Host: [::1]\r\n"));
    ck_assert_uint_eq(pw_http_head_request(b, 20, "web01", 1164), 0);
}
END_TEST

static enum pw_parse http(const char *s, bool eof, struct pw_http_info *h)
{
    return pw_http_status_parse((const uint8_t *)s, strlen(s), eof, h);
}

START_TEST(test_http_parse)
{
    struct pw_http_info h;
    ck_assert_int_eq(http("HTTP/1.1 401 Unauthorized\r\nServer: Microsoft-IIS/10.0\r\n\r\n",
                          false, &h), PW_PARSE_OK);
    ck_assert_int_eq(h.status, 401);
    ck_assert_str_eq(h.server, "Microsoft-IIS/10.0");
    ck_assert_int_eq(http("HTTP/1.1 200 OK\r\nserver:   nginx  \r\n", false, &h),
                     PW_PARSE_NEED_MORE);
    ck_assert_int_eq(http("HTTP/1.1 200 OK\r\nserver:   nginx  \r\n", true, &h), PW_PARSE_OK);
    ck_assert_str_eq(h.server, "nginx");
    ck_assert_int_eq(http("HTTP/1.0 204\n\n", false, &h), PW_PARSE_OK);
    ck_assert_int_eq(http("HTTP/1.1 2", true, &h), PW_PARSE_MISMATCH);
    ck_assert_int_eq(http("HTTP/1.1 2", false, &h), PW_PARSE_NEED_MORE);
    ck_assert_int_eq(http("HTTX", false, &h), PW_PARSE_MISMATCH);
    ck_assert_int_eq(http("SSH-2.0-OpenSSH", false, &h), PW_PARSE_MISMATCH);
    ck_assert_int_eq(http("HTTP/1.1 099 x\r\n\r\n", false, &h), PW_PARSE_MISMATCH);
    ck_assert_int_eq(http("HTTP/1.1 200 O\x01K\r\n\r\n", false, &h), PW_PARSE_MISMATCH);
    char info[PW_VERIFY_INFO_MAX];
    pw_verify_reply(PW_PROTO_TDS, (const uint8_t *)"HTTP/1.1 400 Bad", 16, true, info);
    ck_assert_str_eq(info, "an HTTP server answered (48 54 54 50)");
}
END_TEST

/* One response split over two fragments, then a fault, then a stranger. */
START_TEST(test_reassembly)
{
    uint8_t stub[64], out[64];
    for (int i = 0; i < 64; i++)
        stub[i] = (uint8_t)i;
    uint8_t f1[16 + 8 + 40], f2[16 + 8 + 24];
    size_t n1 = pw_dcerpc_request(f1, sizeof f1, 9, 2, stub, 40);
    size_t n2 = pw_dcerpc_request(f2, sizeof f2, 9, 2, stub + 40, 24);
    f1[2] = f2[2] = PW_DCERPC_RESPONSE;
    f1[3] = PW_DCERPC_PFC_FIRST_FRAG;
    f2[3] = PW_DCERPC_PFC_LAST_FRAG;
    uint8_t both[sizeof f1 + sizeof f2];
    memcpy(both, f1, n1);
    memcpy(both + n1, f2, n2);
    struct pw_dcerpc_reasm r = {.stub = out, .cap = sizeof out, .call_id = 9};
    size_t used = 0;
    ck_assert_int_eq(pw_dcerpc_response_feed(&r, both, n1 - 1, &used), PW_PARSE_NEED_MORE);
    ck_assert_uint_eq(used, 0);
    ck_assert_int_eq(pw_dcerpc_response_feed(&r, both, n1 + n2, &used), PW_PARSE_NEED_MORE);
    ck_assert_uint_eq(used, n1);
    ck_assert_int_eq(pw_dcerpc_response_feed(&r, both + n1, n2, &used), PW_PARSE_OK);
    ck_assert_uint_eq(used, n2);
    ck_assert_uint_eq(r.len, 64);
    ck_assert_mem_eq(out, stub, 64);

    /* Another call's response is not ours. */
    struct pw_dcerpc_reasm r2 = {.stub = out, .cap = sizeof out, .call_id = 10};
    ck_assert_int_eq(pw_dcerpc_response_feed(&r2, both, n1 + n2, &used), PW_PARSE_MISMATCH);
    /* A fault carries its status. */
    uint8_t fault[32];
    pw_dcerpc_request(fault, sizeof fault, 10, 0, (const uint8_t *)"\x05\x00\x00\x1c", 4);
    fault[2] = PW_DCERPC_FAULT;
    struct pw_dcerpc_reasm r3 = {.stub = out, .cap = sizeof out, .call_id = 10};
    ck_assert_int_eq(pw_dcerpc_response_feed(&r3, fault, 28, &used), PW_PARSE_OK);
    ck_assert_uint_eq(r3.fault, 0x1c000005);
    /* A stub larger than the buffer is refused, not overrun. */
    struct pw_dcerpc_reasm r4 = {.stub = out, .cap = 30, .call_id = 9};
    ck_assert_int_eq(pw_dcerpc_response_feed(&r4, both, n1, &used), PW_PARSE_MISMATCH);
}
END_TEST

static uint8_t *seed(const char *rel, size_t *n)
{
    char path[600];
    snprintf(path, sizeof path, "%s/tests/fuzz/%s", getenv("PW_SOURCE_ROOT"), rel);
    return slurp(path, n);
}

static int collect(void *ud, const struct pw_epm_entry *e)
{
    struct pw_epm_entry *v = ud;
    size_t i = 0;
    while (v[i].endpoint[0] || v[i].has_iface)
        i++;
    v[i] = *e;
    return 0;
}

/* Samba's ept_lookup reply, as captured: two fragments reassemble into
 * the stub of the same capture; it holds 38 entries and "no more
 * entries"; the towers decode into the mapper's own endpoints, among
 * them ncacn_http on 593, registered though nothing listens there. */
START_TEST(test_epm_samba_reply)
{
    size_t np = 0, ns = 0;
    uint8_t *pdus = seed("dcerpc/response-samba-lookup-2-frags.bin", &np);
    uint8_t *want = seed("epm/samba-lookup-all-38.bin", &ns);
    static uint8_t stub[PW_VERIFY_RX_MAX * 2];
    struct pw_dcerpc_reasm r = {.stub = stub, .cap = sizeof stub, .call_id = 2};
    size_t off = 0, used = 0, frags = 0;
    enum pw_parse st;
    while ((st = pw_dcerpc_response_feed(&r, pdus + off, np - off, &used)) == PW_PARSE_NEED_MORE) {
        ck_assert_uint_gt(used, 0);
        off += used;
        frags++;
    }
    ck_assert_int_eq(st, PW_PARSE_OK);
    ck_assert_uint_eq(frags + 1, 2);
    ck_assert_uint_eq(off + used, np);
    ck_assert_uint_eq(r.len, ns);
    ck_assert_mem_eq(stub, want, ns);

    static struct pw_epm_entry v[64];
    memset(v, 0, sizeof v);
    uint8_t handle[20];
    uint32_t num = 0, status = 0;
    ck_assert_int_eq(pw_epm_lookup_parse(want, ns, false, handle, &num, &status, collect, v), 0);
    ck_assert_uint_eq(num, 38);
    ck_assert_uint_eq(status, PW_EPM_S_NOT_REGISTERED);
    int tcp135 = 0, http593 = 0, np_epm = 0, lrpc = 0;
    for (uint32_t i = 0; i < num; i++) {
        char iface[37];
        pw_uuid_format(&v[i].iface, iface);
        if (strcmp(iface, "e1af8308-5d1f-11c9-91a4-08002b14a0fa") != 0)
            continue;
        ck_assert_uint_eq(v[i].vmajor, 3);
        ck_assert_str_eq(v[i].annotation, "epmapper");
        if (v[i].protseq == PW_EPM_NCACN_IP_TCP && v[i].port == 135 &&
            strcmp(v[i].address, "127.0.0.1") == 0)
            tcp135++;
        if (v[i].protseq == PW_EPM_NCACN_HTTP && v[i].port == 593)
            http593++;
        if (v[i].protseq == PW_EPM_NCACN_NP && strcmp(v[i].endpoint, "\\pipe\\epmapper") == 0)
            np_epm++;
        if (v[i].protseq == PW_EPM_NCALRPC && strcmp(v[i].endpoint, "EPMAPPER") == 0)
            lrpc++;
    }
    ck_assert_int_eq(tcp135, 1);
    ck_assert_int_eq(http593, 1);
    ck_assert_int_eq(np_epm, 1);
    ck_assert_int_eq(lrpc, 1);
    ck_assert_str_eq(pw_epm_interface_name(&pw_dcerpc_epm_v3.uuid), "Endpoint Mapper (epmapper)");

    /* The last batch arrives with "no more entries": its 8 entries count. */
    free(want);
    want = seed("epm/samba-lookup-last-8-no-more.bin", &ns);
    memset(v, 0, sizeof v);
    ck_assert_int_eq(pw_epm_lookup_parse(want, ns, false, handle, &num, &status, collect, v), 0);
    ck_assert_uint_eq(num, 8);
    ck_assert_uint_eq(status, PW_EPM_S_NOT_REGISTERED);
    ck_assert(v[7].has_iface);
    /* Cut anywhere, the stub is refused, never overread. */
    for (size_t k = 0; k + 1 < ns; k += 7)
        ck_assert_int_ne(pw_epm_lookup_parse(want, k, false, handle, &num, &status, NULL, NULL),
                         0);
    free(want);
    free(pdus);
}
END_TEST

/* Catalog rows get an exchange by port; so does an operator's check unless
 * its `protocol` says otherwise. */
/* The protocol table: each row has its own name that parses back, a request
 * and a parser; a row marked salted builds a request that depends on its
 * random bytes, and no other row's request does (so the engine draws
 * them only where they are used). */
START_TEST(test_proto_table)
{
    uint8_t a[32], b[32], ra[PW_VERIFY_TX_MAX], rb[PW_VERIFY_TX_MAX];
    memset(a, 0x11, sizeof a);
    memset(b, 0x22, sizeof b);
    ck_assert_uint_eq(pw_verify_request(PW_PROTO_NONE, "h", 1, a, ra), 0);
    ck_assert_str_eq(pw_proto_name(PW_PROTO_COUNT_), "invalid");
    int salted = 0;
    for (int i = 0; i < PW_PROTO_COUNT_; i++) {
        enum pw_proto p = (enum pw_proto)i, back = PW_PROTO_COUNT_;
        ck_assert_int_eq(pw_proto_parse(pw_proto_name(p), &back), 0);
        ck_assert_int_eq(back, p);
        if (p == PW_PROTO_NONE)
            continue;
        size_t na = pw_verify_request(p, "sql01", 1433, a, ra);
        size_t nb = pw_verify_request(p, "sql01", 1433, b, rb);
        ck_assert_msg(na > 0 && na <= PW_VERIFY_TX_MAX, "%s", pw_proto_name(p));
        ck_assert_uint_eq(na, nb);
        ck_assert_msg((memcmp(ra, rb, na) != 0) == pw_verify_salted(p), "%s", pw_proto_name(p));
        salted += pw_verify_salted(p);
        char info[PW_VERIFY_INFO_MAX];
        ck_assert_int_eq(pw_verify_reply(p, (const uint8_t *)"SSH-2.0-x\r\n", 11, true, info),
                         PW_PARSE_MISMATCH);
        ck_assert_msg(info[0] != '\0', "%s", pw_proto_name(p));
    }
    ck_assert_int_eq(salted, 1); /* SMB 3.1.1 */
    ck_assert(pw_verify_salted(PW_PROTO_SMB));
}
END_TEST

START_TEST(test_proto_default)
{
    static const char ini[] = "[biztalk]\nmanagement_database = sql01\nprocessing_servers = bts01\n"
                              "iis_servers = web01\n[check own]\nhosts = web01\nports = 135, 8080\n"
                              "[check quiet]\nhosts = bts01\nports = 445\nprotocol = none\n"
                              "[check web]\nhosts = web01\nports = 8081\nprotocol = http\n";
    struct pw_config *c = NULL;
    struct pw_diag d = {0};
    ck_assert_int_eq(pw_config_load_buffer("t.ini", ini, strlen(ini), &c, &d), 0);
    struct pw_plan *p = NULL;
    ck_assert_int_eq(pw_plan_build(c, &p, &d), 0);
    size_t seen = 0;
    for (uint32_t t = 0; t < p->ntargets; t++) {
        const char *h = p->hosts[p->targets[t].host].name;
        uint16_t port = p->targets[t].port;
        enum pw_proto want = PW_PROTO_NONE;
        if (strcmp(h, "bts01") == 0 && port == 445)
            want = PW_PROTO_NONE; /* protocol = none wins over the catalog */
        else if (strcmp(h, "web01") == 0 && port == 8081)
            want = PW_PROTO_HTTP;
        else
            want = pw_verify_proto_for_port(port);
        ck_assert_msg(pw_proto_default(p, t) == want, "%s:%u", h, port);
        seen += want != PW_PROTO_NONE;
    }
    ck_assert_uint_ge(seen, 4);
    ck_assert_int_eq(pw_verify_proto_for_port(1433), PW_PROTO_TDS);
    ck_assert_int_eq(pw_verify_proto_for_port(135), PW_PROTO_RPC);
    ck_assert_int_eq(pw_verify_proto_for_port(445), PW_PROTO_SMB);
    ck_assert_int_eq(pw_verify_proto_for_port(1164), PW_PROTO_HTTP);
    ck_assert_int_eq(pw_verify_proto_for_port(50000), PW_PROTO_NONE);
    enum pw_proto pr;
    ck_assert_int_eq(pw_proto_parse("TDS", &pr), 0);
    ck_assert_int_eq(pr, PW_PROTO_TDS);
    ck_assert_int_ne(pw_proto_parse("ftp", &pr), 0);
    ck_assert_str_eq(pw_verify_name(PW_VERIFY_NO_REPLY), "no_reply");
    ck_assert_str_eq(pw_verify_name(PW_VERIFY_COUNT_), "invalid");
    pw_plan_free(p);
    pw_config_free(c);
    pw_diag_free(&d);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("probes-verify");
    TCase *tc = tcase_create("parsers");
    tcase_add_test(tc, test_real_replies);
    tcase_add_test(tc, test_cross_protocol);
    tcase_add_test(tc, test_infos);
    tcase_add_test(tc, test_tds_request);
    tcase_add_test(tc, test_bind_request);
    tcase_add_test(tc, test_smb2_request);
    tcase_add_test(tc, test_http_request);
    tcase_add_test(tc, test_http_parse);
    tcase_add_test(tc, test_reassembly);
    tcase_add_test(tc, test_epm_samba_reply);
    tcase_add_test(tc, test_proto_default);
    tcase_add_test(tc, test_proto_table);
    suite_add_tcase(s, tc);
    return pw_check_run(s);
}
