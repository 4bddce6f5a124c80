/* os.h for Linux and other POSIX systems. */
#include "daemon/os.h"

#include <sys/resource.h>

const char *pw_os_default_config_path(void)
{
    return "/etc/portwatch/portwatch.ini";
}

unsigned long pw_os_raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit want = rl;
        want.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &want) == 0)
            rl = want;
    }
    return rl.rlim_cur == RLIM_INFINITY ? 0 : (unsigned long)rl.rlim_cur;
}

void pw_os_init_console(void)
{
}
