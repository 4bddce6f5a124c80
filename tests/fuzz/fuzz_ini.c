/*
 * libFuzzer target for the configuration reader: the INI tokenizer and the
 * loader that validates every key, then expansion into a plan. Any input
 * must end in a config or in diagnostics, never a crash or a leak, and
 * every diagnostic must be printable UTF-8: messages quote the file, and
 * nothing from it may reach a terminal raw.
 */
#include "config/config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pw_diag diag = {0};
    struct pw_config *c = NULL;
    if (pw_config_load_buffer("fuzz.ini", (const char *)data, size, &c, &diag) == 0) {
        struct pw_plan *p = NULL;
        /* Large port ranges over many hosts are legal but slow to expand;
         * the fuzzer is after parser bugs, so keep plans small. */
        size_t ports = 0;
        for (size_t i = 0; i < c->nchecks; i++)
            ports += pw_portset_count(&c->checks[i].ports) * c->checks[i].hosts.n;
        if (ports < 5000 && pw_plan_build(c, &p, &diag) == 0)
            pw_plan_free(p);
        pw_config_free(c);
    }
    char err[PW_ERRBUF];
    for (size_t i = 0; i < diag.n; i++)
        if (pw_check_text(diag.msgs[i], strlen(diag.msgs[i]), err) != 0)
            abort();
    pw_diag_free(&diag);
    return 0;
}
