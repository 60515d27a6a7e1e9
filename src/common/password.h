/* Password hashing: argon2id strings (libsodium crypto_pwhash_str), shared by the server's
 * login and the offline `gpuaas user` tools. */
#ifndef GPUAAS_COMMON_PASSWORD_H
#define GPUAAS_COMMON_PASSWORD_H

#include <stddef.h>

/* Longest password accepted, in bytes. */
#define PASSWORD_MAX_LEN 1024
/* Size of a buffer that holds any hash string written by password_hash (NUL included). */
#define PASSWORD_HASH_SIZE 128

/* Hashes `password` (1..PASSWORD_MAX_LEN bytes) into out (out_size >= PASSWORD_HASH_SIZE,
 * NUL-terminated). Uses interactive argon2id limits. Returns 0, -ERR_INVALID for an empty or
 * oversized password or a small buffer, -ERR_NOMEM when the hash could not be computed. */
int password_hash(const char *password, char *out, size_t out_size);

/* 1 when `password` matches `hash` (a crypto_pwhash_str string), 0 otherwise (also for a
 * malformed hash, an empty or oversized password). Constant in the password's content. */
int password_verify(const char *hash, const char *password);

#endif
