/* `gpuaas gpu-config`: the NVIDIA GPU operator configuration for every node of the pool. */
#include "cli/commands.h"
#include "cli/shared.h"
#include "common/args.h"
#include "core/config.h"
#include "core/gpu_config.h"
#include "core/pool.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The namespace the GPU operator's documented install uses on the platform. */
static const char *gpu_operator_namespace(const struct config *c)
{
    const char *p = c->reconciler.platform;
    return p && !strcmp(p, "kubernetes") ? "gpu-operator" : "nvidia-gpu-operator";
}

/* An RFC 1123 label, as Kubernetes namespace names are. */
static bool valid_namespace(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

int cmd_gpu_config(int argc, char **argv)
{
    const char *flag = NULL, *format = "yaml", *ns = NULL;
    if (cli_wants_help(argc, argv)) {
        printf("Usage: gpuaas gpu-config [--config FILE] [-o yaml|json] [--namespace NS]\n"
               "Writes the ConfigMaps custom-mig-config and device-plugin-config for the GPU\n"
               "operator, the node label commands and the ClusterPolicy patch, derived from\n"
               "the pool's GPU layout. NS is the GPU operator's namespace; by default the one\n"
               "its install uses on the configured reconciler.platform: nvidia-gpu-operator\n"
               "(OpenShift, OperatorHub) or gpu-operator (Kubernetes, NVIDIA's Helm chart).\n"
               "YAML is ready for `kubectl apply -f -`; the commands are its leading comments.\n");
        return 0;
    }
    const struct cli_opt opts[] = {{"--config", NULL, &flag, NULL},
                                   {"--output", "-o", &format, NULL},
                                   {"--namespace", NULL, &ns, NULL}};
    size_t npos;
    if (CLI_PARSE(argc, argv, opts, NULL, 0, &npos))
        return 2;
    if (strcmp(format, "yaml") && strcmp(format, "json")) {
        fprintf(stderr, "gpuaas gpu-config: -o takes yaml or json\n");
        return 2;
    }
    if (ns && !valid_namespace(ns)) {
        fprintf(stderr, "gpuaas gpu-config: --namespace must be a Kubernetes namespace name "
                        "(lower-case letters, digits and '-', at most 63)\n");
        return 2;
    }
    const char *path = cli_require_config("gpuaas gpu-config", flag);
    if (!path)
        return 2;
    struct config *c = NULL;
    struct error err = {0};
    struct pool pool;
    struct gpuc_layout *l = malloc(sizeof(*l));
    struct gpuc_options o = {0};
    char *out = NULL;
    int rc = 1;
    if (!l) {
        fprintf(stderr, "gpuaas gpu-config: out of memory\n");
        return 1;
    }
    if (config_load_file(path, &c, &err) < 0 || pool_derive(c, &pool, &err) < 0 ||
        gpuc_from_config(c, l, &err) < 0) {
        fprintf(stderr, "gpuaas: %s\n", err.message);
        goto out;
    }
    o.namespace = ns ? ns : gpu_operator_namespace(c);
    if ((!strcmp(format, "json") ? gpuc_render_json(l, &o, &out) : gpuc_render_yaml(l, &o, &out)) <
        0) {
        fprintf(stderr, "gpuaas gpu-config: out of memory\n");
        goto out;
    }
    fputs(out, stdout);
    rc = fflush(stdout) ? 1 : 0;
out:
    free(out);
    free(l);
    config_free(c);
    return rc;
}
