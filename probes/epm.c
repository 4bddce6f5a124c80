/*
 * ept_lookup's request and reply in NDR, and the protocol towers inside
 * the reply (see probes/epm.h). Pure functions over bytes: the client in
 * epm_client.c feeds them reassembled stubs, the fuzzer arbitrary ones.
 * Every length in a reply is checked against what arrived before it is
 * used; nothing here allocates.
 */
#include "probes/epm.h"

#include "base/error.h"
#include "probes/wire.h"

#include <stdio.h>
#include <string.h>

#define MAX_ENTRIES_PER_REPLY 4096
#define MAX_FLOORS 16

enum {
    PROT_NCADG = 0x0a, PROT_NCACN = 0x0b, PROT_NCALRPC = 0x0c, PROT_UUID = 0x0d,
    PROT_TCP = 0x07, PROT_UDP = 0x08, PROT_IP = 0x09, PROT_SMB = 0x0f, PROT_PIPE = 0x10,
    PROT_NETBIOS = 0x11, PROT_HTTP = 0x1f,
};

static const char *const protseq_names[] = {
    [PW_EPM_UNKNOWN] = "unknown",
    [PW_EPM_NCACN_IP_TCP] = "ncacn_ip_tcp",
    [PW_EPM_NCACN_HTTP] = "ncacn_http",
    [PW_EPM_NCACN_NP] = "ncacn_np",
    [PW_EPM_NCALRPC] = "ncalrpc",
    [PW_EPM_NCADG_IP_UDP] = "ncadg_ip_udp",
};
_Static_assert(sizeof protseq_names / sizeof protseq_names[0] == PW_EPM_PROTSEQ_COUNT_,
               "a name per enum pw_epm_protseq");

const char *pw_epm_protseq_name(enum pw_epm_protseq p)
{
    return (unsigned)p < PW_EPM_PROTSEQ_COUNT_ ? protseq_names[p] : "unknown";
}

/* Floor 3 (RPC protocol) and floor 4 (transport) name the sequence. */
static const struct {
    uint8_t rpc, transport;
    enum pw_epm_protseq seq;
} seqs[] = {
    {PROT_NCACN, PROT_TCP, PW_EPM_NCACN_IP_TCP},
    {PROT_NCACN, PROT_HTTP, PW_EPM_NCACN_HTTP},
    {PROT_NCACN, PROT_SMB, PW_EPM_NCACN_NP},
    {PROT_NCALRPC, PROT_PIPE, PW_EPM_NCALRPC},
    {PROT_NCADG, PROT_UDP, PW_EPM_NCADG_IP_UDP},
};

/* Well-known interfaces, from the protocols' published specifications
 * (MS-RPCE, MS-DTCO, MS-DCOM, MS-WMI, MS-SCMR, MS-TSCH, ...) and C706. */
static const struct {
    const char *uuid;
    const char *name;
} known[] = {
    {"e1af8308-5d1f-11c9-91a4-08002b14a0fa", "Endpoint Mapper (epmapper)"},
    {"afa8bd80-7d8a-11c9-bef4-08002b102989", "RPC Remote Management (mgmt)"},
    {"906b0ce0-c70b-1067-b317-00dd010662da", "MSDTC (IXnRemote)"},
    {"4d9f4ab8-7d1c-11cf-861e-0020af6e7c57", "DCOM Activation (IActivation)"},
    {"000001a0-0000-0000-c000-000000000046", "DCOM Activation (IRemoteSCMActivator)"},
    {"99fcfec4-5260-101b-bbcb-00aa0021347a", "DCOM Object Exporter (IObjectExporter)"},
    {"f309ad18-d86a-11d0-a075-00c04fb68820", "WMI (IWbemLevel1Login)"},
    {"367abb81-9844-35f1-ad32-98f038001003", "Service Control Manager (svcctl)"},
    {"86d35949-83c9-4044-b424-db363231fd0c", "Task Scheduler (ITaskSchedulerService)"},
    {"1ff70682-0a51-30e8-076d-740be8cee98b", "Task Scheduler (atsvc)"},
    {"82273fdc-e32a-18c3-3f78-827929dc23ea", "Event Log (eventlog)"},
    {"f6beaff7-1e19-4fbb-9f8f-b89e2018337c", "Event Log (even6)"},
    {"338cd001-2244-31f1-aaaa-900038001003", "Remote Registry (winreg)"},
    {"12345778-1234-abcd-ef00-0123456789ab", "Local Security Authority (lsarpc)"},
    {"12345778-1234-abcd-ef00-0123456789ac", "Security Account Manager (samr)"},
    {"12345678-1234-abcd-ef00-01234567cffb", "Netlogon"},
    {"12345678-1234-abcd-ef00-0123456789ab", "Print Spooler (spoolss)"},
    {"76f03f96-cdfd-44fc-a22c-64950a001209", "Print Spooler (IRemoteWinspool)"},
    {"4b324fc8-1670-01d3-1278-5a47bf6ee188", "Server Service (srvsvc)"},
    {"6bffd098-a112-3610-9833-46c3f87e345a", "Workstation Service (wkssvc)"},
    {"3919286a-b10c-11d0-9ba8-00c04fd92ef5", "Directory Setup (dssetup)"},
    {"4fc742e0-4a10-11cf-8273-00aa004ae673", "Distributed File System (netdfs)"},
    {"e3514235-4b06-11d1-ab04-00c04fc2dcd2", "Directory Replication (drsuapi)"},
    {"894de0c0-0d55-11d3-a322-00c04fa321a1", "Remote Shutdown (InitShutdown)"},
    {"8d9f4e40-a03d-11ce-8f69-08003e30051b", "Plug and Play (ntsvcs)"},
    {"a8e0653c-2744-4389-a61d-7373df8b2292", "File Server VSS Agent (FssagentRpc)"},
    {"50abc2a4-574d-40b3-9d66-ee4fd5fba076", "DNS Server (dnsserver)"},
    {"3dde7c30-165d-11d1-ab8f-00805f14db40", "Backup Key (BackupKey)"},
    {"885d85fb-c754-4062-a0e7-6872ce0064f4", "Spotlight (mdssvc)"},
};

const char *pw_epm_interface_name(const struct pw_uuid *u)
{
    char s[37];
    pw_uuid_format(u, s);
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(known[i].uuid, s) == 0)
            return known[i].name;
    return NULL;
}

static void copy_text(char *dst, size_t cap, const uint8_t *src, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n && src[i] && k + 1 < cap; i++)
        dst[k++] = src[i] >= 0x20 && src[i] < 0x7f ? (char)src[i] : '?';
    dst[k] = '\0';
}

/* Floors are little-endian whatever the stub's order (C706 appendix L),
 * except port numbers and addresses, which are in network order. */
int pw_epm_tower_decode(const uint8_t *t, size_t n, struct pw_epm_entry *e)
{
    struct pw_rd r = pw_rd_init(t, n, false);
    uint16_t floors = pw_rd_u16(&r);
    uint8_t rpc = 0, transport = 0;
    if (r.bad || floors == 0 || floors > MAX_FLOORS)
        return PW_EINVAL;
    for (uint16_t f = 0; f < floors; f++) {
        uint16_t llen = pw_rd_u16(&r);
        const uint8_t *lhs = pw_rd_bytes(&r, llen);
        uint16_t rlen = pw_rd_u16(&r);
        const uint8_t *rhs = pw_rd_bytes(&r, rlen);
        if (r.bad || llen == 0)
            return PW_EINVAL;
        uint8_t id = lhs[0];
        if (f == 0) {
            /* The interface: UUID, major version; minor on the right. */
            if (id != PROT_UUID || llen < 19 || rlen < 2)
                return PW_EINVAL;
            pw_uuid_from_ndr(lhs + 1, false, &e->iface);
            e->vmajor = pw_get_u16le(lhs + 17);
            e->vminor = pw_get_u16le(rhs);
            e->has_iface = true;
        } else if (f == 1) {
            if (id != PROT_UUID) /* the transfer syntax */
                return PW_EINVAL;
        } else if (f == 2) {
            rpc = id;
        } else if (f == 3) {
            transport = id;
            if ((id == PROT_TCP || id == PROT_UDP || id == PROT_HTTP) && rlen >= 2) {
                e->port = pw_get_u16be(rhs);
                snprintf(e->endpoint, sizeof e->endpoint, "%u", (unsigned)e->port);
            } else {
                copy_text(e->endpoint, sizeof e->endpoint, rhs, rlen);
            }
        } else if (f == 4) {
            if (id == PROT_IP && rlen >= 4)
                snprintf(e->address, sizeof e->address, "%u.%u.%u.%u", rhs[0], rhs[1], rhs[2],
                         rhs[3]);
            else if (id == PROT_NETBIOS)
                copy_text(e->address, sizeof e->address, rhs, rlen);
        }
    }
    if (floors < 4)
        return PW_EINVAL;
    for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++)
        if (seqs[i].rpc == rpc && seqs[i].transport == transport)
            e->protseq = seqs[i].seq;
    return 0;
}

size_t pw_epm_lookup_stub(uint8_t buf[40], const uint8_t handle[20], uint32_t max_ents)
{
    uint8_t *p = buf;
    p = pw_wr_u32le(p, 0); /* inquiry_type: RPC_C_EP_ALL_ELTS */
    p = pw_wr_u32le(p, 0); /* object: null pointer */
    p = pw_wr_u32le(p, 0); /* interface_id: null pointer */
    p = pw_wr_u32le(p, 1); /* vers_option: RPC_C_VERS_ALL */
    memcpy(p, handle, 20);
    p += 20;
    pw_wr_u32le(p, max_ents);
    return 40;
}

int pw_epm_lookup_parse(const uint8_t *stub, size_t n, bool be, uint8_t handle_out[20],
                        uint32_t *num_out, uint32_t *status_out, pw_epm_entry_cb cb, void *ud)
{
    struct pw_rd r = pw_rd_init(stub, n, be);
    const uint8_t *h = pw_rd_bytes(&r, 20);
    uint32_t num = pw_rd_u32(&r);
    *num_out = 0;
    *status_out = 0;
    if (r.bad)
        return PW_EINVAL;
    memcpy(handle_out, h, 20);
    /* entries: [size_is(max_ents), length_is(*num_ents)] conformant varying */
    uint32_t max_count = pw_rd_u32(&r), offset = pw_rd_u32(&r), actual = pw_rd_u32(&r);
    if (r.bad || offset != 0 || actual > max_count || actual != num ||
        actual > MAX_ENTRIES_PER_REPLY)
        return PW_EINVAL;
    /* Entries are decoded in two passes over the same bytes: first the
     * fixed parts (to find where the deferred towers begin), then again,
     * pairing each with its tower. No allocation: the fixed parts are
     * re-read. */
    size_t fixed_start = r.off;
    for (uint32_t i = 0; i < actual; i++) {
        pw_rd_align(&r, 4);
        pw_rd_bytes(&r, 16);      /* object */
        pw_rd_u32(&r);            /* tower referent */
        pw_rd_u32(&r);            /* annotation offset */
        uint32_t alen = pw_rd_u32(&r);
        if (alen > 64)
            return PW_EINVAL;
        pw_rd_bytes(&r, alen);
        if (r.bad)
            return PW_EINVAL;
    }
    size_t towers = r.off;
    struct pw_rd fx = pw_rd_init(stub, n, be);
    fx.off = fixed_start;
    int stopped = 0;
    for (uint32_t i = 0; i < actual; i++) {
        struct pw_epm_entry e;
        memset(&e, 0, sizeof e);
        pw_rd_align(&fx, 4);
        const uint8_t *obj = pw_rd_bytes(&fx, 16);
        uint32_t ref = pw_rd_u32(&fx);
        pw_rd_u32(&fx);
        uint32_t alen = pw_rd_u32(&fx);
        const uint8_t *ann = pw_rd_bytes(&fx, alen);
        if (fx.bad || !obj) /* cannot happen: the first pass read the same bytes */
            return PW_EINVAL;
        pw_uuid_from_ndr(obj, be, &e.object);
        if (ann)
            copy_text(e.annotation, sizeof e.annotation, ann, alen);
        if (ref != 0) {
            r.off = towers;
            pw_rd_align(&r, 4);
            uint32_t conf = pw_rd_u32(&r), tlen = pw_rd_u32(&r);
            const uint8_t *tw = pw_rd_bytes(&r, tlen);
            if (r.bad || conf != tlen)
                return PW_EINVAL;
            towers = r.off;
            pw_epm_tower_decode(tw, tlen, &e); /* a bad tower still names its entry */
        }
        (*num_out)++;
        if (!stopped && cb && cb(ud, &e) != 0)
            stopped = 1;
    }
    r.off = towers;
    pw_rd_align(&r, 4);
    *status_out = pw_rd_u32(&r);
    return r.bad ? PW_EINVAL : 0;
}
