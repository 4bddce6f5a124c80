/* Names and messages for the codes in error.h, from the one X-macro list. */
#include "base/error.h"

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
