/* A growable byte buffer (after Git's strbuf), a size-capped body collector for HTTP
 * uploads and libcurl answers, and read_file(): the one place that grows memory for text.
 *
 * Invariants of struct strbuf, kept by every sb_ function:
 * - buf is never NULL and buf[len] == '\0' always, so buf can be passed as a C string
 *   (the content itself may hold NUL bytes; len counts them).
 * - alloc == 0 means buf points at a shared static empty string that must never be written
 *   or freed; otherwise buf is malloc'ed, alloc bytes long, and alloc > len.
 * - Growth is amortised doubling with every size computation checked for overflow.
 * - Errors are sticky: the first failed growth sets err to -ERR_NOMEM and returns it; from
 *   then on every append is refused with that code while buf keeps what it held before, so
 *   a caller may append many times and check sb.err (or the sb_detach result) once.
 *
 * Ownership: the strbuf owns buf. sb_release() frees it and leaves an empty buffer that can
 * be used again; sb_detach() hands buf to the caller (free() it) and leaves the strbuf
 * empty. A strbuf must not be copied by value while both copies are used. */
#ifndef GPUAAS_COMMON_STRBUF_H
#define GPUAAS_COMMON_STRBUF_H

#include "common/error.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct strbuf {
    size_t alloc; /* bytes allocated for buf; 0 while buf is the shared empty string */
    size_t len;   /* bytes in use, the terminating NUL not counted */
    char *buf;    /* never NULL, always NUL-terminated */
    int err;      /* 0, or the first error of a failed growth (-ERR_NOMEM), sticky */
};

extern char sb_empty_[1]; /* the shared empty string of unallocated buffers; never written */

#define STRBUF_INIT                                                                                \
    {                                                                                              \
        .alloc = 0, .len = 0, .buf = sb_empty_, .err = 0                                           \
    }

void sb_init(struct strbuf *sb);
/* Frees the memory (NULL allowed) and leaves sb as after sb_init(). */
void sb_release(struct strbuf *sb);
/* Empties the content, keeps the memory and any sticky error. */
void sb_reset(struct strbuf *sb);

/* Makes room for `extra` more bytes (plus the NUL) without another allocation.
 * Returns 0 or -ERR_NOMEM (allocation failed or the size would overflow), sticky. */
int sb_grow(struct strbuf *sb, size_t extra);

/* Appends n bytes / a C string / one byte / printf output. 0 or -ERR_NOMEM (sticky). */
int sb_add(struct strbuf *sb, const void *data, size_t n);
int sb_adds(struct strbuf *sb, const char *s);
int sb_addch(struct strbuf *sb, char c);
int sb_addf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sb_vaddf(struct strbuf *sb, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Appends data[0..n) in base64 (RFC 4648, with padding). 0 or -ERR_NOMEM (sticky). */
int sb_add_base64(struct strbuf *sb, const void *data, size_t n);

/* Hands the content over: returns a malloc'ed NUL-terminated string the caller free()s
 * (an empty buffer gives a fresh "" allocation), its length in *ret_len (NULL allowed), and
 * leaves sb empty. Returns NULL, freeing the content, when sb holds a sticky error or the
 * empty allocation fails; sb is then empty with its error cleared. */
char *sb_detach(struct strbuf *sb, size_t *ret_len);

/* A request or response body collected up to `max` bytes. */
struct sb_body {
    struct strbuf sb;
    size_t max;     /* the most bytes accepted */
    bool too_large; /* more than max bytes were offered: sb was released, later data ignored */
};

#define SB_BODY_INIT(limit)                                                                        \
    {                                                                                              \
        .sb = STRBUF_INIT, .max = (limit), .too_large = false                                      \
    }

/* Appends n bytes. 0; -ERR_TOO_LARGE when the body would exceed max (too_large is set,
 * the body so far freed, and every later call answers the same); or -ERR_NOMEM. */
int sb_body_add(struct sb_body *b, const void *data, size_t n);

/* A libcurl CURLOPT_WRITEFUNCTION with a struct sb_body * as CURLOPT_WRITEDATA: takes all
 * size*nmemb bytes, or returns 0 (libcurl then aborts the transfer) when the body became too
 * large or memory ran out. Needs no libcurl header, so it lives here with the buffer. */
size_t sb_body_curl_write(char *ptr, size_t size, size_t nmemb, void *userdata);

/* Reads the whole file at path (open O_RDONLY | O_CLOEXEC, read to end of file, so pipes
 * and /proc files work too) into a malloc'ed NUL-terminated *ret the caller free()s, its
 * length in *ret_len (NULL allowed). A file of more than max bytes is refused.
 * Returns 0; -ERR_IO ("PATH: cannot open: REASON" / "PATH: cannot read: REASON", errno
 * kept); -ERR_TOO_LARGE ("PATH: larger than MAX bytes", errno EFBIG); or -ERR_NOMEM. err (NULL
 * allowed) gets the sentence, field "". *ret and *ret_len are written only on success. */
int read_file(const char *path, size_t max, char **ret, size_t *ret_len, struct error *err);

#endif
