/*
 * libFuzzer target for the endpoint mapper's reply decoder
 * (probes/epm.c): an ept_lookup reply stub with its context handle, the
 * conformant varying array of entries, deferred towers and the status, in
 * both byte orders; and the input as a single tower. Seeds: reply stubs
 * captured from Samba 4.17 in tests/fuzz/epm/.
 */
#include "probes/epm.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check_entry(void *ud, const struct pw_epm_entry *e)
{
    size_t *n = ud;
    (*n)++;
    if (strlen(e->annotation) >= sizeof e->annotation ||
        strlen(e->endpoint) >= sizeof e->endpoint || strlen(e->address) >= sizeof e->address ||
        (unsigned)e->protseq >= PW_EPM_PROTSEQ_COUNT_)
        abort();
    if (e->has_iface)
        pw_epm_interface_name(&e->iface);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int be = 0; be < 2; be++) {
        uint8_t handle[20];
        uint32_t num = 0, status = 0;
        size_t seen = 0;
        pw_epm_lookup_parse(data, size, be, handle, &num, &status, check_entry, &seen);
        if (seen != num)
            abort();
    }
    struct pw_epm_entry e;
    memset(&e, 0, sizeof e);
    pw_epm_tower_decode(data, size, &e);
    check_entry(&(size_t){0}, &e);
    return 0;
}
