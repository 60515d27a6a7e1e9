/* Quantity parsing: decimal and binary SI suffixes and decimal exponents, fixed point. */
#include "kubesim/quantity.h"
#include "common/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

static int mul_checked(int64_t a, int64_t b, int64_t *ret)
{
    if (__builtin_mul_overflow(a, b, ret))
        return -ERR_INVALID;
    return 0;
}

int ksim_qty_parse(const char *s, int64_t *ret_milli)
{
    if (!s || !*s)
        return -ERR_INVALID;
    const char *p = s;
    int neg = 0;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    int64_t ip = 0, frac = 0, fdiv = 1;
    int digits = 0;
    while (isdigit((unsigned char)*p)) {
        if (mul_checked(ip, 10, &ip) || __builtin_add_overflow(ip, *p - '0', &ip))
            return -ERR_INVALID;
        p++, digits++;
    }
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p)) {
            if (fdiv < 1000000000000LL) {
                frac = frac * 10 + (*p - '0');
                fdiv *= 10;
            }
            p++, digits++;
        }
    }
    if (!digits)
        return -ERR_INVALID;
    /* Scale: value = (ip + frac/fdiv) * num / den, in milli-units. */
    int64_t num = 1000, den = 1;
    static const struct {
        const char *suf;
        int64_t num, den;
    } sufs[] = {{"Ki", 1024LL * 1000, 1},
                {"Mi", 1048576LL * 1000, 1},
                {"Gi", 1073741824LL * 1000, 1},
                {"Ti", 1099511627776LL * 1000, 1},
                {"Pi", 1125899906842624LL * 1000, 1},
                {"Ei", 1152921504606846976LL, 1}, /* overflows for >= 8Ei: fine */
                {"n", 1, 1000000},
                {"u", 1, 1000},
                {"m", 1, 1},
                {"k", 1000LL * 1000, 1},
                {"M", 1000000LL * 1000, 1},
                {"G", 1000000000LL * 1000, 1},
                {"T", 1000000000000LL * 1000, 1},
                {"P", 1000000000000000LL * 1000, 1},
                {"E", 1000000000000000000LL, 1}};
    if (*p == 'e' || *p == 'E') {
        if (p[1] == '\0' && *p == 'E') {
            num = 1000000000000000000LL; /* exa; times 1000 overflows below unless tiny */
            if (mul_checked(num, 1000, &num))
                return -ERR_INVALID;
            p++;
        } else {
            char *end;
            long e = strtol(p + 1, &end, 10);
            if (end == p + 1 || *end || e > 18 || e < -9)
                return -ERR_INVALID;
            for (long i = 0; i < e; i++)
                if (mul_checked(num, 10, &num))
                    return -ERR_INVALID;
            for (long i = 0; i > e; i--)
                den *= 10;
            p = end;
        }
    } else if (*p) {
        size_t i;
        for (i = 0; i < ARRAY_SIZE(sufs); i++)
            if (!strcmp(p, sufs[i].suf))
                break;
        if (i == ARRAY_SIZE(sufs))
            return -ERR_INVALID;
        num = sufs[i].num;
        den = sufs[i].den;
        if (!strcmp(p, "Ei") && mul_checked(num, 1000, &num))
            return -ERR_INVALID;
    }
    int64_t v;
    if (mul_checked(ip, num, &v))
        return -ERR_INVALID;
    /* fractional part, rounded up like the real parser */
    __int128 f = (__int128)frac * num;
    int64_t fq = (int64_t)(f / fdiv) + ((f % fdiv) ? 1 : 0);
    if (__builtin_add_overflow(v, fq, &v))
        return -ERR_INVALID;
    v = v / den + ((v % den) ? 1 : 0);
    *ret_milli = neg ? -v : v;
    return 0;
}

char *ksim_qty_format(int64_t milli, char *buf, unsigned len)
{
    if (milli % 1000) {
        snprintf(buf, len, "%lldm", (long long)milli);
        return buf;
    }
    int64_t v = milli / 1000;
    static const char *bin[] = {"Ki", "Mi", "Gi", "Ti", "Pi"};
    int k = -1;
    int64_t u = v;
    while (u && u % 1024 == 0 && k < 4 && (u >= 1024 || u <= -1024)) {
        u /= 1024;
        k++;
    }
    if (k >= 0 && v >= 1024)
        snprintf(buf, len, "%lld%s", (long long)u, bin[k]);
    else
        snprintf(buf, len, "%lld", (long long)v);
    return buf;
}
