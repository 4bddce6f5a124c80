/*
 * The one way every check-based test program runs its suite: all cases,
 * the normal report, and an exit status meson reads (0 passed, 1 failed).
 * Header-only, so the portable tests that run under Wine need no library.
 */
#ifndef PW_TEST_CHECK_RUN_H
#define PW_TEST_CHECK_RUN_H

#include <check.h>
#include <stdlib.h>

static inline int pw_check_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
