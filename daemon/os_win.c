/* os.h for Windows. */
#include "daemon/os.h"

#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>
#include <windows.h>

const char *pw_os_default_config_path(void)
{
    static char path[MAX_PATH + 64];
    const char *base = getenv("ProgramData");
    snprintf(path, sizeof path, "%s\\portwatch\\portwatch.ini", base ? base : "C:\\ProgramData");
    return path;
}

unsigned long pw_os_raise_fd_limit(void)
{
    /* Sockets are not C runtime descriptors on Windows: no limit to raise. */
    return 0;
}

void pw_os_init_console(void)
{
    SetConsoleOutputCP(CP_UTF8);
    _setmode(_fileno(stdout), _O_BINARY);
    _setmode(_fileno(stderr), _O_BINARY);
}
