/*
 * The checks `portwatch run` makes before it creates anything (the
 * database file, the HTTP listener), so that a start that cannot succeed
 * stops with the real cause and its fix, and leaves nothing behind.
 * `config-check` makes the database ones too. Portable: libuv answers the
 * questions on Linux and Windows alike.
 */
#include "daemon/cli.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

static int is_separator(char c)
{
    return c == '/' || c == '\\';
}

/* "/var/lib/x.db", "\\server\share\x.db", "C:\x.db" and "C:/x.db". */
static int is_absolute(const char *p)
{
    return is_separator(p[0]) ||
           (((p[0] | 0x20) >= 'a' && (p[0] | 0x20) <= 'z') && p[1] == ':' && is_separator(p[2]));
}

/* SQLite's own names (":memory:", "file:..." URIs) are not files here. */
static int is_sqlite_name(const char *p)
{
    return p[0] == ':' || strncmp(p, "file:", 5) == 0;
}

/* Who the daemon runs as, for messages about permissions. */
static void user_text(char *buf, size_t len)
{
    uv_passwd_t pw;
    if (uv_os_get_passwd(&pw) != 0) {
        snprintf(buf, len, "(unknown)");
        return;
    }
    if ((long)pw.uid >= 0)
        snprintf(buf, len, "'%s' (uid %lu)", pw.username, pw.uid);
    else
        snprintf(buf, len, "'%s'", pw.username); /* Windows has no uid */
    uv_os_free_passwd(&pw);
}

/* The absolute path the database resolves to, into abs: itself when
 * absolute (or an SQLite name such as ":memory:"), else joined to the
 * working directory. Returns 1 when it was relative, else 0. */
static int database_path(const char *database, char *full, size_t len)
{
    if (is_absolute(database) || is_sqlite_name(database)) {
        snprintf(full, len, "%s", database);
        return 0;
    }
    char cwd[1024];
    size_t n = sizeof cwd;
    if (uv_cwd(cwd, &n) != 0)
        cwd[0] = '\0';
    int sep = n > 0 && !is_separator(cwd[n - 1]);
    snprintf(full, len, "%s%s%s", cwd, sep ? "/" : "", database);
    return 1;
}

/* The directory part of an absolute path: cut at the last separator,
 * except that a root keeps it ("/" for "/x.db", "C:\\" for "C:\\x.db"). */
static void dir_of(const char *full, char *dir, size_t len)
{
    snprintf(dir, len, "%s", full);
    char *last = NULL;
    for (char *p = dir; *p; p++)
        if (is_separator(*p))
            last = p;
    if (!last)
        return;
    int is_root = last == dir || (last == dir + 2 && dir[1] == ':');
    last[is_root ? 1 : 0] = '\0';
}

/* Whether path can be done `mode` to, as uv_fs_access says (0 or a UV_E*). */
static int access_rc(const char *path, int mode)
{
    uv_fs_t req;
    int rc = uv_fs_access(NULL, &req, path, mode, NULL);
    uv_fs_req_cleanup(&req);
    return rc;
}

/* The stat of path: 0 and *is_dir, or a UV_E* code. */
static int stat_rc(const char *path, int *is_dir)
{
    uv_fs_t req;
    int rc = uv_fs_stat(NULL, &req, path, NULL);
    if (rc == 0)
        *is_dir = (req.statbuf.st_mode & S_IFMT) == S_IFDIR;
    uv_fs_req_cleanup(&req);
    return rc;
}

int pw_startup_check_database(const char *database, int missing_dir_ok,
                              struct pw_diag *problems, struct pw_diag *notes)
{
    char full[1200], dir[1200], user[160];
    if (is_sqlite_name(database))
        return 0;
    if (database_path(database, full, sizeof full) == 1 && notes)
        pw_diag_add(notes, "database %s is relative to the working directory: the history goes "
                    "to %s", database, full);
    dir_of(full, dir, sizeof dir);
    user_text(user, sizeof user);
    int is_dir = 0, rc = stat_rc(dir, &is_dir);
    if (rc == 0 && !is_dir)
        rc = UV_ENOTDIR;
    if (rc == UV_ENOENT && missing_dir_ok) {
        if (notes)
            pw_diag_add(notes, "database %s: its directory %s does not exist (yet); `portwatch "
                        "run` fails unless it is created first (systemd's StateDirectory does "
                        "that)", full, dir);
        return 0;
    }
    if (rc != 0) {
        pw_diag_add(problems, "database %s: its directory %s cannot be used: %s (%s); create "
                    "it, writable by the user portwatch runs as (here %s), or set database to "
                    "a file in a directory that exists", full, dir, uv_strerror(rc),
                    uv_err_name(rc), user);
        return -1;
    }
    if ((rc = access_rc(dir, W_OK | X_OK)) != 0) {
        pw_diag_add(problems, "database %s: cannot create files in its directory %s: %s (%s); "
                    "portwatch runs as user %s here: give that user write access to %s "
                    "(SQLite writes its journal beside the file), or set database to a file "
                    "in a directory it can write", full, dir, uv_strerror(rc), uv_err_name(rc),
                    user, dir);
        return -1;
    }
    if (stat_rc(full, &is_dir) != 0)
        return 0; /* not there yet: the store creates it */
    if (is_dir) {
        pw_diag_add(problems, "database %s: is a directory; set database to a file, e.g. "
                    "%s/portwatch.db", full, full);
        return -1;
    }
    if ((rc = access_rc(full, R_OK | W_OK)) != 0) {
        pw_diag_add(problems, "database %s: cannot write it: %s (%s); portwatch runs as user "
                    "%s here: give that user write access to the file, or set database to another "
                    "file", full, uv_strerror(rc), uv_err_name(rc), user);
        return -1;
    }
    return 0;
}

int pw_startup_check_readable(const char *key, const char *path, struct pw_diag *problems)
{
    if (!path || !*path)
        return 0;
    int rc = access_rc(path, R_OK);
    if (rc == 0)
        return 0;
    char user[160];
    user_text(user, sizeof user);
    pw_diag_add(problems, "%s %s: cannot read it: %s (%s); portwatch runs as user %s here: give "
                "that user read access, or set %s to a file it can read", key, path,
                uv_strerror(rc), uv_err_name(rc), user, key);
    return -1;
}

/* What to do about a listen address the OS refused, by its error. */
static const char *listen_fix(int rc)
{
    switch (rc) {
    case UV_EADDRINUSE:
        return "another program listens there: stop it, or give listen (or --listen) a free port";
    case UV_EADDRNOTAVAIL:
        return "no interface of this machine has that address: give listen (or --listen) one "
               "it has, e.g. 127.0.0.1";
    case UV_EACCES:
        return "ports below 1024 need root or CAP_NET_BIND_SERVICE: give listen (or --listen) "
               "a port from 1024 up";
    default:
        return "give listen (or --listen) another address";
    }
}

static void on_listen_probe(uv_stream_t *s, int status)
{
    (void)s;
    (void)status;
}

/* Binds and listens once on addr, then lets go. Returns 0 or a UV_E*. */
static int try_listen(uv_loop_t *loop, const struct sockaddr *addr)
{
    uv_tcp_t tcp;
    int rc = uv_tcp_init(loop, &tcp);
    if (rc != 0)
        return rc;
    rc = uv_tcp_bind(&tcp, addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&tcp, 1, on_listen_probe);
    uv_close((uv_handle_t *)&tcp, NULL);
    uv_run(loop, UV_RUN_NOWAIT); /* the close callback: tcp is on this stack */
    return rc;
}

int pw_startup_check_listen(uv_loop_t *loop, const char *listen, struct pw_diag *problems)
{
    char *host = NULL, err[PW_ERRBUF], port[8];
    uint16_t p;
    if (pw_parse_listen(listen, &host, &p, err) != 0) {
        pw_diag_add(problems, "listen %s: %s", listen, err);
        return -1;
    }
    snprintf(port, sizeof port, "%u", (unsigned)p);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    uv_getaddrinfo_t req;
    int rc = uv_getaddrinfo(loop, &req, NULL, host, port, &hints);
    if (rc == 0) {
        rc = try_listen(loop, req.addrinfo->ai_addr);
        uv_freeaddrinfo(req.addrinfo);
    }
    free(host);
    if (rc == 0)
        return 0;
    pw_diag_add(problems, "cannot serve the HTTP API on %s: %s (%s); %s", listen, uv_strerror(rc),
                uv_err_name(rc), listen_fix(rc));
    return -1;
}
