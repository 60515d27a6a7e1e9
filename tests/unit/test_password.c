/* Unit tests for common/password: argon2id hash and verify. */
#include "common/error.h"
#include "common/password.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_hash_and_verify(void **state)
{
    (void)state;
    char h[PASSWORD_HASH_SIZE];
    assert_int_equal(password_hash("correct horse", h, sizeof(h)), 0);
    assert_non_null(strstr(h, "$argon2id$"));
    assert_int_equal(password_verify(h, "correct horse"), 1);
    assert_int_equal(password_verify(h, "correct horsE"), 0);
    assert_int_equal(password_verify(h, ""), 0);
    char h2[PASSWORD_HASH_SIZE];
    assert_int_equal(password_hash("correct horse", h2, sizeof(h2)), 0);
    assert_string_not_equal(h, h2); /* salted */
}

static void test_rejects_bad_input(void **state)
{
    (void)state;
    char h[PASSWORD_HASH_SIZE];
    char small[16];
    assert_int_equal(password_hash("", h, sizeof(h)), -ERR_INVALID);
    assert_int_equal(password_hash("x", small, sizeof(small)), -ERR_INVALID);
    static char big[PASSWORD_MAX_LEN + 2];
    memset(big, 'a', sizeof(big) - 1);
    assert_int_equal(password_hash(big, h, sizeof(h)), -ERR_INVALID);
    assert_int_equal(password_verify("not-a-hash", "x"), 0);
    assert_int_equal(password_verify("", "x"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_and_verify),
        cmocka_unit_test(test_rejects_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
