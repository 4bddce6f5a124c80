/*
 * Names, parsing and the verdict table of probe states and statuses.
 * Portable: no sockets, so the Windows build runs it under Wine too.
 */
#include "probes/probe.h"

#include "base/error.h"

#include "tests/check_run.h"

#include <check.h>
#include <stdlib.h>

START_TEST(test_state_names)
{
    static const char *names[] = {"open", "closed", "filtered", "unreachable",
                                  "dns_error", "error"};
    for (int i = 0; i < PW_STATE_COUNT_; i++)
        ck_assert_str_eq(pw_state_name((enum pw_state)i), names[i]);
    ck_assert_str_eq(pw_state_name((enum pw_state)99), "invalid");

    ck_assert(pw_state_passes(PW_STATE_OPEN, PW_EXPECT_LISTENING));
    ck_assert(!pw_state_passes(PW_STATE_CLOSED, PW_EXPECT_LISTENING));
    ck_assert(pw_state_passes(PW_STATE_OPEN, PW_EXPECT_REACHABLE));
    ck_assert(pw_state_passes(PW_STATE_CLOSED, PW_EXPECT_REACHABLE));
    for (int i = PW_STATE_FILTERED; i < PW_STATE_COUNT_; i++) {
        ck_assert(!pw_state_passes((enum pw_state)i, PW_EXPECT_LISTENING));
        ck_assert(!pw_state_passes((enum pw_state)i, PW_EXPECT_REACHABLE));
    }
    ck_assert(!pw_state_passes((enum pw_state)-1, PW_EXPECT_REACHABLE));
    ck_assert(!pw_state_passes(PW_STATE_OPEN, (enum pw_expect)7));

    ck_assert_str_eq(pw_status_name(PW_STATUS_UNKNOWN), "unknown");
    ck_assert_str_eq(pw_status_name(PW_STATUS_UP), "up");
    ck_assert_str_eq(pw_status_name(PW_STATUS_DOWN), "down");
    ck_assert_str_eq(pw_status_name((enum pw_status)3), "invalid");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("probes-state");
    TCase *tc = tcase_create("state");
    tcase_add_test(tc, test_state_names);
    suite_add_tcase(s, tc);
    return pw_check_run(s);
}
