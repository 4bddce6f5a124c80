/*
 * The keys' reference (`config-check --keys`, the README's keys block),
 * written from the key table.
 */
#include "config/config_int.h"

#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[] = {
    [PW_KEY_STRING] = "text",       [PW_KEY_DURATION] = "duration", [PW_KEY_INT] = "number",
    [PW_KEY_BOOL] = "yes/no",       [PW_KEY_ENUM] = "choice",       [PW_KEY_HOSTS] = "host list",
    [PW_KEY_PORTS] = "port list",   [PW_KEY_LISTEN] = "address:port", [PW_KEY_RATE] = "rate",
    [PW_KEY_SET] = "choice list",   [PW_KEY_PROTOCOL] = "choice",
    [PW_KEY_LABELS] = "label list",
};
_Static_assert(sizeof type_names / sizeof type_names[0] == PW_KEY_TYPE_COUNT_,
               "a name per enum pw_key_type");

void pw_config_write_reference(FILE *f)
{
    const char *last = "";
    size_t nkeys;
    const struct pw_key *keys = pw_config_keys(&nkeys);
    for (size_t i = 0; i < nkeys; i++) {
        const struct pw_key *k = &keys[i];
        if (strcmp(k->section, last) != 0) {
            fprintf(f, "%s### [%s]\n\n| key | type | default | allowed | meaning |\n|---|---|---|---|---|\n",
                    *last ? "\n" : "", cf_key_section(k) == SEC_CHECK ? "check NAME"
                                        : cf_key_section(k) == SEC_MAINT ? "maintenance NAME"
                                                                         : k->section);
            last = k->section;
        }
        char allowed[640] = "";
        if (k->type == PW_KEY_ENUM || k->type == PW_KEY_SET) {
            size_t used = 0;
            for (int j = 0; k->choices[j] && used < sizeof allowed; j++)
                used += (size_t)snprintf(allowed + used, sizeof allowed - used, "%s%s",
                                         j ? ", " : "", k->choices[j]);
        } else if (k->type == PW_KEY_DURATION && k->max > 0) {
            char lo[32], hi[32];
            pw_format_duration(k->min, lo, sizeof lo);
            pw_format_duration(k->max, hi, sizeof hi);
            snprintf(allowed, sizeof allowed, "%s to %s", lo, hi);
        } else if (k->type == PW_KEY_INT) {
            snprintf(allowed, sizeof allowed, "%lld to %lld", k->min, k->max);
        } else if (k->type == PW_KEY_RATE) {
            snprintf(allowed, sizeof allowed, "%lld/s to %lld/s", k->min, k->max);
        } else if (k->type == PW_KEY_PORTS) {
            snprintf(allowed, sizeof allowed, "1-65535, lists and ranges");
        } else if (k->type == PW_KEY_PROTOCOL) {
            pw_proto_choices(allowed, sizeof allowed);
        } else if (k->type == PW_KEY_LABELS) {
            snprintf(allowed, sizeof allowed, "name=value, ...");
        }
        fprintf(f, "| `%s` | %s | %s | %s | %s%s |\n", k->name, type_names[k->type],
                k->def ? k->def : "", allowed, k->help,
                k->restart ? " A change takes effect at a restart, not a reload." : "");
    }
}
