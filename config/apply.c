/*
 * Setting one key's value from its text: parsing by the key's type, limits
 * and choices, with a message that says what is allowed.
 */
#include "config/config_int.h"

#include "base/error.h"
#include "base/text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- setting values ---------------------------------------------------- */

/* The message for a word that is none of k's choices. */
static int refuse_choice(const struct pw_key *k, const char *word, const char *how,
                         char err[PW_ERRBUF])
{
    size_t used = (size_t)snprintf(err, PW_ERRBUF, "'%s' is not allowed; use %s: ", word, how);
    for (int i = 0; k->choices[i] && used < PW_ERRBUF; i++)
        used += (size_t)snprintf(err + used, PW_ERRBUF - used, "%s%s", i ? ", " : "",
                                 k->choices[i]);
    return PW_EINVAL;
}

/* A SET value: choices separated by commas, each at most once, into a bit
 * each (choice i is bit i). */
static int apply_set(const struct pw_key *k, int *field, const char *value, char err[PW_ERRBUF])
{
    int bits = 0;
    for (const char *p = value;; p++) {
        while (*p == ' ' || *p == '\t')
            p++;
        size_t len = strcspn(p, ",");
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        char word[64];
        snprintf(word, sizeof word, "%.*s", (int)len, p);
        if (!*word)
            return snprintf(err, PW_ERRBUF, "an empty name in '%s'; name one or more, separated "
                            "by commas, e.g. %s", value, k->def), PW_EINVAL;
        int i = 0;
        while (k->choices[i] && pw_strcasecmp(word, k->choices[i]) != 0)
            i++;
        if (!k->choices[i])
            return refuse_choice(k, word, "one or more of, separated by commas", err);
        if (bits & (1 << i))
            return snprintf(err, PW_ERRBUF, "'%s' is named twice; name it once", word), PW_EINVAL;
        bits |= 1 << i;
        p += strcspn(p, ",");
        if (!*p)
            break;
    }
    *field = bits;
    return 0;
}

/* Parses value for key k into the struct at base. Returns 0 or an error with
 * the message in err. */
/* A text field takes a copy of value, freeing what it held. */
static int set_copy(char *field, const char *value, char err[PW_ERRBUF])
{
    char *copy = strdup(value);
    if (!copy)
        return snprintf(err, PW_ERRBUF, "out of memory"), PW_ENOMEM;
    free(*(char **)field);
    *(char **)field = copy;
    return 0;
}

int cf_apply(const struct pw_key *k, void *base, const char *value, char err[PW_ERRBUF])
{
    char *field = (char *)base + k->offset;
    int rc;

    switch (k->type) {
    case PW_KEY_STRING: {
        if (k->min > 0 && *value == '\0')
            return snprintf(err, PW_ERRBUF, "empty; give a value, or remove the line for the default%s%s%s",
                            k->def ? " (" : "", k->def ? k->def : "", k->def ? ")" : ""),
                   PW_EINVAL;
        return set_copy(field, value, err);
    }
    case PW_KEY_LISTEN: {
        char *host;
        uint16_t port;
        if ((rc = pw_parse_listen(value, &host, &port, err)) != 0)
            return rc;
        free(host);
        return set_copy(field, value, err);
    }
    case PW_KEY_DURATION: {
        int64_t ms;
        if ((rc = pw_parse_duration(value, &ms, err)) != 0)
            return rc;
        if (k->max > 0 && (ms < k->min || ms > k->max)) {
            char lo[32], hi[32];
            pw_format_duration(k->min, lo, sizeof lo);
            pw_format_duration(k->max, hi, sizeof hi);
            snprintf(err, PW_ERRBUF, "%s is out of range; use %s to %s", value, lo, hi);
            return PW_ERANGE;
        }
        *(int64_t *)field = ms;
        return 0;
    }
    case PW_KEY_INT: {
        long long v;
        if ((rc = pw_parse_int(value, k->min, k->max, &v, err)) != 0)
            return rc;
        *(long long *)field = v;
        return 0;
    }
    case PW_KEY_RATE: {
        long long v;
        if ((rc = pw_parse_rate(value, k->min, k->max, &v, err)) != 0)
            return rc;
        *(long long *)field = v;
        return 0;
    }
    case PW_KEY_BOOL:
        return pw_parse_bool(value, (int *)field, err);
    case PW_KEY_ENUM:
        for (int i = 0; k->choices[i]; i++)
            if (pw_strcasecmp(value, k->choices[i]) == 0) {
                *(int *)field = i;
                return 0;
            }
        return refuse_choice(k, value, "one of", err);
    case PW_KEY_SET:
        return apply_set(k, (int *)field, value, err);
    case PW_KEY_LABELS: {
        char *canon;
        if ((rc = pw_parse_labels(value, &canon, err)) != 0)
            return rc;
        free(*(char **)field);
        *(char **)field = canon;
        return 0;
    }
    case PW_KEY_PROTOCOL: {
        if (pw_proto_choice_parse(value, (int *)field) == 0)
            return 0;
        char choices[PW_ERRBUF / 2];
        pw_proto_choices(choices, sizeof choices);
        return snprintf(err, PW_ERRBUF, "'%s' is not allowed; use one of: %s", value, choices),
               PW_EINVAL;
    }
    case PW_KEY_HOSTS: {
        struct pw_host_list hl;
        if ((rc = pw_parse_hosts(value, &hl, err)) != 0)
            return rc;
        pw_host_list_free((struct pw_host_list *)field);
        *(struct pw_host_list *)field = hl;
        return 0;
    }
    case PW_KEY_PORTS: {
        struct pw_portset ps;
        if ((rc = pw_parse_ports(value, &ps, err)) != 0)
            return rc;
        pw_portset_free((struct pw_portset *)field);
        *(struct pw_portset *)field = ps;
        return 0;
    }
    case PW_KEY_TYPE_COUNT_:
        break;
    }
    return PW_EINVAL;
}
