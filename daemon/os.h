/*
 * The few things portwatch does differently per operating system, behind
 * one small interface: os_posix.c and os_win.c implement it. Nothing in
 * config/, probes/, store/ or web/ needs an #ifdef because of this file.
 */
#ifndef PW_OS_H
#define PW_OS_H

#include <stddef.h>

/* Where the configuration lives when -c is not given:
 * /etc/portwatch/portwatch.ini, or %ProgramData%\portwatch\portwatch.ini. */
const char *pw_os_default_config_path(void);

/* Raises the soft open-file limit towards the hard limit so that many
 * probes can be in flight; returns the limit now in force (0: unknown or
 * not applicable). Never fails the caller. */
unsigned long pw_os_raise_fd_limit(void);

/* Makes stdout/stderr print UTF-8 and binary-safe newlines. */
void pw_os_init_console(void);

#endif
