/* The notAfter of the kubeconfig's client certificate and the expiry of its bearer token when
 * it is a JWT (kube.h), for the reconciler's expiry metrics. */
#include "kube/kube.h"

#include "common/strbuf.h"

#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int kube_pem_not_after(const char *pem, size_t len, int64_t *ret); /* pem_not_after.c */

int kube_config_cert_not_after(const struct kube_config *kc, int64_t *ret, struct error *err)
{
    char *file_text = NULL;
    size_t len = kc->cert_len;
    const char *pem = kc->cert_data;
    int rc = 0;
    *ret = 0;
    if (!pem && !kc->cert_file)
        return 0; /* no client certificate: a token or nothing */
    if (!pem) {
        if ((rc = read_file(kc->cert_file, 1 << 20, &file_text, &len, err)) < 0)
            goto out;
        pem = file_text;
    }
    if (kube_pem_not_after(pem, len, ret) < 0)
        rc = error_set(err, ERR_INVALID, "client-certificate",
                       "the kubeconfig's client certificate is not a PEM X.509 certificate");
out:
    free(file_text);
    return rc;
}

int kube_config_token_expiry(const struct kube_config *kc, int64_t *ret)
{
    *ret = 0;
    const char *t = kc->token;
    const char *a = t ? strchr(t, '.') : NULL;
    const char *b = a ? strchr(a + 1, '.') : NULL;
    if (!b || b - a - 1 <= 0 || (size_t)(b - a - 1) > 8192 || strchr(b + 1, '.'))
        return 0; /* not a JWT: an opaque token carries no expiry we can read */
    size_t cap = (size_t)(b - a), n = 0;
    unsigned char *bin = malloc(cap + 1);
    if (!bin)
        return 0;
    int64_t exp = 0;
    if (sodium_base642bin(bin, cap, a + 1, (size_t)(b - a - 1), NULL, &n, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0) {
        json_t *claims = json_loadb((const char *)bin, n, 0, NULL);
        json_t *e = json_object_get(claims, "exp");
        if (json_is_integer(e) && json_integer_value(e) > 0)
            exp = (int64_t)json_integer_value(e);
        json_decref(claims);
    }
    sodium_memzero(bin, cap + 1);
    free(bin);
    *ret = exp;
    return 0;
}
