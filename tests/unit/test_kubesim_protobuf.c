/* The double's protobuf decoding of kubectl's typed requests, on bodies captured from a real
 * kubectl (tests/data/kubesim-protobuf), and on malformed input. */
#include "kubesim/protobuf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *decode_file(const char *name, char *msg, size_t n)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/tests/data/kubesim-protobuf/%s",
             getenv("GPUAAS_SRC") ? getenv("GPUAAS_SRC") : ".", name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char buf[4096];
    size_t len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    return ksim_pb_decode(buf, len, msg, n);
}

static const char *at(json_t *o, const char *a, const char *b, const char *c)
{
    json_t *v = json_object_get(o, a);
    if (b)
        v = json_object_get(v, b);
    if (c)
        v = json_object_get(v, c);
    return json_string_value(v);
}

static void test_kubectl_can_i(void **state)
{
    (void)state;
    char msg[300];
    json_t *o = decode_file("ssar-pods-exec.pb", msg, sizeof(msg));
    assert_non_null(o);
    assert_string_equal(at(o, "apiVersion", NULL, NULL), "authorization.k8s.io/v1");
    assert_string_equal(at(o, "kind", NULL, NULL), "SelfSubjectAccessReview");
    assert_string_equal(at(o, "spec", "resourceAttributes", "namespace"), "s1");
    assert_string_equal(at(o, "spec", "resourceAttributes", "verb"), "create");
    assert_string_equal(at(o, "spec", "resourceAttributes", "resource"), "pods");
    /* can-i reads "pods/exec" as TYPE/NAME: the pod named exec */
    assert_string_equal(at(o, "spec", "resourceAttributes", "name"), "exec");
    assert_string_equal(at(o, "spec", "resourceAttributes", "subresource"), "");
    assert_string_equal(at(o, "spec", "resourceAttributes", "group"), "");
    json_decref(o);
}

static void test_kubectl_create_token(void **state)
{
    (void)state;
    char msg[300];
    json_t *o = decode_file("tokenrequest.pb", msg, sizeof(msg));
    assert_non_null(o);
    assert_string_equal(at(o, "kind", NULL, NULL), "TokenRequest");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(o, "spec"), "expirationSeconds")), 1200);
    json_decref(o);
}

static void test_malformed(void **state)
{
    (void)state;
    char msg[300];
    const unsigned char not_k8s[] = "{\"kind\": \"Pod\"}";
    assert_null(ksim_pb_decode(not_k8s, sizeof(not_k8s) - 1, msg, sizeof(msg)));
    assert_non_null(strstr(msg, "magic"));
    /* a length that runs past the end */
    const unsigned char truncated[] = {'k', '8', 's', 0, 0x0a, 0x7f, 0x0a};
    assert_null(ksim_pb_decode(truncated, sizeof(truncated), msg, sizeof(msg)));
    assert_non_null(strstr(msg, "malformed"));
    /* a kind the table does not hold: named in the answer */
    const unsigned char pod[] = {'k', '8',  's',  0,   0x0a, 0x09, 0x0a, 0x02, 'v',
                                 '1', 0x12, 0x03, 'P', 'o',  'd',  0x12, 0x00};
    assert_null(ksim_pb_decode(pod, sizeof(pod), msg, sizeof(msg)));
    assert_non_null(strstr(msg, "kind \"Pod\""));
    /* a varint that never ends */
    unsigned char endless[20] = {'k', '8', 's', 0};
    memset(endless + 4, 0xff, sizeof(endless) - 4);
    assert_null(ksim_pb_decode(endless, sizeof(endless), msg, sizeof(msg)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kubectl_can_i),
        cmocka_unit_test(test_kubectl_create_token),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
