/* Unit tests for common/util: ARRAY_SIZE() and array_grow(). */
#include "common/error.h"
#include "common/util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void test_array_size(void **state)
{
    (void)state;
    static const int a[7] = {0};
    struct {
        char name[3];
        int x;
    } rows[] = {{"a", 1}, {"b", 2}};
    static const char *words[] = {"x", "y", "z"};
    assert_int_equal(ARRAY_SIZE(a), 7);
    assert_int_equal(ARRAY_SIZE(rows), 2);
    assert_int_equal(ARRAY_SIZE(words), 3);
    assert_int_equal(ARRAY_SIZE(rows[0].name), 3);
    /* a constant expression */
    static const char table[ARRAY_SIZE(a)] = {0};
    assert_int_equal(sizeof(table), 7);
}

static void test_array_grow(void **state)
{
    (void)state;
    struct item {
        int a, b;
    } *v = NULL;
    size_t cap = 0;
    assert_int_equal(ARRAY_GROW(v, cap, 1, 16), 0); /* from nothing: the minimum */
    assert_non_null(v);
    assert_int_equal(cap, 16);
    for (int i = 0; i < 16; i++)
        v[i] = (struct item){i, -i};
    assert_int_equal(ARRAY_GROW(v, cap, 16, 16), 0); /* room enough: nothing changes */
    assert_int_equal(cap, 16);
    assert_int_equal(ARRAY_GROW(v, cap, 17, 16), 0); /* doubles, keeps the content */
    assert_int_equal(cap, 32);
    assert_int_equal(v[15].b, -15);
    assert_int_equal(ARRAY_GROW(v, cap, 100, 16), 0); /* more than double: exactly need */
    assert_int_equal(cap, 100);
    assert_int_equal(v[3].a, 3);
    /* a byte size that would overflow is refused and nothing changes */
    struct item *keep = v;
    assert_int_equal(ARRAY_GROW(v, cap, SIZE_MAX / sizeof(*v) + 1, 16), -ERR_NOMEM);
    assert_ptr_equal(v, keep);
    assert_int_equal(cap, 100);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_array_size),
        cmocka_unit_test(test_array_grow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
