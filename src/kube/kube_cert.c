/* The notAfter of the kubeconfig's client certificate (kube.h), for the reconciler's
 * certificate expiry metric. */
#include "kube/kube.h"

#include "common/strbuf.h"

#include <stdlib.h>

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
