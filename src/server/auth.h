/* Authentication primitives: argon2id password hashes, API tokens and the failed-login
 * rate limiter. Tokens look like "gpa_<id>_<secret>" where secret is 32 random bytes in
 * unpadded base64url; only BLAKE2b-256 of the secret is stored and compared in constant
 * time. Requires sodium_init() to have succeeded. */
#ifndef GPUAAS_SERVER_AUTH_H
#define GPUAAS_SERVER_AUTH_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_HASH_LEN 32
#define AUTH_SECRET_TEXT 64 /* base64url of 32 bytes plus NUL, rounded up */
#define AUTH_TOKEN_TEXT 96  /* "gpa_" + id + "_" + secret + NUL */

/* argon2id hash of password into out (at least 128 bytes). 0 or -ERR_NOMEM. */
int auth_hash_password(const char *password, char *out, size_t outsz);
/* True when password matches hash. A NULL hash checks against a dummy hash so that a
 * missing user costs the same time as a wrong password, and returns false. */
bool auth_verify_password(const char *hash, const char *password);
/* A random password of 24 base64url characters into out (at least 33 bytes). */
void auth_random_password(char *out, size_t outsz);

/* A fresh secret: its text (AUTH_SECRET_TEXT bytes) and hash. */
void auth_new_secret(char *text, uint8_t hash[AUTH_HASH_LEN]);
/* Formats the token shown to the user into out (AUTH_TOKEN_TEXT bytes). */
void auth_format_token(int64_t id, const char *secret_text, char *out);
/* Splits a presented token into its id and the hash of its secret. 0 or -ERR_UNAUTH. */
int auth_parse_token(const char *token, int64_t *ret_id, uint8_t ret_hash[AUTH_HASH_LEN]);
/* The same shape with another prefix: "gpa_" API tokens, "wst_" workspace tickets, "wsc_"
 * workspace cookies (src/server/gate.c). A secret of one kind never parses as another. */
#define AUTH_PREFIX_TOKEN "gpa_"
void auth_format_secret(const char *prefix, int64_t id, const char *secret_text, char *out);
int auth_parse_secret(const char *prefix, const char *text, int64_t *ret_id,
                      uint8_t ret_hash[AUTH_HASH_LEN]);
/* Constant-time comparison of two hashes. */
bool auth_hash_equal(const uint8_t a[AUTH_HASH_LEN], const uint8_t b[AUTH_HASH_LEN]);

/* Failed-login limiter over keys ("user:alice", "addr:10.0.0.1"): at most max_failures
 * within window seconds. Bounded table; the oldest entry is evicted when full. */
#define AUTH_LIMIT_SLOTS 4096
struct auth_limiter {
    pthread_mutex_t lock;
    long max_failures;
    long window;
    struct auth_limit_slot {
        char key[80];
        int64_t window_start;
        long failures;
    } slots[AUTH_LIMIT_SLOTS];
};
void auth_limiter_init(struct auth_limiter *l, long max_failures, long window_seconds);
void auth_limiter_destroy(struct auth_limiter *l);
/* 0 when key may try now, else the seconds to wait (> 0). */
long auth_limiter_check(struct auth_limiter *l, const char *key, int64_t now);
void auth_limiter_fail(struct auth_limiter *l, const char *key, int64_t now);
void auth_limiter_reset(struct auth_limiter *l, const char *key);

#endif
