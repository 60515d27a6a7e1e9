/* Password hashing with libsodium's argon2id string format. */
#include "common/password.h"

#include "common/error.h"

#include <sodium.h>
#include <string.h>

static int sodium_ready(void)
{
    /* sodium_init() is thread-safe and idempotent: 0 first time, 1 after, -1 on failure. */
    return sodium_init() >= 0;
}

int password_hash(const char *password, char *out, size_t out_size)
{
    if (!password || !out || out_size < crypto_pwhash_STRBYTES || out_size < PASSWORD_HASH_SIZE)
        return -ERR_INVALID;
    size_t len = strnlen(password, PASSWORD_MAX_LEN + 1);
    if (len == 0 || len > PASSWORD_MAX_LEN)
        return -ERR_INVALID;
    if (!sodium_ready())
        return -ERR_INTERNAL;
    char buf[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(buf, password, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return -ERR_NOMEM;
    memcpy(out, buf, sizeof(buf));
    out[out_size - 1] = '\0';
    return 0;
}

int password_verify(const char *hash, const char *password)
{
    if (!hash || !password || !sodium_ready())
        return 0;
    size_t len = strnlen(password, PASSWORD_MAX_LEN + 1);
    if (len == 0 || len > PASSWORD_MAX_LEN)
        return 0;
    if (strnlen(hash, crypto_pwhash_STRBYTES) >= crypto_pwhash_STRBYTES)
        return 0;
    return crypto_pwhash_str_verify(hash, password, len) == 0;
}
