/* Growable buffer, size-capped body collector and whole-file reader (see strbuf.h). */
#include "common/strbuf.h"

#include <errno.h>
#include <sodium.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SB_MIN_ALLOC 64

char sb_empty_[1];

void sb_init(struct strbuf *sb)
{
    *sb = (struct strbuf)STRBUF_INIT;
}

void sb_release(struct strbuf *sb)
{
    if (!sb)
        return;
    if (sb->alloc)
        free(sb->buf);
    sb_init(sb);
}

void sb_reset(struct strbuf *sb)
{
    sb->len = 0;
    if (sb->alloc)
        sb->buf[0] = '\0';
}

int sb_grow(struct strbuf *sb, size_t extra)
{
    if (sb->err)
        return sb->err;
    if (extra > SIZE_MAX - 1 - sb->len) {
        sb->err = -ERR_NOMEM;
        return sb->err;
    }
    size_t need = sb->len + extra + 1;
    if (need <= sb->alloc)
        return 0;
    size_t cap = sb->alloc > SIZE_MAX / 2 ? need : sb->alloc * 2;
    if (cap < need)
        cap = need;
    if (cap < SB_MIN_ALLOC)
        cap = SB_MIN_ALLOC;
    char *nb = realloc(sb->alloc ? sb->buf : NULL, cap);
    if (!nb) {
        sb->err = -ERR_NOMEM;
        return sb->err;
    }
    if (!sb->alloc)
        nb[0] = '\0';
    sb->buf = nb;
    sb->alloc = cap;
    return 0;
}

int sb_add(struct strbuf *sb, const void *data, size_t n)
{
    int r = sb_grow(sb, n);
    if (r < 0)
        return r;
    if (n)
        memcpy(sb->buf + sb->len, data, n);
    sb->len += n;
    sb->buf[sb->len] = '\0';
    return 0;
}

int sb_adds(struct strbuf *sb, const char *s)
{
    return sb_add(sb, s, strlen(s));
}

int sb_addch(struct strbuf *sb, char c)
{
    return sb_add(sb, &c, 1);
}

int sb_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
{
    va_list cp;
    if (sb->err)
        return sb->err;
    va_copy(cp, ap);
    int n = vsnprintf(sb->buf + sb->len, sb->alloc ? sb->alloc - sb->len : 0, fmt, cp);
    va_end(cp);
    if (n < 0) {
        sb->err = -ERR_NOMEM; /* only an impossible format fails; treat it as no buffer */
        sb->buf[sb->len] = '\0';
        return sb->err;
    }
    if (sb->alloc && (size_t)n < sb->alloc - sb->len) {
        sb->len += (size_t)n;
        return 0;
    }
    int r = sb_grow(sb, (size_t)n);
    if (r < 0) {
        if (sb->alloc)
            sb->buf[sb->len] = '\0'; /* vsnprintf may have written a truncated tail */
        return r;
    }
    vsnprintf(sb->buf + sb->len, sb->alloc - sb->len, fmt, ap);
    sb->len += (size_t)n;
    return 0;
}

int sb_addf(struct strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = sb_vaddf(sb, fmt, ap);
    va_end(ap);
    return r;
}

int sb_add_base64(struct strbuf *sb, const void *data, size_t n)
{
    if (n > (SIZE_MAX - 1) / 4 * 3 - 3) {
        sb->err = sb->err ? sb->err : -ERR_NOMEM;
        return sb->err;
    }
    size_t enc = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL); /* with NUL */
    int r = sb_grow(sb, enc - 1);
    if (r < 0)
        return r;
    sodium_bin2base64(sb->buf + sb->len, enc, data, n, sodium_base64_VARIANT_ORIGINAL);
    sb->len += enc - 1;
    return 0;
}

char *sb_detach(struct strbuf *sb, size_t *ret_len)
{
    char *s = NULL;
    size_t len = sb->len;
    if (sb->err) {
        sb_release(sb);
        return NULL;
    }
    s = sb->alloc ? sb->buf : calloc(1, 1);
    sb_init(sb);
    if (s && ret_len)
        *ret_len = len;
    return s;
}

int sb_body_add(struct sb_body *b, const void *data, size_t n)
{
    if (b->too_large)
        return -ERR_TOO_LARGE;
    if (n > b->max || b->sb.len > b->max - n) {
        b->too_large = true;
        sb_release(&b->sb);
        return -ERR_TOO_LARGE;
    }
    return sb_add(&b->sb, data, n);
}

size_t sb_body_curl_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct sb_body *b = userdata;
    if (nmemb && size > SIZE_MAX / nmemb) {
        b->too_large = true;
        sb_release(&b->sb);
        return 0;
    }
    size_t n = size * nmemb;
    return sb_body_add(b, ptr, n) == 0 ? n : 0;
}

int read_file(const char *path, size_t max, char **ret, size_t *ret_len, struct error *err)
{
    struct strbuf sb = STRBUF_INIT;
    struct stat st;
    int r = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        r = error_set(err, ERR_IO, "", "%s: cannot open: %s", path, strerror(e));
        errno = e;
        return r;
    }
    /* A regular file's size (plus one byte to see the end) is a good first guess. */
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
        (uintmax_t)st.st_size <= max && sb_grow(&sb, (size_t)st.st_size + 1) < 0) {
        r = error_set(err, ERR_NOMEM, "", "%s: out of memory", path);
        goto out;
    }
    for (;;) {
        if (sb.alloc - sb.len <= 1 && sb_grow(&sb, 4096) < 0) {
            r = error_set(err, ERR_NOMEM, "", "%s: out of memory", path);
            goto out;
        }
        size_t room = sb.alloc - sb.len - 1;
        if (max - sb.len < room) /* never read more than one byte past the cap */
            room = max - sb.len + 1;
        ssize_t n = read(fd, sb.buf + sb.len, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            r = error_set(err, ERR_IO, "", "%s: cannot read: %s", path, strerror(e));
            errno = e;
            goto out;
        }
        if (n == 0)
            break;
        sb.len += (size_t)n;
        sb.buf[sb.len] = '\0';
        if (sb.len > max) {
            r = error_set(err, ERR_TOO_LARGE, "", "%s: larger than %zu bytes", path, max);
            errno = EFBIG;
            goto out;
        }
    }
    size_t len = 0;
    char *s = sb_detach(&sb, &len);
    if (!s) {
        r = error_set(err, ERR_NOMEM, "", "%s: out of memory", path);
        goto out;
    }
    *ret = s;
    if (ret_len)
        *ret_len = len;
out:
    sb_release(&sb);
    int e = errno;
    close(fd);
    errno = e;
    return r;
}
