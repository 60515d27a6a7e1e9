/* Unit tests for common/strbuf: the growable buffer's invariants, the size-capped body
 * collector and read_file(). */
#include "common/error.h"
#include "common/strbuf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

/* The invariants strbuf.h promises, checked after every operation in these tests. */
static void assert_invariants(const struct strbuf *sb)
{
    assert_non_null(sb->buf);
    assert_int_equal(sb->buf[sb->len], '\0');
    if (sb->alloc == 0) {
        assert_ptr_equal(sb->buf, sb_empty_);
        assert_int_equal(sb->len, 0);
    } else {
        assert_true(sb->len < sb->alloc);
    }
}

static void test_empty_buffer_is_a_string(void **state)
{
    (void)state;
    struct strbuf sb = STRBUF_INIT;
    assert_invariants(&sb);
    assert_string_equal(sb.buf, "");
    sb_release(&sb); /* releasing an unallocated buffer frees nothing */
    assert_invariants(&sb);
    sb_release(NULL);
    size_t len = 99;
    char *s = sb_detach(&sb, &len); /* an empty buffer still hands over a string */
    assert_non_null(s);
    assert_string_equal(s, "");
    assert_int_equal(len, 0);
    free(s);
    assert_invariants(&sb);
}

static void test_appends(void **state)
{
    (void)state;
    struct strbuf sb = STRBUF_INIT;
    assert_int_equal(sb_adds(&sb, "gpu"), 0);
    assert_invariants(&sb);
    assert_int_equal(sb_addch(&sb, '-'), 0);
    assert_int_equal(sb_addf(&sb, "%d/%s", 42, "h100"), 0);
    assert_int_equal(sb_add(&sb, "\0x", 2), 0); /* binary content: len counts the NUL */
    assert_invariants(&sb);
    assert_int_equal(sb.len, 13);
    assert_memory_equal(sb.buf, "gpu-42/h100\0x", 14);
    sb_reset(&sb);
    assert_invariants(&sb);
    assert_int_equal(sb.len, 0);
    assert_true(sb.alloc > 0); /* reset keeps the memory */
    assert_int_equal(sb_addf(&sb, "%s", ""), 0);
    assert_int_equal(sb.len, 0);
    sb_release(&sb);
    assert_invariants(&sb);
}

/* A printf longer than the room left takes the grow-and-format-again path. */
static void test_addf_grows_exactly(void **state)
{
    (void)state;
    struct strbuf sb = STRBUF_INIT;
    char big[5000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sb_addf(&sb, "[%s]", big), 0);
        assert_invariants(&sb);
    }
    assert_int_equal(sb.len, 3 * (sizeof(big) + 1));
    assert_int_equal(sb.buf[0], '[');
    assert_int_equal(sb.buf[sizeof(big)], ']');
    assert_int_equal(sb.buf[sb.len - 1], ']');
    size_t len = 0;
    char *s = sb_detach(&sb, &len);
    assert_int_equal(len, 3 * (sizeof(big) + 1));
    assert_int_equal(strlen(s), len);
    free(s);
    assert_invariants(&sb);
}

/* Amortised doubling: n one-byte appends cost O(log n) growths, never one per append. */
static void test_growth_is_amortised(void **state)
{
    (void)state;
    struct strbuf sb = STRBUF_INIT;
    size_t growths = 0, last = 0;
    const size_t n = 1 << 20;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(sb_addch(&sb, (char)('a' + i % 26)), 0);
        if (sb.alloc != last) {
            growths++;
            assert_true(last == 0 || sb.alloc >= 2 * last);
            last = sb.alloc;
        }
    }
    assert_invariants(&sb);
    assert_int_equal(sb.len, n);
    assert_true(growths <= 20); /* log2(1 MiB / 64 B) + 1 = 15 */
    sb_release(&sb);
}

/* A size that would overflow is refused, the content kept, and the error is sticky. */
static void test_overflow_is_refused_and_sticky(void **state)
{
    (void)state;
    struct strbuf sb = STRBUF_INIT;
    assert_int_equal(sb_adds(&sb, "keep"), 0);
    assert_int_equal(sb_grow(&sb, SIZE_MAX), -ERR_NOMEM);
    assert_int_equal(sb.err, -ERR_NOMEM);
    assert_invariants(&sb);
    assert_string_equal(sb.buf, "keep");
    assert_int_equal(sb_grow(&sb, SIZE_MAX - 4), -ERR_NOMEM);
    assert_int_equal(sb_adds(&sb, "more"), -ERR_NOMEM);
    assert_int_equal(sb_addf(&sb, "%d", 1), -ERR_NOMEM);
    assert_string_equal(sb.buf, "keep");
    /* Detaching a failed buffer gives NULL and frees it; the buffer is usable again. */
    assert_null(sb_detach(&sb, NULL));
    assert_invariants(&sb);
    assert_int_equal(sb.err, 0);
    assert_int_equal(sb_adds(&sb, "again"), 0);
    assert_string_equal(sb.buf, "again");
    sb_release(&sb);
}

/* RFC 4648 section 10 test vectors, appended after existing content. */
static void test_base64(void **state)
{
    (void)state;
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        struct strbuf sb = STRBUF_INIT;
        assert_int_equal(sb_adds(&sb, "x:"), 0);
        assert_int_equal(sb_add_base64(&sb, plain[i], strlen(plain[i])), 0);
        assert_invariants(&sb);
        assert_string_equal(sb.buf + 2, enc[i]);
        assert_int_equal(sb.len, 2 + strlen(enc[i]));
        sb_release(&sb);
    }
    struct strbuf sb = STRBUF_INIT;
    assert_int_equal(sb_add_base64(&sb, "x", SIZE_MAX), -ERR_NOMEM); /* size would overflow */
    assert_invariants(&sb);
}

static void test_body_cap(void **state)
{
    (void)state;
    struct sb_body b = SB_BODY_INIT(8);
    assert_int_equal(sb_body_add(&b, "1234", 4), 0);
    assert_int_equal(sb_body_add(&b, "5678", 4), 0); /* exactly the cap is accepted */
    assert_false(b.too_large);
    assert_string_equal(b.sb.buf, "12345678");
    assert_int_equal(sb_body_add(&b, "9", 1), -ERR_TOO_LARGE);
    assert_true(b.too_large);
    assert_int_equal(b.sb.len, 0); /* the body so far was released */
    assert_invariants(&b.sb);
    assert_int_equal(sb_body_add(&b, "", 0), -ERR_TOO_LARGE); /* and stays refused */
    sb_release(&b.sb);

    /* A single chunk larger than the cap, and a length that would wrap around. */
    struct sb_body c = SB_BODY_INIT(8);
    assert_int_equal(sb_body_add(&c, "123456789", 9), -ERR_TOO_LARGE);
    struct sb_body d = SB_BODY_INIT(8);
    assert_int_equal(sb_body_add(&d, "1", 1), 0);
    assert_int_equal(sb_body_add(&d, "x", SIZE_MAX), -ERR_TOO_LARGE);
    assert_true(d.too_large);
    sb_release(&d.sb);
}

static void test_body_curl_callback(void **state)
{
    (void)state;
    struct sb_body b = SB_BODY_INIT(10);
    char data[] = "abcdef";
    assert_int_equal(sb_body_curl_write(data, 2, 3, &b), 6);
    assert_int_equal(sb_body_curl_write(data, 1, 4, &b), 4);
    assert_string_equal(b.sb.buf, "abcdefabcd");
    assert_int_equal(sb_body_curl_write(data, 1, 1, &b), 0); /* 0 makes libcurl abort */
    assert_true(b.too_large);
    struct sb_body c = SB_BODY_INIT(SIZE_MAX);
    assert_int_equal(sb_body_curl_write(data, SIZE_MAX / 2, 3, &c), 0); /* size*nmemb wraps */
    assert_true(c.too_large);
    sb_release(&b.sb);
    sb_release(&c.sb);
}

static void write_tmp(char *path, const void *data, size_t n)
{
    strcpy(path, "/tmp/gpuaas-strbuf-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
}

static void test_read_file(void **state)
{
    (void)state;
    char path[64];
    char *text = NULL;
    size_t len = 0;
    static char data[70000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (char)(i % 251);
    write_tmp(path, data, sizeof(data));
    assert_int_equal(read_file(path, sizeof(data), &text, &len, NULL), 0);
    assert_int_equal(len, sizeof(data));
    assert_memory_equal(text, data, sizeof(data));
    assert_int_equal(text[len], '\0');
    free(text);

    /* One byte over the cap is refused, and the outputs are not written. */
    struct error err = {0};
    text = NULL;
    len = 7;
    assert_int_equal(read_file(path, sizeof(data) - 1, &text, &len, &err), -ERR_TOO_LARGE);
    assert_null(text);
    assert_int_equal(len, 7);
    assert_non_null(strstr(err.message, "larger than 69999 bytes"));
    assert_non_null(strstr(err.message, path));
    unlink(path);

    /* An empty file is an empty string. */
    write_tmp(path, "", 0);
    assert_int_equal(read_file(path, 10, &text, NULL, NULL), 0);
    assert_string_equal(text, "");
    free(text);
    unlink(path);
}

static void test_read_file_errors(void **state)
{
    (void)state;
    struct error err = {0};
    char *text = NULL;
    assert_int_equal(read_file("/nonexistent/gpuaas", 10, &text, NULL, &err), -ERR_IO);
    assert_string_equal(err.message, "/nonexistent/gpuaas: cannot open: No such file or directory");
    assert_null(text);
    assert_int_equal(read_file("/", 10, &text, NULL, &err), -ERR_IO);
    assert_string_equal(err.message, "/: cannot read: Is a directory");
    assert_null(text);
}

/* Files whose size stat() does not know (procfs) are read to their end. */
static void test_read_file_without_size(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    struct stat st;
    assert_int_equal(stat("/proc/self/status", &st), 0);
    assert_int_equal(st.st_size, 0);
    assert_int_equal(read_file("/proc/self/status", 1 << 20, &text, &len, NULL), 0);
    assert_true(len > 100);
    assert_int_equal(strlen(text), len);
    assert_non_null(strstr(text, "Pid:"));
    free(text);
    /* and the cap still holds for them: /dev/zero never ends */
    struct error err = {0};
    assert_int_equal(read_file("/dev/zero", 4096, &text, &len, &err), -ERR_TOO_LARGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_buffer_is_a_string),
        cmocka_unit_test(test_appends),
        cmocka_unit_test(test_addf_grows_exactly),
        cmocka_unit_test(test_growth_is_amortised),
        cmocka_unit_test(test_overflow_is_refused_and_sticky),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_body_cap),
        cmocka_unit_test(test_body_curl_callback),
        cmocka_unit_test(test_read_file),
        cmocka_unit_test(test_read_file_errors),
        cmocka_unit_test(test_read_file_without_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
