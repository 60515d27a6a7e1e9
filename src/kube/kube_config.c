/* Kubeconfig (YAML) and in-cluster service-account configuration for the Kubernetes client. */
#include "kube/kube.h"

#include "common/yaml_json.h"

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
    free(kc->cert_file);
    free(kc->cert_data);
    free(kc->key_file);
    if (kc->key_data) {
        sodium_memzero(kc->key_data, kc->key_len);
        free(kc->key_data);
    }
    free(kc);
}

/* Reads a whole small file; *ret is NUL-terminated and malloc'ed. */
static int read_file(const char *path, char **ret, size_t *ret_len, struct error *err)
{
    int rc = 0;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = fopen(path, "rbe");
    if (!f)
        return error_set(err, ERR_IO, path, "%s: %s", path, strerror(errno));
    buf = malloc(KUBECONFIG_MAX_BYTES + 1);
    if (!buf) {
        rc = error_set(err, ERR_NOMEM, path, "%s: out of memory", path);
        goto out;
    }
    len = fread(buf, 1, KUBECONFIG_MAX_BYTES + 1, f);
    if (ferror(f)) {
        rc = error_set(err, ERR_IO, path, "%s: read error", path);
        goto out;
    }
    if (len > KUBECONFIG_MAX_BYTES) {
        rc = error_set(err, ERR_TOO_LARGE, path, "%s: larger than %d bytes", path,
                       KUBECONFIG_MAX_BYTES);
        goto out;
    }
    buf[len] = '\0';
    *ret = buf;
    *ret_len = len;
    buf = NULL;
out:
    free(buf);
    fclose(f);
    return rc;
}

static const yaml_node_t *map_get(yaml_document_t *doc, const yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *k = yaml_document_get_node(doc, p->key);
        if (k && k->type == YAML_SCALAR_NODE && !strcmp((const char *)k->data.scalar.value, key))
            return yaml_document_get_node(doc, p->value);
    }
    return NULL;
}

static const char *scalar(const yaml_node_t *n)
{
    if (!n || n->type != YAML_SCALAR_NODE)
        return NULL;
    return (const char *)n->data.scalar.value;
}

/* In a list of {name: X, <inner>: {...}}, the <inner> mapping of the entry named `name`. */
static const yaml_node_t *named_entry(yaml_document_t *doc, const yaml_node_t *root,
                                      const char *list, const char *inner, const char *name)
{
    const yaml_node_t *seq = map_get(doc, root, list);
    if (!seq || seq->type != YAML_SEQUENCE_NODE)
        return NULL;
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top;
         it++) {
        const yaml_node_t *e = yaml_document_get_node(doc, *it);
        const char *n = scalar(map_get(doc, e, "name"));
        if (n && !strcmp(n, name))
            return map_get(doc, e, inner);
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
    char *tok = NULL;
    size_t len = 0;
    int rc = read_file(path, &tok, &len, err);
    if (rc)
        return rc;
    strip_trailing(tok);
    free(kc->token);
    kc->token = tok;
    return 0;
}

static bool truthy(const char *s)
{
    return s && (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "yes"));
}

int kube_config_parse(const char *text, size_t len, const char *dir, struct kube_config **ret,
                      struct error *err)
{
    int rc = 0;
    yaml_parser_t parser;
    yaml_document_t doc;
    bool have_doc = false;
    char *token_file = NULL;
    struct kube_config *kc = calloc(1, sizeof(*kc));
    if (!kc)
        return error_set(err, ERR_NOMEM, "", "out of memory");
    if (!yaml_parser_initialize(&parser)) {
        free(kc);
        return error_set(err, ERR_NOMEM, "", "out of memory");
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        rc = error_set(err, ERR_INVALID, "", "kubeconfig: line %zu: %s",
                       parser.problem_mark.line + 1,
                       parser.problem ? parser.problem : "invalid YAML");
        goto out;
    }
    have_doc = true;
    const yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root || root->type != YAML_MAPPING_NODE) {
        rc = error_set(err, ERR_INVALID, "", "kubeconfig: not a mapping");
        goto out;
    }
    /* map_get takes the first of two equal keys where kubectl may take the last: refuse. */
    if ((rc = yaml_unique_keys(&doc, "kubeconfig", err)) < 0)
        goto out;
    const char *cur = scalar(map_get(&doc, root, "current-context"));
    if (!cur || !cur[0]) {
        rc = error_set(err, ERR_INVALID, "current-context", "kubeconfig: no current-context");
        goto out;
    }
    const yaml_node_t *ctx = named_entry(&doc, root, "contexts", "context", cur);
    if (!ctx) {
        rc = error_set(err, ERR_INVALID, "contexts", "kubeconfig: context \"%s\" not found", cur);
        goto out;
    }
    const char *cluster_name = scalar(map_get(&doc, ctx, "cluster"));
    const char *user_name = scalar(map_get(&doc, ctx, "user"));
    const yaml_node_t *cl =
        cluster_name ? named_entry(&doc, root, "clusters", "cluster", cluster_name) : NULL;
    if (!cl) {
        rc = error_set(err, ERR_INVALID, "clusters", "kubeconfig: cluster \"%s\" not found",
                       cluster_name ? cluster_name : "");
        goto out;
    }
    const char *server = scalar(map_get(&doc, cl, "server"));
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
    if ((rc = dup_str(&kc->namespace_, scalar(map_get(&doc, ctx, "namespace")), err)) ||
        (rc = dup_path(&kc->ca_file, dir, scalar(map_get(&doc, cl, "certificate-authority")),
                       err)) ||
        (rc = dup_b64(&kc->ca_data, &kc->ca_len,
                      scalar(map_get(&doc, cl, "certificate-authority-data")),
                      "certificate-authority-data", err)))
        goto out;
    kc->insecure = truthy(scalar(map_get(&doc, cl, "insecure-skip-tls-verify")));

    const yaml_node_t *us = user_name ? named_entry(&doc, root, "users", "user", user_name) : NULL;
    if (user_name && !us) {
        rc = error_set(err, ERR_INVALID, "users", "kubeconfig: user \"%s\" not found", user_name);
        goto out;
    }
    if (us) {
        const char *tf = scalar(map_get(&doc, us, "tokenFile"));
        if (!tf)
            tf = scalar(map_get(&doc, us, "token-file"));
        if ((rc = dup_str(&kc->token, scalar(map_get(&doc, us, "token")), err)) ||
            (rc = dup_path(&token_file, dir, tf, err)) ||
            (rc = dup_path(&kc->cert_file, dir, scalar(map_get(&doc, us, "client-certificate")),
                           err)) ||
            (rc = dup_b64(&kc->cert_data, &kc->cert_len,
                          scalar(map_get(&doc, us, "client-certificate-data")),
                          "client-certificate-data", err)) ||
            (rc = dup_path(&kc->key_file, dir, scalar(map_get(&doc, us, "client-key")), err)) ||
            (rc = dup_b64(&kc->key_data, &kc->key_len, scalar(map_get(&doc, us, "client-key-data")),
                          "client-key-data", err)))
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
    yaml_parser_delete(&parser);
    kube_config_free(kc);
    return rc;
}

int kube_config_load_file(const char *path, struct kube_config **ret, struct error *err)
{
    char *text = NULL, *dir = NULL;
    size_t len = 0;
    int rc = read_file(path, &text, &len, err);
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
    if (read_file(path, &ns, &len, NULL) == 0) {
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
