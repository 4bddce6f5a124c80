/*
 * A libFuzzer target with planted faults, for tests/fuzz/selftest.sh: it
 * proves that tests/fuzz/run.sh fails when a target crashes or leaks. The
 * faults fire only with PW_FUZZ_PLANTED=1 in the environment, on an input
 * starting with "crash" (a heap overflow, which ASan reports) or "leak"
 * (memory never freed, which LeakSanitizer reports); otherwise every input
 * passes. Not a fuzz_* name, so run.sh never picks it up by itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int planted = -1;
/* Volatile, so that the compiler keeps the faulty allocations. */
static char *volatile sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (planted < 0) {
        const char *v = getenv("PW_FUZZ_PLANTED");
        planted = v && strcmp(v, "1") == 0;
    }
    if (!planted)
        return 0;
    if (size >= 5 && memcmp(data, "crash", 5) == 0) {
        sink = malloc(4);
        sink[size] = 1; /* past the end: a heap-buffer-overflow */
        free(sink);
    } else if (size >= 4 && memcmp(data, "leak", 4) == 0) {
        sink = malloc(64);
        sink = NULL; /* dropped on purpose */
    }
    return 0;
}
