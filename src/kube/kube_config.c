/* Kubeconfig (YAML) and in-cluster service-account configuration for the Kubernetes client. */
#include "kube/kube.h"

#include "common/strbuf.h"
#include "common/yaml_json.h"
#include "common/yaml_walk.h"

#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define KUBECONFIG_MAX_BYTES (4 * 1024 * 1024)
#define SA_ROOT "/var/run/secrets/kubernetes.io/serviceaccount"

void kube_config_free(struct kube_config *kc)
{
    if (!kc)
        return;
    free(kc->server);
    free(kc->namespace_);
    free(kc->ca_file);
    free(kc->ca_data);
    if (kc->token) {
        sodium_memzero(kc->token, strlen(kc->token));
        free(kc->token);
    }
    free(kc->token_file);
    free(kc->cert_file);
    free(kc->cert_data);
    free(kc->key_file);
    if (kc->key_data) {
        sodium_memzero(kc->key_data, kc->key_len);
        free(kc->key_data);
    }
    free(kc);
}

/* A whole small file (at most KUBECONFIG_MAX_BYTES), NUL-terminated; err->field is the path. */
static int read_small(const char *path, char **ret, size_t *ret_len, struct error *err)
{
    int rc = read_file(path, KUBECONFIG_MAX_BYTES, ret, ret_len, err);
    if (rc < 0 && err)
        snprintf(err->field, sizeof(err->field), "%s", path);
    return rc;
}

/* In a list of {name: X, <inner>: {...}}, the <inner> mapping of the entry named `name`. */
static const yaml_node_t *named_entry(yaml_document_t *doc, const yaml_node_t *root,
                                      const char *list, const char *inner, const char *name)
{
    const yaml_node_t *seq = yw_get(doc, root, list);
    if (!yw_is_seq(seq))
        return NULL;
    YW_FOR_ITEMS(it, seq)
    {
        const yaml_node_t *e = yw_item(doc, it);
        const char *n = yw_scalar(yw_get(doc, e, "name"));
        if (n && !strcmp(n, name))
            return yw_get(doc, e, inner);
    }
    return NULL;
}

static int dup_str(char **dst, const char *s, struct error *err)
{
    if (!s)
        return 0;
    *dst = strdup(s);
    return *dst ? 0 : error_set(err, ERR_NOMEM, "", "out of memory");
}

/* dir/path unless path is absolute or dir is NULL. */
static int dup_path(char **dst, const char *dir, const char *path, struct error *err)
{
    if (!path)
        return 0;
    if (path[0] == '/' || !dir || !dir[0])
        return dup_str(dst, path, err);
    if (asprintf(dst, "%s/%s", dir, path) < 0) {
        *dst = NULL;
        return error_set(err, ERR_NOMEM, "", "out of memory");
    }
    return 0;
}

static int dup_b64(char **dst, size_t *dst_len, const char *b64, const char *key, struct error *err)
{
    if (!b64)
        return 0;
    size_t cap = strlen(b64) / 4 * 3 + 4;
    unsigned char *bin = malloc(cap + 1);
    size_t n = 0;
    if (!bin)
        return error_set(err, ERR_NOMEM, key, "out of memory");
    if (sodium_base642bin(bin, cap, b64, strlen(b64), " \t\r\n", &n, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        free(bin);
        return error_set(err, ERR_INVALID, key, "kubeconfig: %s is not valid base64", key);
    }
    bin[n] = '\0';
    *dst = (char *)bin;
    *dst_len = n;
    return 0;
}

static void strip_trailing(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
        s[--n] = '\0';
}

static int load_token_file(struct kube_config *kc, const char *path, struct error *err)
{
    char *tok = NULL, *file = NULL;
    size_t len = 0;
    int rc = read_small(path, &tok, &len, err);
    if (rc)
        return rc;
    strip_trailing(tok);
    if (kc->token_file != path && !(file = strdup(path))) {
        sodium_memzero(tok, strlen(tok));
        free(tok);
        return error_set(err, ERR_NOMEM, "", "out of memory");
    }
    if (kc->token) {
        sodium_memzero(kc->token, strlen(kc->token));
        free(kc->token);
    }
    kc->token = tok;
    if (file) {
        free(kc->token_file);
        kc->token_file = file;
    }
    return 0;
}

int kube_config_reload_token(struct kube_config *kc, struct error *err)
{
    if (!kc->token_file)
        return 0;
    char *old = kc->token ? strdup(kc->token) : NULL;
    if (kc->token && !old)
        return error_set(err, ERR_NOMEM, "", "out of memory");
    int rc = load_token_file(kc, kc->token_file, err);
    if (rc == 0)
        rc = !old || strcmp(old, kc->token);
    if (old) {
        sodium_memzero(old, strlen(old));
        free(old);
    }
    return rc;
}

static bool truthy(const char *s)
{
    return s && (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "yes"));
}

int kube_config_parse(const char *text, size_t len, const char *dir, struct kube_config **ret,
                      struct error *err)
{
    int rc = 0;
    yaml_document_t doc;
    struct yw_problem pb;
    bool have_doc = false;
    char *token_file = NULL;
    struct kube_config *kc = calloc(1, sizeof(*kc));
    if (!kc)
        return error_set(err, ERR_NOMEM, "", "out of memory");
    if ((rc = yw_load(text, len, &doc, &pb)) < 0) {
        if (rc == -ERR_NOMEM)
            rc = error_set(err, ERR_NOMEM, "", "out of memory");
        else
            rc = error_set(err, ERR_INVALID, "", "kubeconfig: line %zu: %s", pb.line,
                           pb.reason ? pb.reason : "invalid YAML");
        goto out;
    }
    have_doc = true;
    const yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!yw_is_map(root)) {
        rc = error_set(err, ERR_INVALID, "", "kubeconfig: not a mapping");
        goto out;
    }
    /* yw_get takes the first of two equal keys where kubectl may take the last: refuse. */
    if ((rc = yaml_unique_keys(&doc, "kubeconfig", err)) < 0)
        goto out;
    const char *cur = yw_scalar(yw_get(&doc, root, "current-context"));
    if (!cur || !cur[0]) {
        rc = error_set(err, ERR_INVALID, "current-context", "kubeconfig: no current-context");
        goto out;
    }
    const yaml_node_t *ctx = named_entry(&doc, root, "contexts", "context", cur);
    if (!ctx) {
        rc = error_set(err, ERR_INVALID, "contexts", "kubeconfig: context \"%s\" not found", cur);
        goto out;
    }
    const char *cluster_name = yw_scalar(yw_get(&doc, ctx, "cluster"));
    const char *user_name = yw_scalar(yw_get(&doc, ctx, "user"));
    const yaml_node_t *cl =
        cluster_name ? named_entry(&doc, root, "clusters", "cluster", cluster_name) : NULL;
    if (!cl) {
        rc = error_set(err, ERR_INVALID, "clusters", "kubeconfig: cluster \"%s\" not found",
                       cluster_name ? cluster_name : "");
        goto out;
    }
    const char *server = yw_scalar(yw_get(&doc, cl, "server"));
    if (!server || (strncmp(server, "https://", 8) && strncmp(server, "http://", 7))) {
        rc = error_set(err, ERR_INVALID, "server",
                       "kubeconfig: cluster \"%s\": server must be an http(s) URL", cluster_name);
        goto out;
    }
    if ((rc = dup_str(&kc->server, server, err)))
        goto out;
    size_t sl = strlen(kc->server);
    while (sl && kc->server[sl - 1] == '/')
        kc->server[--sl] = '\0';
    if ((rc = dup_str(&kc->namespace_, yw_scalar(yw_get(&doc, ctx, "namespace")), err)) ||
        (rc = dup_path(&kc->ca_file, dir, yw_scalar(yw_get(&doc, cl, "certificate-authority")),
                       err)) ||
        (rc = dup_b64(&kc->ca_data, &kc->ca_len,
                      yw_scalar(yw_get(&doc, cl, "certificate-authority-data")),
                      "certificate-authority-data", err)))
        goto out;
    kc->insecure = truthy(yw_scalar(yw_get(&doc, cl, "insecure-skip-tls-verify")));

    const yaml_node_t *us = user_name ? named_entry(&doc, root, "users", "user", user_name) : NULL;
    if (user_name && !us) {
        rc = error_set(err, ERR_INVALID, "users", "kubeconfig: user \"%s\" not found", user_name);
        goto out;
    }
    if (us) {
        const char *tf = yw_scalar(yw_get(&doc, us, "tokenFile"));
        if (!tf)
            tf = yw_scalar(yw_get(&doc, us, "token-file"));
        if ((rc = dup_str(&kc->token, yw_scalar(yw_get(&doc, us, "token")), err)) ||
            (rc = dup_path(&token_file, dir, tf, err)) ||
            (rc = dup_path(&kc->cert_file, dir, yw_scalar(yw_get(&doc, us, "client-certificate")),
                           err)) ||
            (rc = dup_b64(&kc->cert_data, &kc->cert_len,
                          yw_scalar(yw_get(&doc, us, "client-certificate-data")),
                          "client-certificate-data", err)) ||
            (rc = dup_path(&kc->key_file, dir, yw_scalar(yw_get(&doc, us, "client-key")), err)) ||
            (rc = dup_b64(&kc->key_data, &kc->key_len,
                          yw_scalar(yw_get(&doc, us, "client-key-data")), "client-key-data", err)))
            goto out;
        if (!kc->token && token_file && (rc = load_token_file(kc, token_file, err)))
            goto out;
        if ((kc->cert_file || kc->cert_data) != (kc->key_file || kc->key_data)) {
            rc = error_set(err, ERR_INVALID, "client-key",
                           "kubeconfig: user \"%s\": client certificate and key go together",
                           user_name);
            goto out;
        }
    }
    *ret = kc;
    kc = NULL;
out:
    free(token_file);
    if (have_doc)
        yaml_document_delete(&doc);
    kube_config_free(kc);
    return rc;
}

int kube_config_load_file(const char *path, struct kube_config **ret, struct error *err)
{
    char *text = NULL, *dir = NULL;
    size_t len = 0;
    int rc = read_small(path, &text, &len, err);
    if (rc)
        return rc;
    dir = strdup(path);
    if (!dir) {
        rc = error_set(err, ERR_NOMEM, "", "out of memory");
        goto out;
    }
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        strcpy(dir, ".");
    rc = kube_config_parse(text, len, dir, ret, err);
out:
    free(dir);
    free(text);
    return rc;
}

int kube_config_in_cluster(const char *root, struct kube_config **ret, struct error *err)
{
    int rc = 0;
    char path[PATH_MAX];
    char *ns = NULL;
    size_t len = 0;
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    if (!root)
        root = SA_ROOT;
    if (!host || !host[0])
        return error_set(err, ERR_INVALID, "KUBERNETES_SERVICE_HOST",
                         "not running in a cluster: KUBERNETES_SERVICE_HOST is not set and no "
                         "kubeconfig was given");
    struct kube_config *kc = calloc(1, sizeof(*kc));
    if (!kc)
        return error_set(err, ERR_NOMEM, "", "out of memory");
    bool v6 = strchr(host, ':') != NULL;
    if (asprintf(&kc->server, "https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "",
                 port && port[0] ? port : "443") < 0) {
        kc->server = NULL;
        rc = error_set(err, ERR_NOMEM, "", "out of memory");
        goto out;
    }
    snprintf(path, sizeof(path), "%s/token", root);
    if ((rc = load_token_file(kc, path, err)))
        goto out;
    snprintf(path, sizeof(path), "%s/ca.crt", root);
    if ((rc = dup_str(&kc->ca_file, path, err)))
        goto out;
    snprintf(path, sizeof(path), "%s/namespace", root);
    if (read_small(path, &ns, &len, NULL) == 0) {
        strip_trailing(ns);
        kc->namespace_ = ns;
    }
    *ret = kc;
    kc = NULL;
out:
    kube_config_free(kc);
    return rc;
}

int kube_config_resolve(const char *path, struct kube_config **ret, struct error *err)
{
    if (path && path[0])
        return kube_config_load_file(path, ret, err);
    const char *env = getenv("KUBECONFIG");
    if (env && env[0]) {
        /* First entry of a colon-separated list. */
        char first[PATH_MAX];
        snprintf(first, sizeof(first), "%s", env);
        char *colon = strchr(first, ':');
        if (colon)
            *colon = '\0';
        return kube_config_load_file(first, ret, err);
    }
    return kube_config_in_cluster(NULL, ret, err);
}
