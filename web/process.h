/*
 * The portwatch process's own figures, for the process_* metrics
 * (process.c). Portable: what an OS does not show is -1.
 */
#ifndef PW_WEB_PROCESS_H
#define PW_WEB_PROCESS_H

struct pw_process_stats {
    double cpu_s;     /* user + system CPU time */
    double rss_bytes; /* resident memory */
    long open_fds;    /* open descriptors (Linux) */
    double start_s;   /* start time, Unix seconds (Linux) */
};

void pw_web_process_read(struct pw_process_stats *out);

#endif
