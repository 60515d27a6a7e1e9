/* Unit tests for common/yaml_walk: loading, scalars, key look-up and iteration. */
#include "common/error.h"
#include "common/yaml_walk.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static const char doc_text[] = "name: a100\n"
                               "gpus: [0, 1, 2]\n"
                               "labels:\n"
                               "  zone: eu\n"
                               "  name: shadow\n"
                               "empty: {}\n";

static void test_load_and_get(void **state)
{
    (void)state;
    yaml_document_t d;
    assert_int_equal(yw_load(doc_text, strlen(doc_text), &d, NULL), 0);
    yaml_node_t *root = yaml_document_get_root_node(&d);
    assert_true(yw_is_map(root));
    assert_false(yw_is_seq(root));
    assert_string_equal(yw_scalar(yw_get(&d, root, "name")), "a100");
    /* only the mapping asked is searched, not nested ones */
    assert_string_equal(yw_scalar(yw_get(&d, yw_get(&d, root, "labels"), "name")), "shadow");
    assert_null(yw_get(&d, root, "zone"));
    assert_null(yw_get(&d, root, "missing"));
    /* a non-mapping, a non-scalar and NULL are answered with NULL */
    yaml_node_t *gpus = yw_get(&d, root, "gpus");
    assert_true(yw_is_seq(gpus));
    assert_null(yw_get(&d, gpus, "0"));
    assert_null(yw_scalar(gpus));
    assert_null(yw_scalar(NULL));
    assert_null(yw_get(&d, NULL, "name"));
    assert_false(yw_is_map(NULL));
    yaml_document_delete(&d);
}

static void test_iteration(void **state)
{
    (void)state;
    yaml_document_t d;
    assert_int_equal(yw_load(doc_text, strlen(doc_text), &d, NULL), 0);
    yaml_node_t *root = yaml_document_get_root_node(&d);
    char keys[64] = "";
    YW_FOR_PAIRS(p, root)
    {
        strcat(keys, yw_scalar(yw_key(&d, p)));
        strcat(keys, yw_scalar(yw_value(&d, p)) ? "=s " : "=n ");
    }
    assert_string_equal(keys, "name=s gpus=n labels=n empty=n ");
    int sum = 0, n = 0;
    YW_FOR_ITEMS(it, yw_get(&d, root, "gpus"))
    {
        sum += yw_scalar(yw_item(&d, it))[0] - '0';
        n++;
    }
    assert_int_equal(n, 3);
    assert_int_equal(sum, 3);
    n = 0;
    YW_FOR_PAIRS(p, yw_get(&d, root, "empty"))
    {
        (void)p;
        n++;
    }
    assert_int_equal(n, 0);
    yaml_document_delete(&d);
}

static void test_load_errors(void **state)
{
    (void)state;
    yaml_document_t d;
    struct yw_problem pr = {0};
    const char bad[] = "a: 1\nb: [1, 2\nc: 3\n";
    assert_int_equal(yw_load(bad, strlen(bad), &d, &pr), -ERR_INVALID);
    assert_true(pr.line >= 2);
    assert_non_null(pr.reason); /* libyaml names the problem */
    assert_true(strlen(pr.reason) > 0);
    assert_int_equal(yw_load(bad, strlen(bad), &d, NULL), -ERR_INVALID);
    /* an empty text is a document without a root */
    assert_int_equal(yw_load("", 0, &d, &pr), 0);
    assert_null(yaml_document_get_root_node(&d));
    yaml_document_delete(&d);
    /* the length is honoured: the text after it is not parsed */
    const char two[] = "x: 1\n: : :";
    assert_int_equal(yw_load(two, 5, &d, &pr), 0);
    assert_string_equal(yw_scalar(yw_get(&d, yaml_document_get_root_node(&d), "x")), "1");
    yaml_document_delete(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_and_get),
        cmocka_unit_test(test_iteration),
        cmocka_unit_test(test_load_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
