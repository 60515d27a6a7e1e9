/* `gpuaas cache`: the node cache daemon, a one-shot fetch, and its status. */
#include "cache/cache_daemon.h"
#include "cache/cache_fetch.h"
#include "cache/cache_http.h"
#include "cli/commands.h"
#include "cli/shared.h"
#include "common/args.h"
#include "common/log.h"
#include "common/portfile.h"
#include "common/strbuf.h"
#include "common/timeutil.h"
#include "core/config.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(
        out,
        "Usage: gpuaas cache [--config FILE] [--listen ADDR:PORT]     run the node cache daemon\n"
        "                    [--port-file PATH]  (port 0: the kernel picks one; the bound port\n"
        "                                        is written to PATH, atomically, once listening)\n"
        "       gpuaas cache fetch --store DIR --sha256 HEX [--name NAME] [--size BYTES]\n"
        "                          [--ranges N] [--proxy URL] [--pin] URL\n"
        "                                                              fetch one artifact and "
        "exit\n"
        "       gpuaas cache status [--url URL] [-o table|json]        what the daemon holds\n"
        "       gpuaas cache hash FILE                                 sha256 as the cache "
        "computes it\n\n"
        "The daemon pre-stages the artifacts and images listed under `cache:` in the\n"
        "configuration (--config, else $GPUAAS_CONFIG) and serves GET /status, GET /metrics and\n"
        "POST /prefetch (admin token from cache.token_file or $GPUAAS_CACHE_TOKEN).\n");
}

#define CACHE_TOKEN_FILE_MAX (1u << 20) /* a token file larger than this is refused */
#define STATUS_MAX_BYTES (16u << 20)    /* the largest /status answer read */

static volatile sig_atomic_t stop_flag;
static void on_signal(int s)
{
    stop_flag = s;
}

/* The admin token: the first line of file (cut to len - 1 bytes), else $GPUAAS_CACHE_TOKEN,
 * else "". 0, or -1 when the file cannot be read. */
static int read_token(const char *file, char *buf, size_t len)
{
    const char *env = getenv("GPUAAS_CACHE_TOKEN");
    buf[0] = 0;
    if (file && *file) {
        char *text = NULL;
        if (read_file(file, CACHE_TOKEN_FILE_MAX, &text, NULL, NULL) < 0)
            return -1;
        size_t n = strcspn(text, "\r\n");
        snprintf(buf, len, "%.*s", (int)n, text);
        explicit_bzero(text, strlen(text));
        free(text);
    } else if (env) {
        snprintf(buf, len, "%s", env);
    }
    return 0;
}

static int run_daemon(int argc, char **argv)
{
    const char *cfg_flag = NULL, *listen = NULL, *port_file = NULL;
    const struct cli_opt opts[] = {{"--config", NULL, &cfg_flag, NULL},
                                   {"--listen", NULL, &listen, NULL},
                                   {"--port-file", NULL, &port_file, NULL}};
    size_t npos;
    if (cli_parse_as("gpuaas cache", argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos))
        return 2;
    const char *path = cli_require_config("gpuaas cache", cfg_flag);
    if (!path)
        return 2;
    struct config *c = NULL;
    struct cache_daemon *d = NULL;
    struct cache_http *h = NULL;
    struct error err = {0};
    char token[256];
    int rc = 1;
    if (config_load_file(path, &c, &err) < 0)
        goto fail;
    log_set_level(c->log_level);
    if (cli_cache_check_files(c, &err) < 0)
        goto fail;
    if (read_token(c->cache.token_file, token, sizeof(token)) < 0) {
        error_set(&err, ERR_IO, "cache.token_file", "%s: cache.token_file: %s: cannot read: %s",
                  c->path, c->cache.token_file, strerror(errno));
        goto fail;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (cache_daemon_new(c, &d, &err) < 0 || cache_daemon_start(d, &err) < 0 ||
        cache_http_start(d, listen ? listen : c->cache.listen, token, &h, &err) < 0)
        goto fail;
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* last: whoever waits for the file may signal the daemon at once */
    if (port_file && port_file_write(port_file, cache_http_port(h), "--port-file", &err) < 0)
        goto fail;
    log_info("cache daemon started", "listen=%s port=%d store=%s artifacts=%d images=%d",
             listen ? listen : c->cache.listen, cache_http_port(h), c->cache.store_dir,
             c->cache.n_artifacts, c->cache.n_images);
    while (!stop_flag)
        pause();
    log_info("cache daemon stopping", "signal=%d", (int)stop_flag);
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "gpuaas cache: %s\n", err.message);
out:
    cache_http_stop(h);
    cache_daemon_free(d);
    config_free(c);
    return rc;
}

static int run_fetch(int argc, char **argv)
{
    const char *store = NULL, *hex = NULL, *name = NULL, *proxy = NULL, *url = NULL;
    const char *size_s = NULL, *ranges_s = NULL;
    int pin = 0;
    const struct cli_opt opts[] = {
        {"--store", NULL, &store, NULL}, {"--sha256", NULL, &hex, NULL},
        {"--name", NULL, &name, NULL},   {"--proxy", NULL, &proxy, NULL},
        {"--size", NULL, &size_s, NULL}, {"--ranges", NULL, &ranges_s, NULL},
        {"--pin", NULL, NULL, &pin},
    };
    size_t npos = 0;
    if (cli_parse_as("gpuaas cache fetch", argc, argv, opts, ARRAY_SIZE(opts), &url, 1, &npos))
        return 2;
    long long size = size_s ? atoll(size_s) : 0;
    int ranges = ranges_s ? atoi(ranges_s) : 4;
    if (!store || !hex || !url || size < 0 || ranges < 1 || ranges > 32 || strlen(hex) != 64 ||
        strspn(hex, "0123456789abcdef") != 64) {
        fprintf(stderr, "gpuaas cache fetch: --store DIR, --sha256 (64 lowercase hex digits) and "
                        "URL are required\n");
        return 2;
    }
    char defname[CONFIG_ARTIFACT_NAME_MAX];
    if (!name) {
        const char *slash = strrchr(url, '/');
        snprintf(defname, sizeof(defname), "%s", slash && slash[1] ? slash + 1 : hex);
        defname[strcspn(defname, "?#")] = 0;
        name = defname;
    }
    struct cstore *st = NULL;
    struct error err = {0};
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct fetch_opts o = {.proxy = proxy, .ranges = ranges, .range_min = 64LL << 20};
    if (cstore_open(store, &st, &err) < 0 ||
        cache_fetch(st, url, hex, name, size, pin != 0, &o, time_now(), &err) < 0) {
        fprintf(stderr, "gpuaas cache fetch: %s\n", err.message);
        cstore_close(st);
        return 1;
    }
    printf("%s/names/%s\n", store, name);
    cstore_close(st);
    return 0;
}

static void bar(char *out, size_t len, long long done, long long total)
{
    int width = 24, fill = total > 0 ? (int)(width * (double)done / (double)total) : 0;
    if (fill > width)
        fill = width;
    snprintf(out, len, "[%.*s%*s] %3.0f%%", fill, "########################", width - fill, "",
             total > 0 ? 100.0 * (double)done / (double)total : 0.0);
}

static int run_status(int argc, char **argv)
{
    const char *url = getenv("GPUAAS_CACHE_URL"), *format = "table";
    const struct cli_opt opts[] = {{"--url", NULL, &url, NULL}, {"-o", NULL, &format, NULL}};
    size_t npos;
    if (cli_parse_as("gpuaas cache status", argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos))
        return 2;
    if (strcmp(format, "table") && strcmp(format, "json")) {
        fprintf(stderr, "gpuaas cache status: -o takes table or json\n");
        return 2;
    }
    char full[1024];
    snprintf(full, sizeof(full), "%s/status", url ? url : "http://127.0.0.1:8090");
    struct sb_body body = SB_BODY_INIT(STATUS_MAX_BYTES);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, full);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sb_body_curl_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    json_error_t je;
    json_t *doc = rc == CURLE_OK ? json_loadb(body.sb.buf, body.sb.len, 0, &je) : NULL;
    sb_release(&body.sb);
    if (!doc) {
        fprintf(stderr, "gpuaas cache status: %s: %s\n", full,
                rc == CURLE_OK   ? "not a status document"
                : body.too_large ? "answer too large"
                                 : curl_easy_strerror(rc));
        return 1;
    }
    if (!strcmp(format, "json")) {
        char *s = json_dumps(doc, JSON_INDENT(2));
        puts(s ? s : "{}");
        free(s);
        json_decref(doc);
        return 0;
    }
    bool tty = isatty(STDOUT_FILENO);
    printf("%-32s %-12s %-34s %s\n", "ARTIFACT", "STATE", tty ? "PROGRESS" : "BYTES", "DETAIL");
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(doc, "artifacts"), i, a)
    {
        const char *state = json_string_value(json_object_get(a, "state"));
        long long done = json_integer_value(json_object_get(a, "bytes_done"));
        long long total = json_integer_value(json_object_get(a, "bytes_total"));
        char prog[64] = "", detail[600] = "";
        if (!strcmp(state, "downloading")) {
            double rate = json_number_value(json_object_get(a, "rate_bytes_per_second"));
            if (tty)
                bar(prog, sizeof(prog), done, total);
            else
                snprintf(prog, sizeof(prog), "%lld/%lld", done, total);
            snprintf(detail, sizeof(detail), "%.1f MiB/s", rate / 1048576.0);
        } else {
            snprintf(prog, sizeof(prog), "%lld",
                     (long long)json_integer_value(json_object_get(a, "size")));
            const char *reason = json_string_value(json_object_get(a, "reason"));
            snprintf(detail, sizeof(detail), "%s%s",
                     json_is_true(json_object_get(a, "pinned")) ? "pinned " : "",
                     reason ? reason : "");
        }
        printf("%-32s %-12s %-34s %s\n", json_string_value(json_object_get(a, "name")), state, prog,
               detail);
    }
    json_array_foreach(json_object_get(doc, "images"), i, a)
    {
        const char *reason = json_string_value(json_object_get(a, "reason"));
        printf("%-32s %-12s %-34s %s\n", json_string_value(json_object_get(a, "image")),
               json_string_value(json_object_get(a, "state")), "image", reason ? reason : "");
    }
    json_t *s = json_object_get(doc, "store");
    printf("\nstore: %.1f of %.1f GiB used\n",
           (double)json_integer_value(json_object_get(s, "used_bytes")) / 1073741824.0,
           (double)json_integer_value(json_object_get(s, "budget_bytes")) / 1073741824.0);
    json_decref(doc);
    return 0;
}

int cmd_cache(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (argc >= 2 && !strcmp(argv[1], "fetch"))
        return run_fetch(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "status"))
        return run_status(argc - 1, argv + 1);
    if (argc == 3 && !strcmp(argv[1], "hash")) {
        char hex[65];
        struct error err = {0};
        if (sha256_file(argv[2], hex, &err) < 0) {
            fprintf(stderr, "gpuaas cache hash: %s\n", err.message);
            return 1;
        }
        printf("%s  %s\n", hex, argv[2]);
        return 0;
    }
    return run_daemon(argc, argv);
}
