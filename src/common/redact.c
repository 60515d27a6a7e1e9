/* URL credential redaction (see redact.h). */
#include "common/redact.h"

#include <string.h>

static int url_end_char(char c)
{
    return c == 0 || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '"' || c == '\'' ||
           c == '<' || c == '>';
}

/* Appends len bytes of s to out at *o, keeping room for the NUL. */
static void put(char *out, size_t n, size_t *o, const char *s, size_t len)
{
    while (len-- > 0 && *o + 1 < n)
        out[(*o)++] = *s++;
}

void redact_urls(const char *in, char *out, size_t n)
{
    size_t o = 0;
    if (!n)
        return;
    while (*in) {
        const char *sep = strstr(in, "://");
        if (!sep) {
            put(out, n, &o, in, strlen(in));
            break;
        }
        const char *auth = sep + 3;
        put(out, n, &o, in, (size_t)(auth - in));
        /* authority: up to '/', '?', '#' or the end of the URL */
        const char *p = auth;
        while (!url_end_char(*p) && *p != '/' && *p != '?' && *p != '#')
            p++;
        const char *at = NULL;
        for (const char *q = auth; q < p; q++)
            if (*q == '@')
                at = q;
        if (at) {
            put(out, n, &o, "***", 3);
            auth = at;
        }
        put(out, n, &o, auth, (size_t)(p - auth));
        /* path, then a query or fragment that is dropped */
        while (!url_end_char(*p) && *p != '?' && *p != '#')
            put(out, n, &o, p++, 1);
        if (*p == '?' || *p == '#') {
            put(out, n, &o, "?***", 4);
            while (!url_end_char(*p))
                p++;
        }
        in = p;
    }
    out[o] = 0;
}
