/* `gpuaas deploy tenant-role`: prints the tenant ClusterRole that the install manifests ship
 * (deploy/overlays/<platform>/tenant-clusterrole.yaml), from the same code that binds it in
 * every session namespace, so the manifests cannot drift from the code.
 * `gpuaas deploy session`: prints the objects one booking becomes, in apply order.
 * `gpuaas deploy kube-calls`: prints the Kubernetes API calls the reconciler makes, which the
 * deploy test compares with the reconciler's ClusterRole.
 * `gpuaas deploy prepull`: prints the DaemonSet (or, on OpenShift, the PinnedImageSet) that
 * pulls the configured workspace and engine images onto every GPU node ahead of sessions. */
#include "cli/commands.h"
#include "cli/shared.h"
#include "common/args.h"
#include "core/config.h"
#include "core/pool.h"
#include "core/prepull.h"
#include "core/reservation.h"
#include "core/session_plan.h"
#include "kube/kube_calls.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int plain_key(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("._/-", *s)))
            return 0;
    return 1;
}

/* A scalar as YAML: strings in JSON double quotes (a subset of YAML), the rest as JSON. */
static void emit_scalar(FILE *out, json_t *v)
{
    char *s = json_dumps(v, JSON_ENCODE_ANY);
    fputs(s ? s : "null", out);
    free(s);
}

static void emit(FILE *out, json_t *v, int indent);

static void emit_key(FILE *out, const char *key)
{
    if (plain_key(key)) {
        fputs(key, out);
    } else {
        json_t *k = json_string(key);
        emit_scalar(out, k);
        json_decref(k);
    }
}

static int is_empty_container(json_t *v)
{
    return (json_is_object(v) && json_object_size(v) == 0) ||
           (json_is_array(v) && json_array_size(v) == 0);
}

/* Writes the members of a container; the caller has placed the cursor at column `indent`
 * for the first line only when `first_inline` is set. */
static void emit_members(FILE *out, json_t *v, int indent, int first_inline)
{
    int first = 1;
    if (json_is_object(v)) {
        const char *keys[256], *key;
        size_t n = 0;
        json_t *m;
        json_object_foreach(v, key, m) if (n < 256) keys[n++] = key;
        /* sorted keys, as the golden and deploy files are compared textually */
        for (size_t i = 1; i < n; i++)
            for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
                const char *t = keys[j];
                keys[j] = keys[j - 1];
                keys[j - 1] = t;
            }
        for (size_t i = 0; i < n; i++) {
            m = json_object_get(v, keys[i]);
            if (!(first && first_inline))
                fprintf(out, "%*s", indent, "");
            first = 0;
            emit_key(out, keys[i]);
            fputc(':', out);
            emit(out, m, indent + 2);
        }
        return;
    }
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        if (!(first && first_inline))
            fprintf(out, "%*s", indent, "");
        first = 0;
        fputs("- ", out);
        if (json_is_object(e) && !is_empty_container(e))
            emit_members(out, e, indent + 2, 1);
        else if (json_is_array(e) && !is_empty_container(e)) {
            fputc('\n', out);
            emit_members(out, e, indent + 2, 0);
        } else {
            emit_scalar(out, e);
            fputc('\n', out);
        }
    }
}

/* After "key:" */
static void emit(FILE *out, json_t *v, int indent)
{
    if ((json_is_object(v) || json_is_array(v)) && !is_empty_container(v)) {
        fputc('\n', out);
        emit_members(out, v, json_is_array(v) ? indent - 2 : indent, 0);
        return;
    }
    fputc(' ', out);
    emit_scalar(out, v);
    fputc('\n', out);
}

static int parse_int(const char *s, long lo, long hi, long *ret)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi)
        return -1;
    *ret = v;
    return 0;
}

/* The booking `gpuaas deploy session` describes; NULL where the option was not given. */
struct session_args {
    const char *id, *user, *gpu_type, *count, *mode;
};

/* Prints the session plan of a booking described on the command line. */
static int print_session(struct config *c, const struct session_args *a)
{
    struct reservation r = {.id = 1, .gpu_count = 1, .mode = MODE_INTERACTIVE};
    struct pool pool;
    struct session_plan plan;
    struct error err = {0};
    long v;
    const char *bad = NULL, *val = NULL;
    snprintf(r.user, sizeof(r.user), "user");
    if (a->id && !parse_int(a->id, 1, INT64_MAX, &v))
        r.id = v;
    else if (a->id)
        bad = "--id", val = a->id;
    if (a->user && strlen(a->user) < sizeof(r.user))
        snprintf(r.user, sizeof(r.user), "%s", a->user);
    else if (a->user)
        bad = "--user", val = a->user;
    if (a->gpu_type && strlen(a->gpu_type) < sizeof(r.gpu_type))
        snprintf(r.gpu_type, sizeof(r.gpu_type), "%s", a->gpu_type);
    else if (a->gpu_type)
        bad = "--gpu-type", val = a->gpu_type;
    if (a->count && !parse_int(a->count, 1, 1024, &v))
        r.gpu_count = (int)v;
    else if (a->count)
        bad = "--count", val = a->count;
    if (a->mode && res_mode_parse(a->mode, &r.mode))
        bad = "--mode", val = a->mode;
    if (bad) {
        fprintf(stderr, "gpuaas deploy session: bad argument %s %s\n", bad, val);
        return 2;
    }
    if (pool_derive(c, &pool, &err) < 0) {
        fprintf(stderr, "gpuaas: %s\n", err.message);
        return 1;
    }
    if (!r.gpu_type[0]) {
        for (int i = 0; i < pool.n && !r.gpu_type[0]; i++)
            if (pool_is_gpu(&pool.res[i]))
                snprintf(r.gpu_type, sizeof(r.gpu_type), "%s", pool.res[i].name);
    }
    if (session_plan_build(&r, c, &pool, &plan, &err) < 0) {
        fprintf(stderr, "gpuaas: %s%s%s\n", err.field, err.field[0] ? ": " : "", err.message);
        return 1;
    }
    printf("# Session of booking %lld: %s\n", (long long)r.id, plan.url);
    for (int i = 0; i < plan.n; i++) {
        printf("---\n# step %s (stage %s)\n", plan.objs[i].step,
               session_stage_name(plan.objs[i].stage));
        emit_members(stdout, plan.objs[i].obj, 0, 0);
    }
    session_plan_free(&plan);
    return 0;
}

/* "group resource verb" per call made on `platform` ("core" for the core group). */
static void print_kube_calls(const char *platform)
{
    for (size_t i = 0; i < kube_api_calls_n; i++) {
        const struct kube_api_call *k = &kube_api_calls[i];
        if (k->platform && strcmp(k->platform, platform))
            continue;
        printf("%s %s %s\n", k->group[0] ? k->group : "core", k->resource, k->verb);
    }
}

static int cmd_deploy_prepull(int argc, char **argv)
{
    const char *flag = NULL, *role = NULL;
    const struct cli_opt opts[] = {{"--config", NULL, &flag, NULL},
                                   {"--pinned-image-set", NULL, &role, NULL}};
    size_t npos;
    if (cli_parse_as("gpuaas deploy prepull", argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos))
        return 2;
    if (role && strcmp(role, "worker") && strcmp(role, "master")) {
        fprintf(stderr, "gpuaas deploy prepull: --pinned-image-set takes the pool: worker or "
                        "master\n");
        return 2;
    }
    const char *path = cli_require_config("gpuaas deploy prepull", flag);
    if (!path)
        return 2;
    struct config *c = NULL;
    struct error err = {0};
    json_t *obj = NULL;
    int rc = 1;
    if (config_load_file(path, &c, &err) < 0) {
        fprintf(stderr, "gpuaas: %s\n", err.message);
        return 1;
    }
    struct prepull_image im[PREPULL_MAX] = {0};
    size_t n = prepull_images(c, im);
    if (role) {
        if (prepull_pinned_image_set(c, role, &obj, &err) < 0) {
            fprintf(stderr, "gpuaas deploy prepull: %s\n", err.message);
            goto out;
        }
    } else if (n == 0) {
        fprintf(stderr, "gpuaas deploy prepull: the configuration names no image "
                        "(reconciler.workspace_image, reconciler.serve_*_image)\n");
        goto out;
    } else if (!(obj = prepull_daemonset(c, "gpuaas-system"))) {
        fprintf(stderr, "gpuaas: out of memory\n");
        goto out;
    }
    printf("# Generated by `gpuaas deploy prepull%s%s` from %s; regenerate it when an image\n"
           "# changes. Images:\n",
           role ? " --pinned-image-set " : "", role ? role : "", path);
    for (size_t i = 0; i < n; i++)
        printf("#   %s  (%s)\n", im[i].image, im[i].key);
    emit_members(stdout, obj, 0, 0);
    rc = fflush(stdout) ? 1 : 0;
out:
    json_decref(obj);
    config_free(c);
    return rc;
}

int cmd_deploy(int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        printf(
            "Usage: gpuaas deploy tenant-role [--config FILE] [--platform openshift|kubernetes]\n"
            "  Prints, as YAML, the ClusterRole bound to users and workspaces inside session\n"
            "  namespaces (reconciler.tenant_cluster_role). --platform overrides\n"
            "  reconciler.platform. Without a file the defaults are used.\n"
            "       gpuaas deploy prepull --config FILE [--pinned-image-set worker|master]\n"
            "  Prints the DaemonSet gpuaas-prepull that pulls the workspace and engine images\n"
            "  onto every GPU node, or an OpenShift PinnedImageSet for that pool (digests).\n");
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "prepull"))
        return cmd_deploy_prepull(argc - 1, argv + 1);
    int session = !strcmp(argv[1], "session");
    int calls = !strcmp(argv[1], "kube-calls");
    if (!session && !calls && strcmp(argv[1], "tenant-role")) {
        fprintf(stderr, "gpuaas deploy: unknown action \"%s\"\n", argv[1]);
        return 2;
    }
    const char *flag = NULL, *platform = NULL;
    struct session_args sa = {0};
    /* the session options only for `deploy session` */
    const struct cli_opt opts[] = {
        {"--config", NULL, &flag, NULL},
        {"--platform", NULL, &platform, NULL},
        {"--id", NULL, &sa.id, NULL},
        {"--user", NULL, &sa.user, NULL},
        {"--gpu-type", NULL, &sa.gpu_type, NULL},
        {"--count", NULL, &sa.count, NULL},
        {"--mode", NULL, &sa.mode, NULL},
    };
    char who[64];
    size_t npos;
    snprintf(who, sizeof(who), "gpuaas deploy %s", argv[1]);
    if (cli_parse_as(who, argc - 1, argv + 1, opts, session ? ARRAY_SIZE(opts) : 2, NULL, 0, &npos))
        return 2;
    if (platform && strcmp(platform, "openshift") && strcmp(platform, "kubernetes")) {
        fprintf(stderr, "gpuaas deploy tenant-role: --platform must be openshift or kubernetes\n");
        return 2;
    }
    struct config *c = NULL;
    struct error err = {0};
    const char *path = cli_config_path(flag);
    int rc = 1;
    if (path) {
        if (config_load_file(path, &c, &err) < 0) {
            fprintf(stderr, "gpuaas: %s\n", err.message);
            return 1;
        }
    } else {
        c = config_new_default();
    }
    if (!c || (platform && config_set_string(&c->reconciler.platform, platform) < 0)) {
        fprintf(stderr, "gpuaas: out of memory\n");
        goto out;
    }
    if (session) {
        rc = print_session(c, &sa);
        goto out;
    }
    if (calls) {
        print_kube_calls(c->reconciler.platform);
        rc = 0;
        goto out;
    }
    json_t *role = session_tenant_cluster_role(c);
    if (!role) {
        fprintf(stderr, "gpuaas: out of memory\n");
        goto out;
    }
    printf("# Generated by `gpuaas deploy tenant-role --platform %s`; do not edit.\n",
           c->reconciler.platform);
    emit_members(stdout, role, 0, 0);
    json_decref(role);
    rc = 0;
out:
    config_free(c);
    return rc;
}
