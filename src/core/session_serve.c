/* Settings for gpuaas-serve, session NO_PROXY, the workspace image check. See session_serve.h. */
#include "core/session_serve.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

static bool is_openshift(const struct config *c)
{
    return c->reconciler.platform && !strcmp(c->reconciler.platform, "openshift");
}

json_t *session_serve_data(const struct config *c, const struct reservation *r,
                           const char *home_claim, const char *home_mount, const char *models_claim,
                           const char *proxy_configmap, long run_as)
{
    char uid[24] = "";
    if (!is_openshift(c))
        snprintf(uid, sizeof(uid), "%ld", run_as);
    bool models = c->cache.enabled;
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "vllm_image",
                     str_or_empty(c->reconciler.serve_vllm_image), "ollama_image",
                     str_or_empty(c->reconciler.serve_ollama_image), "tgi_image",
                     str_or_empty(c->reconciler.serve_tgi_image), "triton_image",
                     str_or_empty(c->reconciler.serve_triton_image), "gpu_resource", r->gpu_type,
                     "home_claim", home_claim, "home_mount", home_mount, "models_claim",
                     models ? models_claim : "", "models_mount",
                     models ? str_or_empty(c->cache.mount_path) : "", "proxy_configmap",
                     proxy_configmap, "run_as_user", uid);
}

/* entry (len bytes) is one of the comma-separated entries of list */
static bool has_entry(const char *list, const char *entry, size_t len)
{
    const char *p = list;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        while (n && p[n - 1] == ' ')
            n--;
        if (n == len && !strncmp(p, entry, len))
            return true;
        if (!e)
            break;
        p = e + 1;
    }
    return false;
}

int session_no_proxy(const struct config *c, const char *ns, char *buf, size_t n)
{
    char svc[96];
    snprintf(svc, sizeof(svc), ".%s.svc", ns);
    const char *add[] = {"localhost", "127.0.0.1", "::1", ".svc", ".cluster.local", svc};
    const char *own = str_or_empty(c->reconciler.no_proxy);
    int w = snprintf(buf, n, "%s", own);
    if (w < 0 || (size_t)w >= n)
        return -ERR_INVALID;
    size_t len = (size_t)w;
    for (size_t i = 0; i < sizeof(add) / sizeof(add[0]); i++) {
        if (has_entry(own, add[i], strlen(add[i])))
            continue;
        w = snprintf(buf + len, n - len, "%s%s", len ? "," : "", add[i]);
        if (w < 0 || (size_t)w >= n - len)
            return -ERR_INVALID;
        len += (size_t)w;
    }
    return 0;
}

int session_check_workspace_image(const struct config *c, struct error *err)
{
    const char *img = str_or_empty(c->reconciler.workspace_image);
    static const char *const placeholders[] = {"registry.example.com/", "example.com/",
                                               "example.org/", "quay.io/gpuaas/workspace"};
    for (size_t i = 0; i < sizeof(placeholders) / sizeof(placeholders[0]); i++) {
        const char *at = strstr(img, placeholders[i]);
        if (at && (at == img || at[-1] == '.' || at[-1] == '/'))
            return error_set(err, ERR_INVALID, "reconciler.workspace_image",
                             "reconciler.workspace_image: \"%s\" is a placeholder that no "
                             "registry serves: build deploy/workspace/Containerfile, push it and "
                             "name it here (docs/install.md, \"Workspace image\")",
                             img);
    }
    if (!is_openshift(c) && !strncmp(img, "image-registry.openshift-image-registry.svc", 43))
        return error_set(err, ERR_INVALID, "reconciler.workspace_image",
                         "reconciler.workspace_image: \"%s\" is OpenShift's in-cluster registry "
                         "but reconciler.platform is \"%s\": build deploy/workspace/Containerfile, "
                         "push it and name it here (docs/install.md, \"Workspace image\")",
                         img, str_or_empty(c->reconciler.platform));
    return 0;
}
