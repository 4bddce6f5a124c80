/*
 * The biztalk-admin catalog as one table. Rows are kept in the order and
 * wording of the source; (host, port) pairs that several rows name are
 * merged later, during expansion, so nothing here is deduplicated.
 */
#include "config/catalog.h"

#include "config/error.h"

#include <string.h>

enum {
    MGMT,
    BAM,
    MSGBOX,
    PROCESSING,
    RULES,
    TRACKING,
    IIS,
};

static const struct pw_role roles[] = {
    [MGMT] = {"management_database", "BizTalk Management database"},
    [BAM] = {"bam_primary_import_database", "BAM Primary Import database"},
    [MSGBOX] = {"messagebox_database", "MessageBox database"},
    [PROCESSING] = {"processing_servers", "Processing server"},
    [RULES] = {"rule_engine_database", "Business Rule Engine database"},
    [TRACKING] = {"tracking_database", "Tracking database"},
    [IIS] = {"iis_servers", "IIS Server"},
};

#define SQL(n, role, why) {n, role, "SQL Server", 1433, 1433, 0, "TCP", PW_EXPECT_LISTENING, why}
#define EPM(n, role, svc, why) {n, role, svc, 135, 135, 0, "TCP", PW_EXPECT_LISTENING, why}
#define RPC(n, role, svc, why) {n, role, svc, 50000, 50200, 1, "TCP", PW_EXPECT_REACHABLE, why}

static const struct pw_catalog_row biztalk_rows[] = {
    SQL(1, MGMT, "To create, configure, and access information in the BizTalk Management database"),
    EPM(2, MGMT, "DTC", "Transacted connection to SQL Server to update the database"),
    RPC(3, MGMT, "DTC", "Secondary RPC ports (note: more secondary RPC ports may be needed depending on server load)"),
    SQL(4, BAM, "To verify the BAM Primary Import database exists by using the BizTalk Administration console (or WMI)"),
    SQL(5, MGMT, "To view configuration data and install host instances by using the BizTalk Administration console (or WMI)"),
    EPM(6, MGMT, "DTC", "Transacted connection to SQL Server to create and update a host by using the BizTalk Administration console (or WMI)"),
    RPC(7, MGMT, "DTC", "Secondary RPC ports to create a host by using the BizTalk Administration console (or WMI) (note: more may be needed depending on server load)"),
    SQL(8, MSGBOX, "To create a host by using the BizTalk Administration console (or WMI)"),
    EPM(9, MSGBOX, "DTC", "Transacted connection to SQL Server to create and update a host by using the BizTalk Administration console (or WMI)"),
    RPC(10, MSGBOX, "DTC", "Secondary RPC ports to create a host by using the BizTalk Administration console (or WMI) (note: more may be needed depending on server load)"),
    EPM(11, PROCESSING, "WMI/RPC", "Transacted connection to SQL Server to add a new server to the group by using the BizTalk Administration console (or WMI)"),
    RPC(12, PROCESSING, "WMI/RPC", "Secondary RPC ports to add a new server to the group by using the BizTalk Administration console (or WMI) (note: more may be needed depending on server load)"),
    {13, PROCESSING, "Server Message Block (SMB)", 445, 445, 0, "TCP", PW_EXPECT_LISTENING,
     "Used to access file shares. May also be needed to install a host instance using the BizTalk Administration console (or WMI)"},
    SQL(14, RULES, "To deploy business rules by using the Business Rule Engine Deployment Wizard"),
    EPM(15, RULES, "DTC", "Transacted connection to SQL Server to deploy business rules by using the Business Rule Engine Deployment Wizard"),
    RPC(16, RULES, "DTC", "Secondary RPC ports to deploy business rules by using the Business Rule Engine Deployment Wizard (note: more may be needed depending on server load)"),
    SQL(17, MGMT, "To deploy an assembly"),
    SQL(18, TRACKING, "To deploy an assembly"),
    {19, IIS, "IIS", 1164, 1164, 0, "TCP", PW_EXPECT_LISTENING,
     "To enable BizTalk application deployment to pack HTTP or Web Service Ports hosted on the IIS Server into an MSI"},
};

static const struct pw_catalog biztalk = {
    "biztalk-admin",
    "Ports for the BizTalk Server administration server",
    biztalk_rows,
    sizeof biztalk_rows / sizeof biztalk_rows[0],
};

const struct pw_role *pw_catalog_roles(size_t *count)
{
    *count = sizeof roles / sizeof roles[0];
    return roles;
}

int pw_catalog_role_find(const char *key)
{
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (strcmp(roles[i].key, key) == 0)
            return (int)i;
    return -1;
}

const struct pw_catalog *pw_catalog_biztalk_admin(void)
{
    return &biztalk;
}

enum pw_expect pw_catalog_port_expect(uint16_t port, const struct pw_portset *rpc_range)
{
    int named = 0;
    for (size_t i = 0; i < biztalk.nrows; i++) {
        const struct pw_catalog_row *r = &biztalk.rows[i];
        int hit = r->rpc_range ? pw_portset_contains(rpc_range, port)
                               : port >= r->port_lo && port <= r->port_hi;
        if (hit && r->expect == PW_EXPECT_LISTENING)
            return PW_EXPECT_LISTENING;
        named |= hit;
    }
    return named ? PW_EXPECT_REACHABLE : PW_EXPECT_LISTENING;
}

static const char *const expect_names[] = {
    [PW_EXPECT_LISTENING] = "listening",
    [PW_EXPECT_REACHABLE] = "reachable",
};

const char *pw_expect_name(enum pw_expect e)
{
    return (unsigned)e < 2 ? expect_names[e] : "?";
}

int pw_expect_parse(const char *s, enum pw_expect *out)
{
    for (int i = 0; i < 2; i++)
        if (strcmp(s, expect_names[i]) == 0) {
            *out = (enum pw_expect)i;
            return 0;
        }
    return PW_EINVAL;
}
