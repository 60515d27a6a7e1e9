/* SHA-256 through OpenSSL's EVP interface (see cache_hash.h). */
#include "cache/cache_hash.h"

#include <openssl/evp.h>
#include <stdlib.h>

struct chash {
    EVP_MD_CTX *ctx;
};

struct chash *chash_new(void)
{
    struct chash *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->ctx = EVP_MD_CTX_new();
    if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
        chash_free(h);
        return NULL;
    }
    return h;
}

void chash_free(struct chash *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->ctx);
    free(h);
}

int chash_update(struct chash *h, const void *buf, size_t len)
{
    return EVP_DigestUpdate(h->ctx, buf, len) == 1 ? 0 : -1;
}

int chash_final_hex(struct chash *h, char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(h->ctx, md, &n) != 1 || n != 32)
        return -1;
    for (unsigned int i = 0; i < n; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
    return 0;
}
