/* The configuration model: one YAML file describes the server, database, pool, session
 * defaults, reconciler and cache. One table (config.c) describes every scalar key: name,
 * type, default, bounds and help; it drives parsing, validation, `--help-config` and the
 * example file. Lists (pool nodes and their GPUs) are parsed by hand beside the table.
 *
 * Ownership: config_load*() allocate a struct config that the caller frees with
 * config_free(). Strings inside are owned by the struct. */
#ifndef GPUAAS_CORE_CONFIG_H
#define GPUAAS_CORE_CONFIG_H

#include "common/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define CONFIG_MAX_NODES 64
#define CONFIG_MAX_GPUS_PER_NODE 16
#define CONFIG_MAX_SLICE_KINDS 8

/* One MIG profile on one GPU: `profile: count`, e.g. "1g.24gb": 4. */
struct config_mig_slice {
    char profile[32];
    int count;
    int line; /* source line of the profile key, 0 = unknown */
};

struct config_gpu {
    char model[64]; /* e.g. "NVIDIA RTX PRO 6000 Blackwell" */
    int memory_gib; /* whole-GPU memory */
    bool whole;     /* true: no MIG; slices ignored */
    struct config_mig_slice slices[CONFIG_MAX_SLICE_KINDS];
    int n_slices;
    int line;       /* source line of the entry, for messages; 0 = unknown */
    int model_line; /* source line of `model:`, 0 = unknown */
    int mig_line;   /* source line of `mig:`, 0 = unknown */
};

struct config_node {
    char name[64];
    int cpu; /* cores */
    int memory_gib;
    int storage_gib;
    struct config_gpu gpus[CONFIG_MAX_GPUS_PER_NODE];
    int n_gpus;
    int line;
};

#define CONFIG_MAX_ARTIFACTS 256
#define CONFIG_MAX_IMAGES 64
#define CONFIG_ARTIFACT_NAME_MAX 256  /* bytes of an artifact name, with the NUL */
#define CONFIG_ARTIFACT_NAME_DEPTH 16 /* '/'-separated components of an artifact name */

/* An artifact the node cache pre-stages: verified by sha256 before it becomes visible. */
struct config_artifact {
    char name[CONFIG_ARTIFACT_NAME_MAX]; /* name in the store's index (unique), a relative
                                          * path such as "llama-3-8b/config.json" */
    char url[1024];                      /* https://, http:// or file:// */
    char sha256[65];                     /* lowercase hex */
    long long size;                      /* bytes, 0 = unknown */
    bool pinned;                         /* never evicted */
    int line;                            /* where the list item starts */
};

struct config_image {
    char ref[512]; /* container image reference to pre-pull */
    int line;
};

#define CONFIG_MAX_KEYS 128

struct config {
    char *path;                    /* file it came from, or "<string>" */
    int key_line[CONFIG_MAX_KEYS]; /* source line of each plain key, 0 = its default */
    char *log_level;

    struct {
        char *listen;       /* ADDR:PORT */
        char *token_listen; /* ADDR:PORT of the bearer-token-only listener, "" = none */
        char *public_url;   /* how users reach the portal */
        char *web_root;     /* built web UI (index.html ...) */
        long body_limit_bytes;
        long request_timeout_seconds;
        long max_connections;
        char *trusted_header;        /* "" = off; else e.g. X-Forwarded-User */
        char *trusted_sources;       /* comma-separated addresses allowed to send it */
        char *trusted_groups_header; /* "" = none; e.g. X-Forwarded-Groups */
        long max_connections_per_client;
        char *metrics_token_file; /* "" = /metrics for admins only */
        long hsts_seconds;        /* 0 = no Strict-Transport-Security */
    } server;

    struct {
        char *url; /* sqlite:///path, sqlite:path, or postgresql://... */
    } database;

    struct {
        long token_ttl_seconds;
        long login_max_failures; /* per user and per address within the window */
        long login_window_seconds;
        long audit_retention_days;
        char *admin_password_file; /* "" = <database dir>/admin-password */
        long token_max_ttl_seconds;
        char *sso_auto_create_group;       /* "" = SSO accounts are linked by hand */
        long workspace_ticket_ttl_seconds; /* single-use sign-in ticket of a workspace */
        long workspace_cookie_ttl_seconds; /* the workspace cookie it becomes */
        bool workspace_admin_access;       /* admins may open any ACTIVE workspace */
    } auth;

    struct {
        long whole_gpu_replicas; /* time-slicing replicas per whole GPU */
        long mig_replicas;       /* per MIG slice */
        bool rename_by_default;  /* advertise <name>.shared */
    } sharing;

    struct {
        struct config_node nodes[CONFIG_MAX_NODES];
        int n_nodes;
    } pool;

    struct {
        long cpu; /* defaults per booking */
        long memory_gib;
        long storage_gib;
        long max_hours;           /* longest window */
        long max_gpus;            /* most GPUs (physical units) in one booking */
        long start_grace_seconds; /* how far in the past starts_at may be */
        long max_advance_days;    /* how far ahead one may book */
        long ephemeral_gib;       /* node-local disk (emptyDir, container layers) per session */
        long turnaround_seconds;  /* a GPU unit stays unbookable this long after a booking */
    } session;

    struct {
        bool simulated; /* a test double (gpuaas-kubesim): bookings are real, no pod runs */
    } cluster;

    struct {
        long interval_seconds;
        long gc_interval_seconds;
        long max_attempts;
        long retry_base_seconds;
        long provision_timeout_seconds;
        long terminating_limit_seconds;
        long force_delete_after_seconds; /* 0 = never force-delete a Terminating session's pods */
        bool finalize_stuck;             /* remove finalizers of namespaces stuck Terminating */
        char *kubeconfig;                /* "" = in-cluster or $KUBECONFIG */
        char *namespace_prefix;
        char *platform; /* "openshift" or "kubernetes" */
        char *storage_class;
        char *ingress_namespace; /* router/ingress controller namespace */
        char *ingress_domain;    /* host = <namespace>.<domain> */
        char *ingress_class;
        char *expose;            /* "" (platform's), "route", "ingress" or "httproute" */
        char *gateway_name;      /* expose httproute: the parent Gateway */
        char *gateway_namespace; /* its namespace */
        char *gateway_section;   /* its listener (sectionName), "" = every listener */
        char *scc;               /* OpenShift SCC for the workspace SA, "" = none */
        char *tenant_cluster_role;
        char *workspace_image;
        char *workspace_command; /* shell words, "" = image default */
        long workspace_port;
        char *gate_image;    /* the workspace's authenticating proxy (nginx) */
        long gate_port;      /* the proxy's port: the only one Service and Route reach */
        char *gate_auth_url; /* the gpuaas server as the proxy reaches it */
        long home_gib;
        long model_cache_gib;
        char *http_proxy;
        char *https_proxy;
        char *no_proxy;
        /* model-server images gpuaas-serve starts in sessions (ConfigMap gpuaas-serve) */
        char *serve_vllm_image;
        char *serve_ollama_image;
        char *serve_tgi_image;
        char *serve_triton_image;
        char *dcgm_url;             /* "" = no GPU telemetry scrape */
        long dcgm_interval_seconds; /* scrape period */
        long dcgm_timeout_seconds;  /* whole-request limit of one scrape */
        char *dcgm_token_file;      /* bearer token for the scrape, "" = none */
        char *dcgm_ca_file;         /* CA bundle for https, "" = system CAs */
        bool leader_election;
        /* session egress (NetworkPolicy allow-egress, docs/security.md) */
        char *egress_cidrs;       /* comma-separated CIDRs reached directly, "" = none */
        char *egress_except;      /* CIDRs never reached directly (cluster, metadata) */
        char *egress_proxy;       /* "CIDR:PORT,..." of the HTTP proxies, "" = none */
        char *platform_namespace; /* where gpuaas-server runs (workspace proxy -> auth) */
        long server_port;         /* gpuaas-server's pod port the workspace proxy calls */
    } reconciler;

    struct {
        bool enabled;     /* sessions mount the store read-only */
        char *listen;     /* status/metrics/prefetch endpoint */
        char *store_dir;  /* content-addressed store on the node */
        char *host_path;  /* the store as sessions mount it ("" = store_dir) */
        char *mount_path; /* where the workspace sees it */
        char *env;        /* NAME=VALUE pairs (comma-separated) for the workspace */
        long budget_gib;
        long long budget_bytes;   /* budget_gib in bytes, derived at validation; tests may
                                   * lower it to exercise eviction with small files */
        long max_parallel;        /* concurrent downloads */
        long ranges;              /* parallel ranges per large download */
        long range_min_mib;       /* files at least this large use parallel ranges */
        long retries;             /* attempts per artifact or image */
        long retry_delay_seconds; /* first retry delay, doubling */
        char *proxy;              /* "" = environment (HTTPS_PROXY...) */
        char *token_file;         /* admin token for POST /prefetch ("" = $GPUAAS_CACHE_TOKEN) */
        char *image_pull_command; /* argv words; the image reference is appended */
        struct config_artifact *artifacts;
        int n_artifacts;
        struct config_image *images;
        int n_images;
    } cache;
};

/* Loads and validates a file, MIG layouts included (mig_layout_validate). On failure fills
 * err with "FILE:LINE: key: why". */
int config_load_file(const char *path, struct config **ret, struct error *err);
/* Same from a string already in memory (tests). `name` appears in messages. */
int config_load_string(const char *text, size_t len, const char *name, struct config **ret,
                       struct error *err);
/* A config with every default and an empty pool. */
struct config *config_new_default(void);
void config_free(struct config *c);

/* Source line of plain key `name` ("session.cpu") in c's file, 0 when it took its default. */
int config_key_line(const struct config *c, const char *name);

/* Writes one line per key: name, type, default, bounds, help. */
void config_print_help(FILE *out);

/* Replaces a string field (frees the old value). Returns 0 or -ERR_NOMEM. */
int config_set_string(char **field, const char *value);

/* True when s is a valid artifact name: a relative path of 1..CONFIG_ARTIFACT_NAME_DEPTH
 * '/'-separated components, none empty, "." or "..", no control characters, shorter than
 * CONFIG_ARTIFACT_NAME_MAX bytes. The cache store uses it for every name it links. */
bool config_artifact_name_valid(const char *s);
/* True when one name is a directory of the other ("m" and "m/config.json"): both cannot be
 * links in the store's name index. */
bool config_artifact_names_clash(const char *a, const char *b);
/* True when s is a container image reference: [HOST[:PORT]/]PATH[:TAG][@sha256:HEX], starting
 * with a letter or digit, at most 255 characters (never an option such as "--help"). */
bool config_image_ref_valid(const char *s);
/* True when s is IPV4:PORT with a dotted-quad address and a port 1..65535. */
bool config_listen_valid(const char *s);

#endif
