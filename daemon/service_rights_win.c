/*
 * What the Windows service may do, and nothing more (service_win.c's
 * `service install` and `service configure`, which the MSI runs). The
 * service runs as its virtual account NT SERVICE\portwatch: no password,
 * no rights on other machines beyond the computer account's, and, once
 * these functions ran, only SeChangeNotifyPrivilege in its token and write
 * access only to %ProgramData%\portwatch (its history, its log, its
 * configuration). portwatch needs no more: it opens outbound TCP
 * connections without credentials, listens on one TCP port (no privilege
 * on Windows), and writes only in that folder.
 */
#include "daemon/service_win.h"

#include <stdio.h>
#include <string.h>
#include <aclapi.h>
#include <sddl.h>
#include <wincrypt.h>

/* S-1-5-80- and the SHA-1 of the service name in upper case UTF-16LE as
 * five little-endian numbers: how Windows derives service SIDs (e.g.
 * TrustedInstaller's). Computed rather than looked up: the name resolves
 * only once the service exists, and not at all under Wine. */
int pw_service_sid(char *out, size_t len)
{
    static const WCHAR name[] = L"PORTWATCH"; /* PW_SERVICE_NAME, upper case */
    HCRYPTPROV prov;
    HCRYPTHASH hash;
    BYTE digest[20];
    DWORD n = sizeof digest;
    if (!CryptAcquireContextW(&prov, NULL, NULL, PROV_RSA_FULL, CRYPT_VERIFYCONTEXT))
        return -1;
    int ok = CryptCreateHash(prov, CALG_SHA1, 0, 0, &hash);
    if (ok) {
        ok = CryptHashData(hash, (const BYTE *)name, sizeof name - sizeof name[0], 0) &&
             CryptGetHashParam(hash, HP_HASHVAL, digest, &n, 0) && n == sizeof digest;
        CryptDestroyHash(hash);
    }
    CryptReleaseContext(prov, 0);
    if (!ok)
        return -1;
    unsigned long sub[5];
    for (int i = 0; i < 5; i++)
        sub[i] = (unsigned long)digest[4 * i] | (unsigned long)digest[4 * i + 1] << 8 |
                 (unsigned long)digest[4 * i + 2] << 16 | (unsigned long)digest[4 * i + 3] << 24;
    snprintf(out, len, "S-1-5-80-%lu-%lu-%lu-%lu-%lu", sub[0], sub[1], sub[2], sub[3], sub[4]);
    return 0;
}

int pw_service_secure_dir(const char *dir, char *err, size_t errlen)
{
    char sid[96], sddl[256];
    if (pw_service_sid(sid, sizeof sid) != 0) {
        snprintf(err, errlen, "cannot compute the service's SID (SHA-1 from the CryptoAPI)");
        return -1;
    }
    if (!CreateDirectoryA(dir, NULL) && GetLastError() != ERROR_ALREADY_EXISTS) {
        snprintf(err, errlen, "cannot create %s", dir);
        return -1;
    }
    /* Protected (not inherited from ProgramData, whose ACL lets every user
     * create files, and the configuration may hold api_token): full
     * control for SYSTEM and Administrators, modify for the service, for
     * the folder and, inherited, all it holds. */
    snprintf(sddl, sizeof sddl, "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1301bf;;;%s)", sid);
    PSECURITY_DESCRIPTOR sd = NULL;
    PACL dacl = NULL;
    BOOL present = FALSE, defaulted = FALSE;
    if (!ConvertStringSecurityDescriptorToSecurityDescriptorA(sddl, SDDL_REVISION_1, &sd, NULL) ||
        !GetSecurityDescriptorDacl(sd, &present, &dacl, &defaulted) || !present) {
        DWORD e = GetLastError();
        snprintf(err, errlen, "cannot build the access list %s", sddl);
        LocalFree(sd);
        SetLastError(e);
        return -1;
    }
    DWORD rc = SetNamedSecurityInfoA((char *)dir, SE_FILE_OBJECT,
                                     DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION, NULL,
                                     NULL, dacl, NULL);
    LocalFree(sd);
    if (rc != ERROR_SUCCESS) {
        snprintf(err, errlen, "cannot set the access list of %s", dir);
        SetLastError(rc);
        return -1;
    }
    return 0;
}

int pw_service_limit_privileges(SC_HANDLE svc, char *err, size_t errlen)
{
    /* SeChangeNotifyPrivilege (traverse folders) is the one every process
     * keeps; the SCM removes the virtual account's others (impersonation,
     * global objects, ...) from the service's token. */
    static char privileges[] = SE_CHANGE_NOTIFY_NAME "\0";
    SERVICE_REQUIRED_PRIVILEGES_INFOA req = {privileges};
    SERVICE_SID_INFO sid = {SERVICE_SID_TYPE_UNRESTRICTED};
    if (!ChangeServiceConfig2A(svc, SERVICE_CONFIG_SERVICE_SID_INFO, &sid) ||
        !ChangeServiceConfig2A(svc, SERVICE_CONFIG_REQUIRED_PRIVILEGES_INFO, &req)) {
        snprintf(err, errlen, "cannot limit the service's privileges to %s", SE_CHANGE_NOTIFY_NAME);
        return -1;
    }
    return 0;
}
