/* The pre-pull objects for the configured images (see prepull.h). */
#include "core/prepull.h"

#include <string.h>

size_t prepull_images(const struct config *c, struct prepull_image out[PREPULL_MAX])
{
    const struct prepull_image all[] = {
        {"reconciler.workspace_image", "workspace", c->reconciler.workspace_image},
        {"reconciler.serve_vllm_image", "vllm", c->reconciler.serve_vllm_image},
        {"reconciler.serve_ollama_image", "ollama", c->reconciler.serve_ollama_image},
        {"reconciler.serve_tgi_image", "tgi", c->reconciler.serve_tgi_image},
        {"reconciler.serve_triton_image", "triton", c->reconciler.serve_triton_image},
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]) && n < PREPULL_MAX; i++) {
        if (!all[i].image || !all[i].image[0])
            continue;
        int dup = 0;
        for (size_t j = 0; j < n; j++)
            dup |= !strcmp(out[j].image, all[i].image);
        if (!dup)
            out[n++] = all[i];
    }
    return n;
}

static json_t *container_security(const struct config *c)
{
    json_t *sc =
        json_pack("{s:b, s:b, s:b, s:{s:[s]}}", "allowPrivilegeEscalation", 0,
                  "readOnlyRootFilesystem", 1, "runAsNonRoot", 1, "capabilities", "drop", "ALL");
    /* OpenShift's restricted SCC picks the UID from the namespace's range; elsewhere the
     * engine images that default to root need one set, or runAsNonRoot refuses them */
    if (sc && strcmp(c->reconciler.platform, "openshift")) {
        json_object_set_new(sc, "runAsUser", json_integer(65534));
        json_object_set_new(sc, "runAsGroup", json_integer(65534));
    }
    return sc;
}

static json_t *container(const struct config *c, const char *name, const char *image,
                         const char *cmd)
{
    return json_pack("{s:s, s:s, s:s, s:[s,s,s], s:{s:{s:s,s:s}, s:{s:s,s:s}}, s:o}", "name", name,
                     "image", image, "imagePullPolicy", "IfNotPresent", "command", "sh", "-c", cmd,
                     "resources", "requests", "cpu", "1m", "memory", "8Mi", "limits", "cpu", "50m",
                     "memory", "32Mi", "securityContext", container_security(c));
}

json_t *prepull_daemonset(const struct config *c, const char *ns)
{
    struct prepull_image im[PREPULL_MAX] = {0};
    size_t n = prepull_images(c, im);
    json_t *inits = json_array();
    for (size_t i = 0; inits && i < n; i++) {
        char name[64];
        snprintf(name, sizeof(name), "pull-%s", im[i].short_name);
        /* runs and exits at once: the point is that the kubelet pulled the image */
        json_array_append_new(inits, container(c, name, im[i].image, "exit 0"));
    }
    /* the pod stays so that the images stay in use; it sleeps in the first image */
    json_t *main = n ? container(c, "hold", im[0].image, "exec sleep infinity") : NULL;
    json_t *labels = json_pack("{s:s, s:s}", "app.kubernetes.io/name", "gpuaas",
                               "app.kubernetes.io/component", "prepull");
    json_t *ds = json_pack(
        "{s:s, s:s, s:{s:s, s:s, s:O}, s:{s:{s:O}, s:{s:s, s:{s:s}}, s:{s:{s:O}, s:{s:b, "
        "s:i, s:{s:s}, s:[{s:s, s:s, s:s}], s:{s:b, s:{s:s}}, s:o, s:[o]}}}}",
        "apiVersion", "apps/v1", "kind", "DaemonSet", "metadata", "name", "gpuaas-prepull",
        "namespace", ns, "labels", labels, "spec", "selector", "matchLabels", labels,
        "updateStrategy", "type", "RollingUpdate", "rollingUpdate", "maxUnavailable", "100%",
        "template", "metadata", "labels", labels, "spec", "automountServiceAccountToken", 0,
        "terminationGracePeriodSeconds", 1, "nodeSelector", "nvidia.com/gpu.present", "true",
        "tolerations", "key", "nvidia.com/gpu", "operator", "Exists", "effect", "NoSchedule",
        "securityContext", "runAsNonRoot", 1, "seccompProfile", "type", "RuntimeDefault",
        "initContainers", inits, "containers", main);
    json_decref(labels);
    return ds;
}

int prepull_pinned_image_set(const struct config *c, const char *role, json_t **ret,
                             struct error *err)
{
    struct prepull_image im[PREPULL_MAX] = {0};
    size_t n = prepull_images(c, im);
    *ret = NULL;
    for (size_t i = 0; i < n; i++)
        if (!strstr(im[i].image, "@sha256:"))
            return error_set(err, ERR_INVALID, im[i].key,
                             "%s is \"%s\", a tag: a PinnedImageSet takes images by digest "
                             "(name@sha256:...); set the key to the digest (skopeo inspect "
                             "docker://IMAGE shows it)",
                             im[i].key, im[i].image);
    json_t *pinned = json_array();
    for (size_t i = 0; pinned && i < n; i++)
        json_array_append_new(pinned, json_pack("{s:s}", "name", im[i].image));
    char name[96];
    snprintf(name, sizeof(name), "99-%s-gpuaas-images", role);
    json_t *p =
        json_pack("{s:s, s:s, s:{s:s, s:{s:s, s:s}}, s:{s:o}}", "apiVersion",
                  "machineconfiguration.openshift.io/v1", "kind", "PinnedImageSet", "metadata",
                  "name", name, "labels", "machineconfiguration.openshift.io/role", role,
                  "app.kubernetes.io/name", "gpuaas", "spec", "pinnedImages", pinned);
    if (!p)
        return error_set(err, ERR_NOMEM, NULL, "out of memory");
    *ret = p;
    return 0;
}

/* The name as the kubelet reports it for an image written without a registry. */
static int same_image(const char *reported, const char *image)
{
    if (!strcmp(reported, image))
        return 1;
    const char *slash = strchr(image, '/');
    int has_registry =
        slash && (memchr(image, '.', (size_t)(slash - image)) ||
                  memchr(image, ':', (size_t)(slash - image)) || !strncmp(image, "localhost/", 10));
    if (has_registry)
        return 0;
    char full[512];
    snprintf(full, sizeof(full), "docker.io/%s%s", slash ? "" : "library/", image);
    return !strcmp(reported, full);
}

int prepull_node_has(json_t *node_images, const char *image)
{
    size_t i, j;
    json_t *e, *name;
    json_array_foreach(node_images, i, e)
    {
        json_array_foreach(json_object_get(e, "names"), j, name)
        {
            if (json_is_string(name) && same_image(json_string_value(name), image))
                return 1;
        }
    }
    return 0;
}
