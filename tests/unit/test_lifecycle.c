/* The reservation lifecycle: every (from, to) pair of the transition table. */
#include "core/reservation.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

static void test_every_pair(void **state)
{
    /* the only legal transitions */
    static const int legal[][2] = {
        {RS_APPROVED, RS_ACTIVE},  {RS_APPROVED, RS_CANCELED}, {RS_APPROVED, RS_FAILED},
        {RS_ACTIVE, RS_COMPLETED}, {RS_ACTIVE, RS_CANCELED},   {RS_ACTIVE, RS_FAILED},
    };
    int n_legal = 0;
    for (int f = 0; f < RS__COUNT; f++)
        for (int t = 0; t < RS__COUNT; t++) {
            bool want = false;
            for (size_t i = 0; i < sizeof legal / sizeof legal[0]; i++)
                if (legal[i][0] == f && legal[i][1] == t)
                    want = true;
            assert_int_equal(res_transition_allowed((enum res_state)f, (enum res_state)t), want);
            n_legal += want;
        }
    assert_int_equal(n_legal, 6);
    assert_false(res_transition_allowed(RS_CANCELED, RS_ACTIVE));
    assert_false(res_transition_allowed((enum res_state) - 1, RS_ACTIVE));
    assert_false(res_transition_allowed(RS_APPROVED, RS__COUNT));
}

static void test_states(void **state)
{
    for (int s = 0; s < RS__COUNT; s++) {
        enum res_state got;
        assert_int_equal(res_state_parse(res_state_name((enum res_state)s), &got), 0);
        assert_int_equal(got, s);
        assert_int_equal(res_state_terminal((enum res_state)s),
                         s == RS_COMPLETED || s == RS_CANCELED || s == RS_FAILED);
        assert_int_equal(res_state_holds_capacity((enum res_state)s),
                         s == RS_APPROVED || s == RS_ACTIVE);
    }
    enum res_state got;
    assert_int_equal(res_state_parse("approved", &got), -1);
    assert_int_equal(res_state_parse(NULL, &got), -1);
    assert_string_equal(res_state_name(RS__COUNT), "UNKNOWN");
    enum res_mode m;
    assert_int_equal(res_mode_parse("inference", &m), 0);
    assert_int_equal(m, MODE_INFERENCE);
    assert_int_equal(res_mode_parse("batch", &m), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_pair),
        cmocka_unit_test(test_states),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
