/* Names and messages for the codes in error.h, from the one X-macro list. */
#include "config/error.h"

#include <stddef.h>

struct entry {
    int code;
    const char *msg;
};

static const struct entry table[] = {
#define PW_ERR_ROW(name, msg) {PW_E##name, msg},
    PW_ERRNO_MAP(PW_ERR_ROW)
#undef PW_ERR_ROW
};
_Static_assert(sizeof table / sizeof table[0] == PW_ERR_LAST_ - PW_ERR_FIRST_ - 1,
               "a message per pw_err code");

static const struct entry *lookup(int err)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].code == err)
            return &table[i];
    return NULL;
}

const char *pw_strerror(int err)
{
    const struct entry *e = lookup(err);
    return e ? e->msg : "unknown error";
}

void pw_vlog_to(pw_log_sink sink, void *ud, const char *who, int level, const char *fmt,
                va_list ap)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (sink)
        sink(ud, level, msg);
    else if (level >= 0 && level <= 1)
        fprintf(stderr, "portwatch: %s%s%s: %s\n", who ? who : "", who ? ": " : "",
                names[level], msg);
}
