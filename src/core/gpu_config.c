/* GPU operator ConfigMaps, node labels and ClusterPolicy patch from the declared layout, and
 * the parser that reads them back (see gpu_config.h for the formats). */
#include "core/gpu_config.h"
#include "common/yaml_walk.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIG_CM "custom-mig-config"
#define DP_CM "device-plugin-config"
#define DEFAULT_NS "nvidia-gpu-operator"
#define LABEL_MIG "nvidia.com/mig.config"
#define LABEL_DP "nvidia.com/device-plugin.config"

static bool k8s_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
        if (!alnum && !((ch == '-' || ch == '.') && i > 0 && i + 1 < n))
            return false;
    }
    return true;
}

static bool gpu_equal(const struct gpuc_gpu *a, const struct gpuc_gpu *b)
{
    if (a->whole != b->whole)
        return false;
    if (a->whole)
        return true;
    if (a->n_slices != b->n_slices)
        return false;
    for (int i = 0; i < a->n_slices; i++)
        if (strcmp(a->slices[i].profile, b->slices[i].profile) ||
            a->slices[i].count != b->slices[i].count)
            return false;
    return true;
}

void gpuc_config_name(const struct gpuc_node *nd, char *buf, size_t size)
{
    char full[1024] = "";
    size_t len = 0;
    for (int i = 0; i < nd->n_gpus && len < sizeof(full); i++) {
        const struct gpuc_gpu *g = &nd->gpus[i];
        len += (size_t)snprintf(full + len, sizeof(full) - len, "%sgpu%d-", i ? "-" : "", i);
        if (g->whole && len < sizeof(full))
            len += (size_t)snprintf(full + len, sizeof(full) - len, "full");
        for (int k = 0; !g->whole && k < g->n_slices && len < sizeof(full); k++)
            len += (size_t)snprintf(full + len, sizeof(full) - len, "%s%dx%s", k ? "-" : "",
                                    g->slices[k].count, g->slices[k].profile);
    }
    for (char *p = full; *p; p++)
        if (*p == '+')
            *p = '_';
    if (strlen(full) <= 63 && strlen(full) < size) {
        snprintf(buf, size, "%s", full);
        return;
    }
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const char *p = full; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    snprintf(buf, size, "layout-%016llx", (unsigned long long)h);
}

static enum mig_strategy cluster_strategy(const struct gpuc_layout *l)
{
    enum mig_strategy s = MIG_STRATEGY_NONE;
    for (int i = 0; i < l->n_nodes; i++)
        if (l->nodes[i].strategy > s)
            s = l->nodes[i].strategy;
    return s;
}

int gpuc_from_config(const struct config *c, struct gpuc_layout *ret, struct error *err)
{
    memset(ret, 0, sizeof(*ret));
    ret->whole_replicas = (int)c->sharing.whole_gpu_replicas;
    ret->mig_replicas = (int)c->sharing.mig_replicas;
    ret->rename_by_default = c->sharing.rename_by_default;
    for (int i = 0; i < c->pool.n_nodes; i++) {
        const struct config_node *cn = &c->pool.nodes[i];
        char where[96];
        if (cn->n_gpus == 0)
            continue;
        if (!k8s_name_ok(cn->name))
            return error_set(err, ERR_INVALID, "pool.nodes.name",
                             "%s:%d: pool.nodes[%d].name: \"%s\" is not a Kubernetes node name "
                             "(lowercase letters, digits, '-' and '.')",
                             c->path ? c->path : "", cn->line, i, cn->name);
        struct gpuc_node *nd = &ret->nodes[ret->n_nodes++];
        snprintf(nd->name, sizeof(nd->name), "%s", cn->name);
        nd->n_gpus = cn->n_gpus;
        for (int j = 0; j < cn->n_gpus; j++) {
            const struct config_gpu *g = &cn->gpus[j];
            snprintf(where, sizeof(where), "pool.nodes[%d].gpus[%d]", i, j);
            if (mig_layout_validate(g, c->path, where, err) < 0)
                return -ERR_INVALID;
            nd->gpus[j].whole = g->whole;
            if (!g->whole) {
                nd->gpus[j].n_slices = g->n_slices;
                memcpy(nd->gpus[j].slices, g->slices, sizeof(g->slices));
            }
        }
        nd->strategy = mig_node_strategy(cn);
        gpuc_config_name(nd, nd->config_name, sizeof(nd->config_name));
    }
    ret->cluster_strategy = cluster_strategy(ret);
    /* flags.migStrategy equal to the ClusterPolicy's on every node (the plugin's own default
     * is none); mixed serves nodes without MIG as well. */
    for (int i = 0; i < ret->n_nodes; i++)
        ret->nodes[i].strategy = ret->cluster_strategy;
    if (ret->cluster_strategy == MIG_STRATEGY_NONE)
        ret->mig_replicas = 0; /* no MIG resource carries it */
    return 0;
}

/* ---- rendering ---- */

/* The first node using config name `name`, or NULL. */
static const struct gpuc_node *first_with(const struct gpuc_layout *l, const char *name, int upto)
{
    for (int i = 0; i < upto; i++)
        if (!strcmp(l->nodes[i].config_name, name))
            return &l->nodes[i];
    return NULL;
}

static char *mig_parted_text(const struct gpuc_layout *l)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    fprintf(f, "version: v1\nmig-configs:\n  all-disabled:\n    - devices: all\n"
               "      mig-enabled: false\n");
    for (int i = 0; i < l->n_nodes; i++) {
        const struct gpuc_node *nd = &l->nodes[i];
        if (first_with(l, nd->config_name, i))
            continue;
        fprintf(f, "\n  %s:\n", nd->config_name);
        bool done[CONFIG_MAX_GPUS_PER_NODE] = {false};
        for (int j = 0; j < nd->n_gpus; j++) {
            if (done[j])
                continue;
            const struct gpuc_gpu *g = &nd->gpus[j];
            fprintf(f, "    - devices: [%d", j);
            for (int k = j + 1; k < nd->n_gpus; k++)
                if (!done[k] && gpu_equal(g, &nd->gpus[k])) {
                    done[k] = true;
                    fprintf(f, ", %d", k);
                }
            fprintf(f, "]\n      mig-enabled: %s\n", g->whole ? "false" : "true");
            if (!g->whole) {
                fprintf(f, "      mig-devices:\n");
                for (int k = 0; k < g->n_slices; k++)
                    fprintf(f, "        \"%s\": %d\n", g->slices[k].profile, g->slices[k].count);
            }
        }
    }
    fclose(f);
    return out;
}

/* The device-plugin file for one node layout, or for unlabelled nodes when nd is NULL. */
static char *dp_text(const struct gpuc_layout *l, const struct gpuc_node *nd)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    /* Unlabelled nodes: the cluster's strategy when mixed (the operator's own default), whole
     * GPUs shared like the labelled ones. */
    enum mig_strategy s =
        nd ? nd->strategy
           : (l->cluster_strategy == MIG_STRATEGY_MIXED ? MIG_STRATEGY_MIXED : MIG_STRATEGY_NONE);
    fprintf(f,
            "version: v1\nflags:\n  migStrategy: %s\nsharing:\n  timeSlicing:\n"
            "    renameByDefault: %s\n    failRequestsGreaterThanOne: true\n    resources:\n",
            mig_strategy_name(s), l->rename_by_default ? "true" : "false");
    /* Resource names in first-appearance order; under `single` MIG devices are nvidia.com/gpu. */
    char seen[CONFIG_MAX_GPUS_PER_NODE * CONFIG_MAX_SLICE_KINDS + 1][64];
    int n_seen = 0;
    int ngpus = nd ? nd->n_gpus : 1;
    for (int j = 0; j < ngpus; j++) {
        const struct gpuc_gpu *g = nd ? &nd->gpus[j] : NULL;
        int kinds = (!g || g->whole) ? 1 : g->n_slices;
        for (int k = 0; k < kinds; k++) {
            char name[64];
            int replicas;
            if (!g || g->whole || s == MIG_STRATEGY_SINGLE) {
                snprintf(name, sizeof(name), "nvidia.com/gpu");
                replicas = (g && !g->whole) ? l->mig_replicas : l->whole_replicas;
            } else {
                snprintf(name, sizeof(name), "nvidia.com/mig-%s", g->slices[k].profile);
                replicas = l->mig_replicas;
            }
            bool dup = false;
            for (int m = 0; m < n_seen; m++)
                dup |= !strcmp(seen[m], name);
            if (dup)
                continue;
            snprintf(seen[n_seen++], sizeof(seen[0]), "%s", name);
            fprintf(f, "    - name: %s\n      replicas: %d\n", name, replicas);
        }
    }
    fclose(f);
    return out;
}

static void emit_block(FILE *f, const char *text, const char *indent)
{
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (n)
            fprintf(f, "%s%.*s\n", indent, (int)n, p);
        else
            fputc('\n', f);
        p += n + (nl ? 1 : 0);
    }
}

static void patch_text(const struct gpuc_layout *l, char *buf, size_t size)
{
    snprintf(buf, size,
             "{\"spec\":{\"mig\":{\"strategy\":\"%s\"},\"migManager\":{\"config\":{\"name\":\"%s\","
             "\"default\":\"all-disabled\"}},\"devicePlugin\":{\"config\":{\"name\":\"%s\","
             "\"default\":\"default\"}}}}",
             mig_strategy_name(l->cluster_strategy), MIG_CM, DP_CM);
}

static void commands(const struct gpuc_layout *l, const char *ns, int i, char *buf, size_t size)
{
    if (i < l->n_nodes) {
        snprintf(buf, size, "kubectl label node %s %s=%s %s=%s --overwrite", l->nodes[i].name,
                 LABEL_MIG, l->nodes[i].config_name, LABEL_DP, l->nodes[i].config_name);
        return;
    }
    char patch[512];
    patch_text(l, patch, sizeof(patch));
    if (i == l->n_nodes)
        snprintf(buf, size,
                 "kubectl patch clusterpolicies.nvidia.com/\"$(kubectl get "
                 "clusterpolicies.nvidia.com -o jsonpath='{.items[0].metadata.name}')\" "
                 "--type merge -p '%s'",
                 patch);
    else
        snprintf(buf, size,
                 "kubectl rollout restart -n %s daemonset/nvidia-device-plugin-daemonset", ns);
}

int gpuc_render_yaml(const struct gpuc_layout *l, const struct gpuc_options *o, char **ret)
{
    const char *ns = o && o->namespace ? o->namespace : DEFAULT_NS;
    char *out = NULL, *mig = NULL, *dp = NULL;
    size_t len = 0;
    int r = -ERR_NOMEM;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return -ERR_NOMEM;
    fprintf(f, "# NVIDIA GPU operator configuration generated by `gpuaas gpu-config`.\n"
               "# kubectl apply -f this file, then run:\n");
    char cmd[1024];
    for (int i = 0; i <= l->n_nodes + 1; i++) {
        commands(l, ns, i, cmd, sizeof(cmd));
        fprintf(f, "# %s\n", cmd);
    }
    if (!(mig = mig_parted_text(l)))
        goto out;
    fprintf(f,
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: %s\n"
            "data:\n  config.yaml: |\n",
            MIG_CM, ns);
    emit_block(f, mig, "    ");
    fprintf(f,
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: %s\n"
            "data:\n",
            DP_CM, ns);
    for (int i = -1; i < l->n_nodes; i++) {
        const struct gpuc_node *nd = i < 0 ? NULL : &l->nodes[i];
        if (nd && first_with(l, nd->config_name, i))
            continue;
        if (!(dp = dp_text(l, nd)))
            goto out;
        fprintf(f, "  %s: |-\n", nd ? nd->config_name : "default");
        emit_block(f, dp, "    ");
        free(dp);
        dp = NULL;
    }
    r = 0;
out:
    free(mig);
    free(dp);
    fclose(f);
    if (r < 0)
        free(out);
    else
        *ret = out;
    return r;
}

static json_t *configmap(const char *name, const char *ns, json_t *data)
{
    return json_pack("{s:s, s:s, s:{s:s, s:s}, s:o}", "apiVersion", "v1", "kind", "ConfigMap",
                     "metadata", "name", name, "namespace", ns, "data", data);
}

int gpuc_render_json(const struct gpuc_layout *l, const struct gpuc_options *o, char **ret)
{
    const char *ns = o && o->namespace ? o->namespace : DEFAULT_NS;
    int r = -ERR_NOMEM;
    char *mig = mig_parted_text(l), *s = NULL;
    json_t *root = json_object(), *dpdata = json_object(), *labels = json_array();
    json_t *cmds = json_array();
    if (!mig || !root || !dpdata || !labels || !cmds)
        goto out;
    for (int i = -1; i < l->n_nodes; i++) {
        const struct gpuc_node *nd = i < 0 ? NULL : &l->nodes[i];
        if (nd && first_with(l, nd->config_name, i))
            continue;
        char *dp = dp_text(l, nd);
        if (!dp)
            goto out;
        json_object_set_new(dpdata, nd ? nd->config_name : "default", json_string(dp));
        free(dp);
    }
    for (int i = 0; i < l->n_nodes; i++)
        json_array_append_new(labels, json_pack("{s:s, s:{s:s, s:s}}", "node", l->nodes[i].name,
                                                "labels", LABEL_MIG, l->nodes[i].config_name,
                                                LABEL_DP, l->nodes[i].config_name));
    char cmd[1024], patch[512];
    for (int i = 0; i <= l->n_nodes + 1; i++) {
        commands(l, ns, i, cmd, sizeof(cmd));
        json_array_append_new(cmds, json_string(cmd));
    }
    patch_text(l, patch, sizeof(patch));
    json_t *cms = json_pack("[o, o]", configmap(MIG_CM, ns, json_pack("{s:s}", "config.yaml", mig)),
                            configmap(DP_CM, ns, dpdata));
    dpdata = NULL;
    json_object_set_new(root, "configMaps", cms);
    json_object_set_new(root, "nodeLabels", labels);
    labels = NULL;
    json_object_set_new(root, "clusterPolicyPatch", json_loads(patch, 0, NULL));
    json_object_set_new(root, "commands", cmds);
    cmds = NULL;
    s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!s)
        goto out;
    size_t n = strlen(s);
    *ret = malloc(n + 2);
    if (!*ret)
        goto out;
    memcpy(*ret, s, n);
    memcpy(*ret + n, "\n", 2);
    r = 0;
out:
    free(mig);
    free(s);
    json_decref(root);
    json_decref(dpdata);
    json_decref(labels);
    json_decref(cmds);
    return r;
}

/* ---- parsing ---- */

struct parsed_dp {
    char name[GPUC_NAME_MAX];
    enum mig_strategy strategy;
};

struct pstate {
    struct gpuc_layout *l;
    struct error *err;
    char *mig_text; /* config.yaml of custom-mig-config */
    struct {        /* device-plugin-config keys */
        char name[GPUC_NAME_MAX];
        char *text;
    } dp[CONFIG_MAX_NODES + 1];
    int n_dp;
    struct {
        char node[GPUC_NAME_MAX];
        char mig[GPUC_NAME_MAX];
        char dp[GPUC_NAME_MAX];
    } labels[CONFIG_MAX_NODES];
    int n_labels;
};

static int copy_name(char *dst, const char *src, struct error *err, const char *what)
{
    if (!src || strlen(src) >= GPUC_NAME_MAX || !*src)
        return error_set(err, ERR_INVALID, what, "%s: missing or longer than %d characters", what,
                         GPUC_NAME_MAX - 1);
    snprintf(dst, GPUC_NAME_MAX, "%s", src);
    return 0;
}

static int add_label(struct pstate *st, const char *node, const char *mig, const char *dp)
{
    if (st->n_labels >= CONFIG_MAX_NODES)
        return error_set(st->err, ERR_INVALID, "nodeLabels", "more than %d nodes",
                         CONFIG_MAX_NODES);
    int r;
    if ((r = copy_name(st->labels[st->n_labels].node, node, st->err, "node")) < 0 ||
        (r = copy_name(st->labels[st->n_labels].mig, mig, st->err, LABEL_MIG)) < 0 ||
        (r = copy_name(st->labels[st->n_labels].dp, dp, st->err, LABEL_DP)) < 0)
        return r;
    st->n_labels++;
    return 0;
}

static int take_configmap(struct pstate *st, yaml_document_t *d, yaml_node_t *cm)
{
    const char *kind = yw_scalar(yw_get(d, cm, "kind"));
    const char *name = yw_scalar(yw_get(d, yw_get(d, cm, "metadata"), "name"));
    yaml_node_t *data = yw_get(d, cm, "data");
    if (!kind || strcmp(kind, "ConfigMap") || !name)
        return 0;
    if (!strcmp(name, MIG_CM)) {
        const char *t = yw_scalar(yw_get(d, data, "config.yaml"));
        if (!t)
            return error_set(st->err, ERR_INVALID, MIG_CM, "%s has no data key config.yaml",
                             MIG_CM);
        free(st->mig_text);
        if (!(st->mig_text = strdup(t)))
            return -ERR_NOMEM;
    } else if (!strcmp(name, DP_CM) && yw_is_map(data)) {
        YW_FOR_PAIRS(p, data)
        {
            const char *k = yw_scalar(yw_key(d, p));
            const char *v = yw_scalar(yw_value(d, p));
            int r;
            if (!v || st->n_dp >= CONFIG_MAX_NODES + 1)
                return error_set(st->err, ERR_INVALID, DP_CM, "%s: bad or too many entries", DP_CM);
            if ((r = copy_name(st->dp[st->n_dp].name, k, st->err, DP_CM)) < 0)
                return r;
            if (!(st->dp[st->n_dp].text = strdup(v)))
                return -ERR_NOMEM;
            st->n_dp++;
        }
    }
    return 0;
}

static int take_document(struct pstate *st, yaml_document_t *d)
{
    yaml_node_t *root = yaml_document_get_root_node(d);
    int r;
    if (!root)
        return 0;
    yaml_node_t *cms = yw_get(d, root, "configMaps");
    if (yw_is_seq(cms))
        YW_FOR_ITEMS(it, cms)
    if ((r = take_configmap(st, d, yw_item(d, it))) < 0)
        return r;
    yaml_node_t *nl = yw_get(d, root, "nodeLabels");
    if (yw_is_seq(nl))
        YW_FOR_ITEMS(it, nl)
        {
            yaml_node_t *e = yw_item(d, it);
            yaml_node_t *lb = yw_get(d, e, "labels");
            if ((r = add_label(st, yw_scalar(yw_get(d, e, "node")),
                               yw_scalar(yw_get(d, lb, LABEL_MIG)),
                               yw_scalar(yw_get(d, lb, LABEL_DP)))) < 0)
                return r;
        }
    return cms ? 0 : take_configmap(st, d, root);
}

/* "# kubectl label node N nvidia.com/mig.config=X nvidia.com/device-plugin.config=Y ..." */
static int take_comments(struct pstate *st, const char *text, size_t len)
{
    static const char pre[] = "# kubectl label node ";
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (n > sizeof(pre) - 1 && n < 512 && !strncmp(p, pre, sizeof(pre) - 1)) {
            char line[512], node[GPUC_NAME_MAX] = "", mig[GPUC_NAME_MAX] = "",
                            dp[GPUC_NAME_MAX] = "";
            memcpy(line, p, n);
            line[n] = 0;
            char *save = NULL;
            int w = 0;
            for (char *tok = strtok_r(line + sizeof(pre) - 1, " ", &save); tok;
                 tok = strtok_r(NULL, " ", &save), w++) {
                if (w == 0)
                    snprintf(node, sizeof(node), "%s", tok);
                else if (!strncmp(tok, LABEL_MIG "=", sizeof(LABEL_MIG)))
                    snprintf(mig, sizeof(mig), "%s", tok + sizeof(LABEL_MIG));
                else if (!strncmp(tok, LABEL_DP "=", sizeof(LABEL_DP)))
                    snprintf(dp, sizeof(dp), "%s", tok + sizeof(LABEL_DP));
            }
            int r = add_label(st, node, mig, dp);
            if (r < 0)
                return r;
        }
        p += n + 1;
    }
    return 0;
}

static int load_one(const char *text, yaml_document_t *d, struct error *err, const char *what)
{
    int r = yw_load(text, strlen(text), d, NULL);
    if (r == -ERR_INVALID)
        return error_set(err, ERR_INVALID, what, "%s: not valid YAML", what);
    return r;
}

static int parse_int(const char *s, int min, int max, int *ret)
{
    char *end;
    if (!s)
        return -ERR_INVALID;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < min || v > max)
        return -ERR_INVALID;
    *ret = (int)v;
    return 0;
}

/* Fills nd->gpus from mig-configs[nd->config_name]. */
static int node_from_mig(struct pstate *st, yaml_document_t *d, struct gpuc_node *nd)
{
    yaml_node_t *entries =
        yw_get(d, yw_get(d, yaml_document_get_root_node(d), "mig-configs"), nd->config_name);
    bool set[CONFIG_MAX_GPUS_PER_NODE] = {false};
    if (!yw_is_seq(entries))
        return error_set(st->err, ERR_INVALID, MIG_CM, "mig-configs has no entry \"%s\" (node %s)",
                         nd->config_name, nd->name);
    YW_FOR_ITEMS(it, entries)
    {
        yaml_node_t *e = yw_item(d, it);
        yaml_node_t *dev = yw_get(d, e, "devices");
        const char *en = yw_scalar(yw_get(d, e, "mig-enabled"));
        yaml_node_t *md = yw_get(d, e, "mig-devices");
        struct gpuc_gpu g = {.whole = true};
        if (!yw_is_seq(dev) || !en)
            return error_set(st->err, ERR_INVALID, MIG_CM,
                             "mig-configs.%s: each item needs devices: [indices] and mig-enabled",
                             nd->config_name);
        if (!strcmp(en, "true")) {
            g.whole = false;
            if (!yw_is_map(md))
                return error_set(st->err, ERR_INVALID, MIG_CM,
                                 "mig-configs.%s: mig-devices missing", nd->config_name);
            YW_FOR_PAIRS(p, md)
            {
                const char *prof = yw_scalar(yw_key(d, p));
                int cnt;
                if (g.n_slices >= CONFIG_MAX_SLICE_KINDS || !prof ||
                    strlen(prof) >= sizeof(g.slices[0].profile) ||
                    parse_int(yw_scalar(yw_value(d, p)), 1, 64, &cnt) < 0)
                    return error_set(st->err, ERR_INVALID, MIG_CM,
                                     "mig-configs.%s: bad mig-devices entry", nd->config_name);
                snprintf(g.slices[g.n_slices].profile, sizeof(g.slices[0].profile), "%s", prof);
                g.slices[g.n_slices++].count = cnt;
            }
        } else if (strcmp(en, "false"))
            return error_set(st->err, ERR_INVALID, MIG_CM, "mig-enabled must be true or false");
        YW_FOR_ITEMS(di, dev)
        {
            int idx;
            if (parse_int(yw_scalar(yw_item(d, di)), 0, CONFIG_MAX_GPUS_PER_NODE - 1, &idx) < 0 ||
                set[idx])
                return error_set(st->err, ERR_INVALID, MIG_CM,
                                 "mig-configs.%s: bad or repeated device index", nd->config_name);
            set[idx] = true;
            nd->gpus[idx] = g;
            if (idx + 1 > nd->n_gpus)
                nd->n_gpus = idx + 1;
        }
    }
    for (int i = 0; i < nd->n_gpus; i++)
        if (!set[i])
            return error_set(st->err, ERR_INVALID, MIG_CM, "mig-configs.%s: GPU %d not listed",
                             nd->config_name, i);
    return 0;
}

/* Reads strategy, rename and replicas from one device-plugin file. */
static int read_dp(struct pstate *st, const char *text, const char *name, enum mig_strategy *strat)
{
    yaml_document_t d;
    int r = load_one(text, &d, st->err, name);
    if (r < 0)
        return r;
    yaml_node_t *root = yaml_document_get_root_node(&d);
    yaml_node_t *ts = yw_get(&d, yw_get(&d, root, "sharing"), "timeSlicing");
    yaml_node_t *res = yw_get(&d, ts, "resources");
    const char *rn = yw_scalar(yw_get(&d, ts, "renameByDefault"));
    if (mig_strategy_parse(yw_scalar(yw_get(&d, yw_get(&d, root, "flags"), "migStrategy")), strat) <
            0 ||
        !rn || !yw_is_seq(res)) {
        r = error_set(st->err, ERR_INVALID, name,
                      "%s: needs flags.migStrategy and sharing.timeSlicing.{renameByDefault,"
                      "resources}",
                      name);
        goto out;
    }
    st->l->rename_by_default = !strcmp(rn, "true");
    YW_FOR_ITEMS(it, res)
    {
        yaml_node_t *e = yw_item(&d, it);
        const char *rname = yw_scalar(yw_get(&d, e, "name"));
        int rep;
        if (!rname || parse_int(yw_scalar(yw_get(&d, e, "replicas")), 1, 1024, &rep) < 0) {
            r = error_set(st->err, ERR_INVALID, name, "%s: resources need name and replicas", name);
            goto out;
        }
        bool mig = !strncmp(rname, "nvidia.com/mig-", 15) ||
                   (*strat == MIG_STRATEGY_SINGLE && !strcmp(rname, "nvidia.com/gpu"));
        if (mig)
            st->l->mig_replicas = rep;
        else if (!strcmp(rname, "nvidia.com/gpu"))
            st->l->whole_replicas = rep;
    }
out:
    yaml_document_delete(&d);
    return r;
}

int gpuc_parse(const char *text, size_t len, struct gpuc_layout *ret, struct error *err)
{
    struct pstate *st = calloc(1, sizeof(*st));
    yaml_parser_t ps;
    yaml_document_t mig;
    bool have_mig = false;
    int r = -ERR_NOMEM;
    if (!st)
        return -ERR_NOMEM;
    memset(ret, 0, sizeof(*ret));
    st->l = ret;
    st->err = err;
    if (!yaml_parser_initialize(&ps))
        goto out;
    yaml_parser_set_input_string(&ps, (const unsigned char *)text, len);
    for (int ndoc = 0;; ndoc++) {
        yaml_document_t d;
        if (ndoc > 16 || !yaml_parser_load(&ps, &d)) {
            r = error_set(err, ERR_INVALID, "input", "not valid YAML/JSON, or over 16 documents");
            yaml_parser_delete(&ps);
            goto out;
        }
        if (!yaml_document_get_root_node(&d)) {
            yaml_document_delete(&d);
            break;
        }
        r = take_document(st, &d);
        yaml_document_delete(&d);
        if (r < 0) {
            yaml_parser_delete(&ps);
            goto out;
        }
    }
    yaml_parser_delete(&ps);
    if (st->n_labels == 0 && (r = take_comments(st, text, len)) < 0)
        goto out;
    if (!st->mig_text || st->n_dp == 0) {
        r = error_set(err, ERR_INVALID, "input", "expected ConfigMaps %s and %s", MIG_CM, DP_CM);
        goto out;
    }
    if ((r = load_one(st->mig_text, &mig, err, MIG_CM)) < 0)
        goto out;
    have_mig = true;
    for (int i = 0; i < st->n_dp; i++)
        if (!strcmp(st->dp[i].name, "default")) {
            enum mig_strategy s;
            if ((r = read_dp(st, st->dp[i].text, "default", &s)) < 0)
                goto out;
        }
    for (int i = 0; i < st->n_labels; i++) {
        struct gpuc_node *nd = &ret->nodes[ret->n_nodes++];
        snprintf(nd->name, sizeof(nd->name), "%s", st->labels[i].node);
        snprintf(nd->config_name, sizeof(nd->config_name), "%s", st->labels[i].mig);
        if (strcmp(st->labels[i].mig, st->labels[i].dp)) {
            r = error_set(err, ERR_INVALID, LABEL_DP, "node %s: %s and %s differ", nd->name,
                          LABEL_MIG, LABEL_DP);
            goto out;
        }
        if ((r = node_from_mig(st, &mig, nd)) < 0)
            goto out;
        int k = 0;
        while (k < st->n_dp && strcmp(st->dp[k].name, nd->config_name))
            k++;
        if (k == st->n_dp) {
            r = error_set(err, ERR_INVALID, DP_CM, "%s has no key \"%s\" (node %s)", DP_CM,
                          nd->config_name, nd->name);
            goto out;
        }
        if ((r = read_dp(st, st->dp[k].text, nd->config_name, &nd->strategy)) < 0)
            goto out;
    }
    ret->cluster_strategy = cluster_strategy(ret);
    r = 0;
out:
    if (have_mig)
        yaml_document_delete(&mig);
    free(st->mig_text);
    for (int i = 0; i < st->n_dp; i++)
        free(st->dp[i].text);
    free(st);
    return r;
}

bool gpuc_layout_equal(const struct gpuc_layout *a, const struct gpuc_layout *b, char *why,
                       size_t whysz)
{
    char tmp[8];
    if (!why) {
        why = tmp;
        whysz = sizeof(tmp);
    }
    if (a->n_nodes != b->n_nodes)
        return snprintf(why, whysz, "%d nodes vs %d", a->n_nodes, b->n_nodes), false;
    if (a->whole_replicas != b->whole_replicas || a->mig_replicas != b->mig_replicas ||
        a->rename_by_default != b->rename_by_default || a->cluster_strategy != b->cluster_strategy)
        return snprintf(why, whysz, "sharing settings or cluster strategy differ"), false;
    for (int i = 0; i < a->n_nodes; i++) {
        const struct gpuc_node *x = &a->nodes[i], *y = &b->nodes[i];
        if (strcmp(x->name, y->name) || strcmp(x->config_name, y->config_name) ||
            x->strategy != y->strategy || x->n_gpus != y->n_gpus)
            return snprintf(why, whysz, "node %d (%s vs %s) differs", i, x->name, y->name), false;
        for (int j = 0; j < x->n_gpus; j++)
            if (!gpu_equal(&x->gpus[j], &y->gpus[j]))
                return snprintf(why, whysz, "node %s gpu %d differs", x->name, j), false;
    }
    return true;
}
