/* redact_urls: userinfo and query strings of URLs never survive; other text is kept. */
#include "common/redact.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

static void check(const char *in, const char *want)
{
    char out[256];
    redact_urls(in, out, sizeof(out));
    assert_string_equal(out, want);
}

static void test_cases(void **state)
{
    (void)state;
    check("plain text, no url", "plain text, no url");
    check("https://s3.example/bucket/model.safetensors?X-Amz-Signature=abc&X-Amz-Credential=k",
          "https://s3.example/bucket/model.safetensors?***");
    check("GET https://user:secret@host:8443/a/b answered 403",
          "GET https://***@host:8443/a/b answered 403");
    check("https://h/p#frag?x and http://u@h/q?tok=1 end",
          "https://h/p?*** and http://***@h/q?*** end");
    check("\"https://h/p?sig=1\"", "\"https://h/p?***\"");
    check("https://h", "https://h");
    check("x://", "x://");
}

static void test_truncation(void **state)
{
    (void)state;
    char out[12];
    redact_urls("https://user:pw@host/path?sig=secret", out, sizeof(out));
    assert_string_equal(out, "https://***");
    char one[1];
    redact_urls("anything", one, sizeof(one));
    assert_string_equal(one, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_cases),
                                       cmocka_unit_test(test_truncation)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
