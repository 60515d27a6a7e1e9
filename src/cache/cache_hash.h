/* SHA-256 for the node cache: OpenSSL's libcrypto, which uses the CPU's SHA extensions
 * (x86 SHA-NI, ARMv8 SHA2) where present, several times faster than portable C.
 *
 * Ownership: chash_new() returns a context the caller releases with chash_free() (NULL-safe).
 * A context is used by one thread at a time. */
#ifndef GPUAAS_CACHE_HASH_H
#define GPUAAS_CACHE_HASH_H

#include <stddef.h>

struct chash;

/* A fresh SHA-256 context, or NULL on ENOMEM. */
struct chash *chash_new(void);
void chash_free(struct chash *h);
/* Returns 0, or -1 when the library refuses (never expected once chash_new succeeded). */
int chash_update(struct chash *h, const void *buf, size_t len);
/* Writes the digest as 64 lowercase hex digits and a NUL; the context is spent afterwards. */
int chash_final_hex(struct chash *h, char hex[65]);

#endif
