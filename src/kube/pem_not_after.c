/* OpenSSL apart: its ERR_STATE clashes with common/error.h, so this file includes neither of
 * the project's headers that use it. Declared in kube_cert.c. */
#include <openssl/asn1.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

int kube_pem_not_after(const char *pem, size_t len, int64_t *ret);

/* *ret = notAfter (unix seconds) of the first certificate of PEM text; 0, or -1 when none. */
int kube_pem_not_after(const char *pem, size_t len, int64_t *ret)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    struct tm tm;
    int rc = -1;
    if (x && ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1) {
        *ret = (int64_t)timegm(&tm);
        rc = 0;
    }
    X509_free(x);
    BIO_free(bio);
    return rc;
}
