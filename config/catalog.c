/*
 * The catalog as one table per vantage. Rows are kept in the order and
 * wording of the source pages (reasons paraphrased, as in
 * shared/reference/biztalk-server-roles.md; the administration table
 * whole); (host, port) pairs that several rows or vantages name are merged
 * later, during expansion, so nothing here is deduplicated. Where the pages
 * repeat a block of rows word for word, one macro holds it.
 */
#include "config/catalog.h"

#include "base/error.h"

#include <string.h>

#define ROLE_ROW_(id, key, title, what) [id] = {key, title},
static const struct pw_role roles[] = {PW_ROLES(ROLE_ROW_)};
#undef ROLE_ROW_

/* ---- row shapes ----------------------------------------------------------- */

#define LOGGED "Logged on user"
#define SSO_ACCOUNT "SSO service account"
#define SSO_ACCOUNT_LONG "Single Sign-On service account"
#define HOST_ACCOUNT "Service account for a BizTalk Host instance"
#define BTS_ACCOUNT "BizTalk service account"
#define CONN_STRING "Connection string"

/* A row in full; the shapes below fill in the usual cells. */
#define ROW(n, role, ctx, svc, lo, hi, key, proto, ex, cfg, why) \
    {n, role, ctx, svc, lo, hi, 0, key, proto, ex, cfg, why}
/* One port the destination must listen on, over TCP. */
#define PORT(n, role, ctx, svc, port, why) \
    ROW(n, role, ctx, svc, port, port, PW_PORT_AS_LISTED, "TCP", PW_EXPECT_LISTENING, 0, why)
#define SQL(n, role, ctx, why) PORT(n, role, ctx, "SQL Server", 1433, why)
#define EPM(n, role, ctx, svc, why) PORT(n, role, ctx, svc, 135, why)
/* The secondary RPC range, as the newest pages give it; probed as
 * secondary_rpc_ports, reachable is enough (a port there listens only
 * while some RPC service holds it). */
#define DYN(n, role, ctx, svc, proto, why)                                            \
    ROW(n, role, ctx, svc, 49152, 65535, PW_PORT_RPC_RANGE, proto, PW_EXPECT_REACHABLE, 0, \
        why)
/* The same as the administration page's pre-2023 revision gives it. */
#define DYN2017(n, role, svc, why)                                                     \
    ROW(n, role, NULL, svc, 50000, 50200, PW_PORT_RPC_RANGE, "TCP", PW_EXPECT_REACHABLE, \
        0, why)
/* Analysis Services on the port the page names; probed on analysis_services_port. */
#define OLAP(n, role, port, proto, cfg, why) \
    ROW(n, role, LOGGED, "OLAP", port, port, PW_PORT_ANALYSIS, proto, PW_EXPECT_LISTENING, cfg, why)
#define CFG_PORT(n, role, svc, port, proto, why) \
    ROW(n, role, LOGGED, svc, port, port, PW_PORT_AS_LISTED, proto, PW_EXPECT_LISTENING, 1, why)

/* Set-up rows for the five group databases, the same on the receive/send
 * page (rows 10-24) and the processing page (rows 1-15). */
#define SETUP_DATABASES(n)                                                                   \
    SQL(n, PW_ROLE_MANAGEMENT_DB, LOGGED, "Set up the Management database"),                  \
    EPM(n + 1, PW_ROLE_MANAGEMENT_DB, LOGGED, "DTC",                                          \
        "Transactional SQL Server link for creating, configuring and updating the database"), \
    DYN(n + 2, PW_ROLE_MANAGEMENT_DB, LOGGED, "DTC", "TCP", "Secondary RPC ports"),            \
    SQL(n + 3, PW_ROLE_MESSAGEBOX_DB, LOGGED, "Set up the MessageBox database"),              \
    EPM(n + 4, PW_ROLE_MESSAGEBOX_DB, LOGGED, "DTC",                                          \
        "Transactional SQL Server link used when creating the host"),                         \
    DYN(n + 5, PW_ROLE_MESSAGEBOX_DB, LOGGED, "DTC", "TCP", "Secondary RPC ports"),            \
    SQL(n + 6, PW_ROLE_SSO_DB, SSO_ACCOUNT, "ENTSSO service connects to the SSO database"),   \
    EPM(n + 7, PW_ROLE_SSO_DB, LOGGED, "DTC", "Transactional SQL Server link to the SSO database"), \
    DYN(n + 8, PW_ROLE_SSO_DB, LOGGED, "DTC", "TCP", "Secondary RPC ports"),                   \
    SQL(n + 9, PW_ROLE_TRACKING_DB, LOGGED, "Set up the Tracking database"),                  \
    EPM(n + 10, PW_ROLE_TRACKING_DB, LOGGED, "DTC", "Transactional SQL Server link"),          \
    DYN(n + 11, PW_ROLE_TRACKING_DB, LOGGED, "DTC", "TCP", "Secondary RPC ports"),             \
    SQL(n + 12, PW_ROLE_RULE_ENGINE_DB, LOGGED, "Set up the BRE database"),                   \
    EPM(n + 13, PW_ROLE_RULE_ENGINE_DB, LOGGED, "DTC",                                        \
        "Transactional SQL Server link for creating, configuring and updating the database"), \
    DYN(n + 14, PW_ROLE_RULE_ENGINE_DB, LOGGED, "DTC", "TCP", "Secondary RPC ports")

/* The BAM and BizTalk Analysis rows of the receive/send page (rows 25-30,
 * port 2383) and the processing page (rows 16-21, port 2393). */
#define ANALYSIS_DATABASES(n, port)                                                          \
    OLAP(n, PW_ROLE_BAM_ANALYSIS_DB, port, "TCP", 0, "Read and write BAM Analysis data"),     \
    PORT(n + 1, PW_ROLE_BAM_ANALYSIS_DB, LOGGED, "OLAP Server File system", 445,              \
         "Create the OLAP data file (.mdb) on the remote machine"),                           \
    PORT(n + 2, PW_ROLE_BAM_ANALYSIS_DB, LOGGED, "OLAP", 2725,                                \
         "Pull data for analysis (PivotTable reports)"),                                      \
    OLAP(n + 3, PW_ROLE_BIZTALK_ANALYSIS_DB, port, "TCP", 1,                                  \
         "Set up the BizTalk Analysis database"), \
    CFG_PORT(n + 4, PW_ROLE_BIZTALK_ANALYSIS_DB, "OLAP Server File system", 445, "TCP",       \
             "Create the OLAP .mdb file remotely"), \
    PORT(n + 5, PW_ROLE_BIZTALK_ANALYSIS_DB, LOGGED, "OLAP", 2725,                            \
         "Set up the database and pull PivotTable analysis data")

/* The SSO service reaching the master secret server, worded alike on the
 * receive/send page (rows 31-32) and the processing page (rows 22-23). */
#define MASTER_SECRET_RPC(n)                                                                 \
    EPM(n, PW_ROLE_MASTER_SECRET, SSO_ACCOUNT_LONG, "RPC",                                    \
        "SSO service reaches the master secret server (the page calls it a transacted SQL "   \
        "Server connection)"),                                                                \
    DYN(n + 1, PW_ROLE_MASTER_SECRET, SSO_ACCOUNT_LONG, "Secondary RPC", "TCP",               \
        "Secondary RPC ports for SSO to master secret server")

/* A host instance's databases at run time: receive/send rows 33-36,
 * processing rows 24-27, BAM portal rows 19-22. */
#define HOST_INSTANCE_DATABASES(n, ctx)                                                      \
    SQL(n, PW_ROLE_MESSAGEBOX_DB, ctx, "Host instance reads and writes the database at run time"), \
    SQL(n + 1, PW_ROLE_MANAGEMENT_DB, ctx, "Host instance reads and writes the database at run time"), \
    SQL(n + 2, PW_ROLE_SSO_DB, ctx, "Host instance reads and writes the database at run time"), \
    SQL(n + 3, PW_ROLE_TRACKING_DB, ctx, "Host instance reads and writes the database at run time")

/* ---- notes: each choice in one place, shown with every table it concerns -- */

static const char note_rpc[] =
    "Secondary RPC rows are probed on [biztalk] secondary_rpc_ports (default 50000-50200, the "
    "administration page's pre-2023 range); the newest pages give Windows' default dynamic "
    "range 49152-65535, or rather MSDTC and Enterprise SSO pinned to a fixed port: set the key "
    "to the range your servers use. A refused port there passes (reachable).";
static const char note_olap[] =
    "The pages disagree on the Analysis Services port: 2383 on the receive/send and tracking "
    "pages, 2393 on the processing and BAM portal pages. Those rows are probed on [biztalk] "
    "analysis_services_port, default 2383: a default SQL Server Analysis Services instance "
    "listens there since SQL Server 2005, while 2393 dates from OLAP Services 7.0. Rows on 2725 "
    "are probed as listed.";
static const char note_configuring[] =
    "Rows marked 'configuring' are needed only while BizTalk Configuration Manager runs; they "
    "are probed only with [biztalk] configuring = yes.";
static const char note_tracking_configuring[] =
    "Rows marked 'configuring' (6-9, 14) are needed only when Configuration Manager creates a "
    "new BizTalk group from this server; they are probed only with [biztalk] configuring = yes.";
static const char note_tracking_protocol[] =
    "Protocol cells are the page's: rows 6, 8 and 13 are blank and row 12 reads 'TCO'. No table "
    "of the family names anything but TCP, and every row is probed over TCP.";
static const char note_ftp[] =
    "Row 2 (FTP 20) is expected reachable, not listening: in active mode the FTP server "
    "connects from port 20 to the client, so nothing listens there; a refusal shows the "
    "firewall lets it through.";
static const char note_msmq[] =
    "Row 5 (Message Queuing 1801) goes to the hosts of processing_servers, the destination the "
    "page names.";
static const char note_portal[] =
    "Row 4 is inbound: clients connect to this server's portal site. portwatch probes it at the "
    "hosts of [biztalk] bam_portal_site (this server's own name) on bam_portal_port (default "
    "443; 80 for a site without TLS), which proves the site listens, not that clients' "
    "firewalls let them in.";
static const char note_master_secret[] =
    "Rows 2-3 go to the hosts of processing_servers: the SSO service of each processing server "
    "fetches the secret from here, and the page repeats the SSO server table's wording.";

/* ---- the tables ------------------------------------------------------------ */

static const struct pw_catalog_row administration_rows[] = {
    SQL(1, PW_ROLE_MANAGEMENT_DB, NULL, "To create, configure, and access information in the BizTalk Management database"),
    EPM(2, PW_ROLE_MANAGEMENT_DB, NULL, "DTC", "Transacted connection to SQL Server to update the database"),
    DYN2017(3, PW_ROLE_MANAGEMENT_DB, "DTC", "Secondary RPC ports (note: more secondary RPC ports may be needed depending on server load)"),
    SQL(4, PW_ROLE_BAM_PRIMARY_IMPORT_DB, NULL, "To verify the BAM Primary Import database exists by using the BizTalk Administration console (or WMI)"),
    SQL(5, PW_ROLE_MANAGEMENT_DB, NULL, "To view configuration data and install host instances by using the BizTalk Administration console (or WMI)"),
    EPM(6, PW_ROLE_MANAGEMENT_DB, NULL, "DTC", "Transacted connection to SQL Server to create and update a host by using the BizTalk Administration console (or WMI)"),
    DYN2017(7, PW_ROLE_MANAGEMENT_DB, "DTC", "Secondary RPC ports to create a host by using the BizTalk Administration console (or WMI) (note: more may be needed depending on server load)"),
    SQL(8, PW_ROLE_MESSAGEBOX_DB, NULL, "To create a host by using the BizTalk Administration console (or WMI)"),
    EPM(9, PW_ROLE_MESSAGEBOX_DB, NULL, "DTC", "Transacted connection to SQL Server to create and update a host by using the BizTalk Administration console (or WMI)"),
    DYN2017(10, PW_ROLE_MESSAGEBOX_DB, "DTC", "Secondary RPC ports to create a host by using the BizTalk Administration console (or WMI) (note: more may be needed depending on server load)"),
    EPM(11, PW_ROLE_PROCESSING, NULL, "WMI/RPC", "Transacted connection to SQL Server to add a new server to the group by using the BizTalk Administration console (or WMI)"),
    DYN2017(12, PW_ROLE_PROCESSING, "WMI/RPC", "Secondary RPC ports to add a new server to the group by using the BizTalk Administration console (or WMI) (note: more may be needed depending on server load)"),
    PORT(13, PW_ROLE_PROCESSING, NULL, "Server Message Block (SMB)", 445,
         "Used to access file shares. May also be needed to install a host instance using the BizTalk Administration console (or WMI)"),
    SQL(14, PW_ROLE_RULE_ENGINE_DB, NULL, "To deploy business rules by using the Business Rule Engine Deployment Wizard"),
    EPM(15, PW_ROLE_RULE_ENGINE_DB, NULL, "DTC", "Transacted connection to SQL Server to deploy business rules by using the Business Rule Engine Deployment Wizard"),
    DYN2017(16, PW_ROLE_RULE_ENGINE_DB, "DTC", "Secondary RPC ports to deploy business rules by using the Business Rule Engine Deployment Wizard (note: more may be needed depending on server load)"),
    SQL(17, PW_ROLE_MANAGEMENT_DB, NULL, "To deploy an assembly"),
    SQL(18, PW_ROLE_TRACKING_DB, NULL, "To deploy an assembly"),
    PORT(19, PW_ROLE_IIS, NULL, "IIS", 1164,
         "To enable BizTalk application deployment to pack HTTP or Web Service Ports hosted on the IIS Server into an MSI"),
};

static const struct pw_catalog_row processing_rows[] = {
    SETUP_DATABASES(1),
    ANALYSIS_DATABASES(16, 2393),
    MASTER_SECRET_RPC(22),
    HOST_INSTANCE_DATABASES(24, HOST_ACCOUNT),
};

static const struct pw_catalog_row tracking_rows[] = {
    SQL(1, PW_ROLE_MANAGEMENT_DB, LOGGED, "Set up the Management database"),
    EPM(2, PW_ROLE_MANAGEMENT_DB, LOGGED, "DTC",
        "Transactional SQL Server link for reading and updating the database; RPC endpoint mapper"),
    DYN(3, PW_ROLE_MANAGEMENT_DB, LOGGED, "DTC", "TCP", "Secondary RPC ports"),
    SQL(4, PW_ROLE_SSO_DB, LOGGED, "SSO service connects to the SSO database"),
    SQL(5, PW_ROLE_BAM_PRIMARY_IMPORT_DB, LOGGED,
        "Check the BAM Primary Import database; the Tracking host uses it at run time"),
    CFG_PORT(6, PW_ROLE_BAM_STAR_SCHEMA_DB, "SQL Server", 1433, "",
             "Read and update the database"),
    CFG_PORT(7, PW_ROLE_BAM_ANALYSIS_DB, "OLAP", 445, "TCP",
             "Create the OLAP .mdb file remotely"),
    OLAP(8, PW_ROLE_BAM_ANALYSIS_DB, 2383, "", 1,
         "Set up the BAM Analysis database"),
    CFG_PORT(9, PW_ROLE_BAM_ANALYSIS_DB, "OLAP", 2725, "TCP",
             "Pull PivotTable analysis data"),
    SQL(10, PW_ROLE_TRACKING_DB, LOGGED, "Read and update the database"),
    PORT(11, PW_ROLE_MESSAGEBOX_DB, LOGGED, "SQL", 1433, "Read and update the database"),
    ROW(12, PW_ROLE_MESSAGEBOX_DB, LOGGED, "DTC", 135, 135, PW_PORT_AS_LISTED, "TCO",
        PW_EXPECT_LISTENING, 0, "Transactional SQL Server link; RPC endpoint mapper"),
    DYN(13, PW_ROLE_MESSAGEBOX_DB, LOGGED, "DTC", "", "Secondary RPC ports"),
    CFG_PORT(14, PW_ROLE_BAM_ARCHIVE_DB, "SQL Server", 1433, "TCP",
             "Read and update the database"),
    SQL(15, PW_ROLE_SSO_DB, SSO_ACCOUNT, "Read and update the database"),
    EPM(16, PW_ROLE_MASTER_SECRET, SSO_ACCOUNT, "Master Secret service",
        "SSO service reaches the master secret server (the page calls it a transacted SQL Server connection); RPC endpoint mapper"),
    DYN(17, PW_ROLE_MASTER_SECRET, SSO_ACCOUNT, "Secondary RPC", "TCP",
        "Secondary RPC ports for SSO to master secret server"),
};

static const struct pw_catalog_row receive_send_rows[] = {
    PORT(1, PW_ROLE_FILE_SHARES, BTS_ACCOUNT, "Receive/Send server", 445,
         "File adapter picks files up from, and drops them on, the share"),
    ROW(2, PW_ROLE_FTP, BTS_ACCOUNT, "FTP service", 20, 20, PW_PORT_AS_LISTED, "TCP",
        PW_EXPECT_REACHABLE, 0, "FTP adapter fetches and delivers files (active-mode data)"),
    PORT(3, PW_ROLE_FTP, BTS_ACCOUNT, "FTP service", 21, "FTP adapter fetches and delivers files"),
    PORT(4, PW_ROLE_POP3, BTS_ACCOUNT, "POP3 service", 110, "POP3 adapter collects mail"),
    PORT(5, PW_ROLE_PROCESSING, BTS_ACCOUNT, "Windows Message Queuing", 1801,
         "BizTalk Message Queuing adapter passes messages to and from the BizTalk runtime"),
    SQL(6, PW_ROLE_SQL_ADAPTER, CONN_STRING, "SQL adapter reads and writes messages in its target databases"),
    EPM(7, PW_ROLE_SQL_ADAPTER, CONN_STRING, "DTC", "Transactional SQL adapter connection; RPC endpoint mapper"),
    DYN(8, PW_ROLE_SQL_ADAPTER, CONN_STRING, "DTC", "TCP", "MSDTC secondary RPC ports on the SQL adapter targets"),
    PORT(9, PW_ROLE_SMTP, BTS_ACCOUNT, "SMTP", 25, "SMTP adapter reaches the mail server"),
    SETUP_DATABASES(10),
    ANALYSIS_DATABASES(25, 2383),
    MASTER_SECRET_RPC(31),
    HOST_INSTANCE_DATABASES(33, HOST_ACCOUNT),
};

static const struct pw_catalog_row sso_rows[] = {
    SQL(1, PW_ROLE_SSO_DB, LOGGED, "Create the SSO database and connect to it"),
    EPM(2, PW_ROLE_MASTER_SECRET, SSO_ACCOUNT_LONG, "Single Sign-On service",
        "SSO service fetches the master secret key (the page calls it a transacted SQL Server connection)"),
    DYN(3, PW_ROLE_MASTER_SECRET, SSO_ACCOUNT_LONG, "Single Sign-On service", "TCP",
        "Secondary RPC ports used while fetching the secret"),
};

static const struct pw_catalog_row master_secret_rows[] = {
    SQL(1, PW_ROLE_SSO_DB, LOGGED, "Create the SSO database and connect to it"),
    EPM(2, PW_ROLE_PROCESSING, SSO_ACCOUNT_LONG, "Single Sign-On service",
        "The SSO services of the processing servers fetch the master secret (the page repeats the SSO server table's wording)"),
    DYN(3, PW_ROLE_PROCESSING, SSO_ACCOUNT_LONG, "Single Sign-On service", "TCP",
        "Secondary RPC ports used while the master secret is fetched"),
};

static const struct pw_catalog_row bam_portal_rows[] = {
    SQL(1, PW_ROLE_MANAGEMENT_DB, LOGGED, "Set up the database"),
    EPM(2, PW_ROLE_MANAGEMENT_DB, LOGGED, "DTC",
        "Transactional SQL Server link for creating, configuring and updating the database"),
    DYN(3, PW_ROLE_MANAGEMENT_DB, LOGGED, "DTC", "TCP", "Secondary RPC ports for creating and reaching this database"),
    {4, PW_ROLE_BAM_PORTAL_SITE, "Application pool", "HTTP(S)", 80, 80, 443, PW_PORT_PORTAL, "TCP",
     PW_EXPECT_LISTENING, 0, "Inbound web traffic to the portal site (clients connect to the portal)"},
    PORT(5, PW_ROLE_MESSAGEBOX_DB, LOGGED, "SQL server", 1433, "Set up the database"),
    EPM(6, PW_ROLE_MESSAGEBOX_DB, LOGGED, "DTC",
        "Transactional SQL Server link for creating, configuring and updating the database"),
    DYN(7, PW_ROLE_MESSAGEBOX_DB, LOGGED, "DTC", "TCP", "Secondary RPC ports"),
    PORT(8, PW_ROLE_SSO_DB, SSO_ACCOUNT, "SQL server", 1433, "Reach the SSO database"),
    SQL(9, PW_ROLE_TRACKING_DB, LOGGED, "Set up the database"),
    SQL(10, PW_ROLE_RULE_ENGINE_DB, LOGGED, "Set up the database"),
    EPM(11, PW_ROLE_RULE_ENGINE_DB, LOGGED, "DTC",
        "Transactional SQL Server link for creating, configuring and updating the database"),
    DYN(12, PW_ROLE_RULE_ENGINE_DB, LOGGED, "DTC", "TCP", "Secondary RPC ports"),
    OLAP(13, PW_ROLE_BAM_ANALYSIS_DB, 2393, "TCP", 0, "Set up the database"),
    PORT(14, PW_ROLE_BAM_ANALYSIS_DB, LOGGED, "OLAP Server file system", 445,
         "Create the OLAP .mdb file on the remote machine"),
    PORT(15, PW_ROLE_BAM_ANALYSIS_DB, LOGGED, "OLAP", 2725, "Read and update the database"),
    SQL(16, PW_ROLE_SSO_DB, SSO_ACCOUNT, "SSO service reads and updates the database"),
    EPM(17, PW_ROLE_MASTER_SECRET, SSO_ACCOUNT, "Master secret server",
        "SSO service reaches the master secret server (the page calls it a transacted SQL Server connection)"),
    DYN(18, PW_ROLE_MASTER_SECRET, "SSO Service", "Secondary RPC", "TCP",
        "Secondary RPC ports for SSO to master secret server"),
    HOST_INSTANCE_DATABASES(19, "BizTalk Host instance"),
    SQL(23, PW_ROLE_BAM_NOTIFICATION_DB, "BAM Application Pool User", "Reach the BAM Notification Services database"),
};

#define NOTES(...) ((const char *const[]){__VA_ARGS__, NULL})
#define ROWS(r) r, sizeof r / sizeof r[0]
#define NEWEST(date, commit)                                                             \
    "newest revision: table last changed " date " (MicrosoftDocs/biztalk-docs " commit \
    "), secondary RPC 49152-65535; the pre-2023 text gave 50000-50200, rows otherwise the same"
#define PAGE(name) "https://learn.microsoft.com/en-us/biztalk/core/" name

const char *const pw_vantage_names[PW_NVANTAGES + 1] = {
    [PW_VANTAGE_ADMINISTRATION] = "administration",
    [PW_VANTAGE_PROCESSING] = "processing",
    [PW_VANTAGE_TRACKING] = "tracking",
    [PW_VANTAGE_RECEIVE_SEND] = "receive-send",
    [PW_VANTAGE_SSO] = "sso",
    [PW_VANTAGE_MASTER_SECRET] = "master-secret",
    [PW_VANTAGE_BAM_PORTAL] = "bam-portal",
};

static const struct pw_catalog catalogs[PW_NVANTAGES] = {
    [PW_VANTAGE_ADMINISTRATION] = {
        "Ports for the Administration Server",
        PAGE("ports-for-the-administration-server"),
        "pre-2023 revision (ms.date 06/08/2017), secondary RPC 50000-50200; the January 2023 "
        "revision gives 49152-65535 and adds 'RPC endpoint manager' to row 2, rows otherwise the same",
        NOTES(note_rpc), ROWS(administration_rows)},
    [PW_VANTAGE_PROCESSING] = {
        "Ports for the Processing Servers", PAGE("ports-for-the-processing-servers"),
        NEWEST("2023-01-23", "cd655b048"), NOTES(note_rpc, note_olap, note_configuring),
        ROWS(processing_rows)},
    [PW_VANTAGE_TRACKING] = {
        "Ports for the Tracking Server", PAGE("ports-for-the-tracking-server"),
        NEWEST("2023-01-23", "10424e0bd"),
        NOTES(note_rpc, note_olap, note_tracking_configuring, note_tracking_protocol),
        ROWS(tracking_rows)},
    [PW_VANTAGE_RECEIVE_SEND] = {
        "Ports for the Receive and Send Servers",
        PAGE("ports-for-the-receive-and-send-servers"), NEWEST("2023-01-20", "a7bbaa298"),
        NOTES(note_rpc, note_olap, note_configuring, note_ftp, note_msmq),
        ROWS(receive_send_rows)},
    [PW_VANTAGE_SSO] = {
        "Ports for the Enterprise Single Sign-On Servers (SSO server in the processing domain)",
        PAGE("ports-for-the-enterprise-single-sign-on-servers"), NEWEST("2023-01-23", "f4449fd5d"),
        NOTES(note_rpc), ROWS(sso_rows)},
    [PW_VANTAGE_MASTER_SECRET] = {
        "Ports for the Enterprise Single Sign-On Servers (master secret server)",
        PAGE("ports-for-the-enterprise-single-sign-on-servers"), NEWEST("2023-01-23", "f4449fd5d"),
        NOTES(note_rpc, note_master_secret), ROWS(master_secret_rows)},
    [PW_VANTAGE_BAM_PORTAL] = {
        "Ports for the BAM Portal Server", PAGE("ports-for-the-bam-portal-server"),
        NEWEST("2023-01-23", "ad3d56da1"), NOTES(note_rpc, note_olap, note_portal),
        ROWS(bam_portal_rows)},
};

_Static_assert(sizeof roles / sizeof roles[0] == PW_NROLES, "a title for every role");
_Static_assert(sizeof administration_rows / sizeof administration_rows[0] +
                       sizeof processing_rows / sizeof processing_rows[0] +
                       sizeof tracking_rows / sizeof tracking_rows[0] +
                       sizeof receive_send_rows / sizeof receive_send_rows[0] +
                       sizeof sso_rows / sizeof sso_rows[0] +
                       sizeof master_secret_rows / sizeof master_secret_rows[0] +
                       sizeof bam_portal_rows / sizeof bam_portal_rows[0] <=
                   PW_CATALOG_MAX_ROWS,
               "every vantage at once fits a plan's selection");

const struct pw_role *pw_catalog_roles(size_t *count)
{
    *count = PW_NROLES;
    return roles;
}

int pw_catalog_role_find(const char *key)
{
    for (size_t i = 0; i < PW_NROLES; i++)
        if (strcmp(roles[i].key, key) == 0)
            return (int)i;
    return -1;
}

const struct pw_catalog *pw_catalog_vantage(enum pw_vantage v)
{
    return (unsigned)v < PW_NVANTAGES ? &catalogs[v] : NULL;
}

const char *pw_vantage_name(enum pw_vantage v)
{
    return (unsigned)v < PW_NVANTAGES ? pw_vantage_names[v] : "?";
}

const char *pw_port_key_name(enum pw_port_key k)
{
    static const char *const names[] = {
        [PW_PORT_AS_LISTED] = NULL,
        [PW_PORT_RPC_RANGE] = "secondary_rpc_ports",
        [PW_PORT_ANALYSIS] = "analysis_services_port",
        [PW_PORT_PORTAL] = "bam_portal_port",
    };
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : NULL;
}

enum pw_expect pw_catalog_port_expect(uint16_t port, const struct pw_portset *rpc_range)
{
    int named = 0;
    for (int v = 0; v < PW_NVANTAGES; v++)
        for (size_t i = 0; i < catalogs[v].nrows; i++) {
            const struct pw_catalog_row *r = &catalogs[v].rows[i];
            int hit = r->port_key == PW_PORT_RPC_RANGE ? pw_portset_contains(rpc_range, port)
                                                       : (port >= r->port_lo && port <= r->port_hi) ||
                                                             (r->port_or && port == r->port_or);
            if (hit && r->expect == PW_EXPECT_LISTENING)
                return PW_EXPECT_LISTENING;
            named |= hit;
        }
    return named ? PW_EXPECT_REACHABLE : PW_EXPECT_LISTENING;
}

const char *const pw_expect_names[] = {
    [PW_EXPECT_LISTENING] = "listening",
    [PW_EXPECT_REACHABLE] = "reachable",
    [PW_EXPECT_COUNT_] = NULL,
};
_Static_assert(sizeof pw_expect_names / sizeof pw_expect_names[0] == PW_EXPECT_COUNT_ + 1,
               "a name per enum pw_expect, then NULL");

const char *pw_expect_name(enum pw_expect e)
{
    return (unsigned)e < PW_EXPECT_COUNT_ ? pw_expect_names[e] : "?";
}

int pw_expect_parse(const char *s, enum pw_expect *out)
{
    for (int i = 0; i < PW_EXPECT_COUNT_; i++)
        if (strcmp(s, pw_expect_names[i]) == 0) {
            *out = (enum pw_expect)i;
            return 0;
        }
    return PW_EINVAL;
}
