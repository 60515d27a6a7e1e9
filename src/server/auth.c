/* Passwords, tokens and the failed-login limiter (see auth.h). */
#include "common/password.h"
#include "server/auth.h"

#include "common/error.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int auth_hash_password(const char *password, char *out, size_t outsz)
{
    return password_hash(password, out, outsz);
}

static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char dummy_hash[crypto_pwhash_STRBYTES];

static void make_dummy(void)
{
    char pw[33];
    auth_random_password(pw, sizeof(pw));
    if (auth_hash_password(pw, dummy_hash, sizeof(dummy_hash)) < 0)
        dummy_hash[0] = 0;
}

bool auth_verify_password(const char *hash, const char *password)
{
    if (!hash || !*hash) {
        pthread_once(&dummy_once, make_dummy);
        if (dummy_hash[0] && crypto_pwhash_str_verify(dummy_hash, password, strlen(password)) == 0)
            return false; /* the dummy never authenticates anyone */
        return false;
    }
    return password_verify(hash, password) == 1;
}

void auth_random_password(char *out, size_t outsz)
{
    unsigned char raw[18];
    char text[sodium_base64_ENCODED_LEN(18, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(text, sizeof(text), raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    snprintf(out, outsz, "%s", text);
    sodium_memzero(raw, sizeof(raw));
}

void auth_new_secret(char *text, uint8_t hash[AUTH_HASH_LEN])
{
    unsigned char raw[32];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(text, AUTH_SECRET_TEXT, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    crypto_generichash(hash, AUTH_HASH_LEN, raw, sizeof(raw), NULL, 0);
    sodium_memzero(raw, sizeof(raw));
}

void auth_format_token(int64_t id, const char *secret_text, char *out)
{
    auth_format_secret(AUTH_PREFIX_TOKEN, id, secret_text, out);
}

int auth_parse_token(const char *token, int64_t *ret_id, uint8_t ret_hash[AUTH_HASH_LEN])
{
    return auth_parse_secret(AUTH_PREFIX_TOKEN, token, ret_id, ret_hash);
}

void auth_format_secret(const char *prefix, int64_t id, const char *secret_text, char *out)
{
    snprintf(out, AUTH_TOKEN_TEXT, "%s%" PRId64 "_%s", prefix, id, secret_text);
}

int auth_parse_secret(const char *prefix, const char *token, int64_t *ret_id,
                      uint8_t ret_hash[AUTH_HASH_LEN])
{
    size_t np = strlen(prefix);
    if (!token || strncmp(token, prefix, np) != 0)
        return -ERR_UNAUTH;
    const char *p = token + np;
    int64_t id = 0;
    int digits = 0;
    while (*p >= '0' && *p <= '9' && digits < 18) {
        id = id * 10 + (*p - '0');
        p++;
        digits++;
    }
    if (digits == 0 || *p != '_' || id <= 0)
        return -ERR_UNAUTH;
    p++;
    unsigned char raw[32];
    size_t rawlen = 0;
    const char *end = NULL;
    if (strlen(p) != 43 ||
        sodium_base642bin(raw, sizeof(raw), p, strlen(p), NULL, &rawlen, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        rawlen != sizeof(raw) || (end && *end))
        return -ERR_UNAUTH;
    crypto_generichash(ret_hash, AUTH_HASH_LEN, raw, sizeof(raw), NULL, 0);
    sodium_memzero(raw, sizeof(raw));
    *ret_id = id;
    return 0;
}

bool auth_hash_equal(const uint8_t a[AUTH_HASH_LEN], const uint8_t b[AUTH_HASH_LEN])
{
    return sodium_memcmp(a, b, AUTH_HASH_LEN) == 0;
}

void auth_limiter_init(struct auth_limiter *l, long max_failures, long window_seconds)
{
    memset(l->slots, 0, sizeof(l->slots));
    pthread_mutex_init(&l->lock, NULL);
    l->max_failures = max_failures;
    l->window = window_seconds;
}

void auth_limiter_destroy(struct auth_limiter *l)
{
    pthread_mutex_destroy(&l->lock);
}

/* The slot for key, or NULL. Caller holds the lock. */
static struct auth_limit_slot *find_slot(struct auth_limiter *l, const char *key)
{
    for (size_t i = 0; i < AUTH_LIMIT_SLOTS; i++)
        if (l->slots[i].key[0] && !strcmp(l->slots[i].key, key))
            return &l->slots[i];
    return NULL;
}

long auth_limiter_check(struct auth_limiter *l, const char *key, int64_t now)
{
    long wait = 0;
    pthread_mutex_lock(&l->lock);
    struct auth_limit_slot *s = find_slot(l, key);
    if (s && now - s->window_start < l->window && s->failures >= l->max_failures)
        wait = (long)(s->window_start + l->window - now);
    pthread_mutex_unlock(&l->lock);
    return wait > 0 ? wait : 0;
}

void auth_limiter_fail(struct auth_limiter *l, const char *key, int64_t now)
{
    pthread_mutex_lock(&l->lock);
    struct auth_limit_slot *s = find_slot(l, key);
    if (!s) {
        struct auth_limit_slot *oldest = &l->slots[0];
        for (size_t i = 0; i < AUTH_LIMIT_SLOTS; i++) {
            if (!l->slots[i].key[0]) {
                oldest = &l->slots[i];
                break;
            }
            if (l->slots[i].window_start < oldest->window_start)
                oldest = &l->slots[i];
        }
        s = oldest;
        snprintf(s->key, sizeof(s->key), "%s", key);
        s->window_start = now;
        s->failures = 0;
    }
    if (now - s->window_start >= l->window) {
        s->window_start = now;
        s->failures = 0;
    }
    s->failures++;
    pthread_mutex_unlock(&l->lock);
}

void auth_limiter_reset(struct auth_limiter *l, const char *key)
{
    pthread_mutex_lock(&l->lock);
    struct auth_limit_slot *s = find_slot(l, key);
    if (s)
        memset(s, 0, sizeof(*s));
    pthread_mutex_unlock(&l->lock);
}
