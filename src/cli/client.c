/* The REST client shared by every CLI command (libcurl easy handle + jansson). */
#include "cli/client.h"

#include "common/error.h"
#include "common/strbuf.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_SERVER "http://127.0.0.1:8080"
#define ANSWER_MAX (16u << 20) /* largest answer we buffer */

static int config_dir(char *buf, size_t size)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    int n;
    if (xdg && xdg[0] == '/')
        n = snprintf(buf, size, "%s/gpuaas", xdg);
    else {
        const char *home = getenv("HOME");
        if (!home || home[0] != '/')
            return -ERR_INVALID;
        n = snprintf(buf, size, "%s/.config/gpuaas", home);
    }
    return n > 0 && (size_t)n < size ? 0 : -ERR_TOO_LARGE;
}

int client_credentials_path(char *buf, size_t size)
{
    char dir[1024];
    int rc = config_dir(dir, sizeof(dir));
    if (rc < 0)
        return rc;
    int n = snprintf(buf, size, "%s/credentials", dir);
    return n > 0 && (size_t)n < size ? 0 : -ERR_TOO_LARGE;
}

static void copy_server(struct client *c, const char *url)
{
    snprintf(c->server, sizeof(c->server), "%s", url);
    size_t n = strlen(c->server);
    while (n > 0 && c->server[n - 1] == '/')
        c->server[--n] = '\0';
}

int client_load(struct client *c, const char *server_flag)
{
    memset(c, 0, sizeof(*c));
    copy_server(c, DEFAULT_SERVER);
    char path[1100];
    if (client_credentials_path(path, sizeof(path)) == 0) {
        json_error_t jerr;
        json_t *j = json_load_file(path, 0, &jerr);
        if (j) {
            const char *s = json_string_value(json_object_get(j, "server"));
            const char *t = json_string_value(json_object_get(j, "token"));
            if (s && *s)
                copy_server(c, s);
            if (t && strlen(t) < sizeof(c->token))
                snprintf(c->token, sizeof(c->token), "%s", t);
            json_decref(j);
        }
    }
    const char *env = getenv("GPUAAS_SERVER");
    if (env && *env)
        copy_server(c, env);
    env = getenv("GPUAAS_TOKEN");
    if (env && *env && strlen(env) < sizeof(c->token))
        snprintf(c->token, sizeof(c->token), "%s", env);
    if (server_flag && *server_flag)
        copy_server(c, server_flag);
    return 0;
}

static int mkdir_private(const char *dir)
{
    /* Create parents (~/.config) as usual, the gpuaas directory itself 0700. */
    char tmp[1024];
    snprintf(tmp, sizeof(tmp), "%s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
            return -ERR_IO;
        *p = '/';
    }
    if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
        return -ERR_IO;
    return chmod(tmp, 0700) < 0 ? -ERR_IO : 0;
}

int client_save(const struct client *c)
{
    char dir[1024], path[1100], tmp[1200];
    int rc = config_dir(dir, sizeof(dir));
    if (rc < 0)
        return rc;
    if (mkdir_private(dir) < 0)
        return -ERR_IO;
    snprintf(path, sizeof(path), "%s/credentials", dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    json_t *j = json_pack("{s:s, s:s}", "server", c->server, "token", c->token);
    char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    json_decref(j);
    if (!text)
        return -ERR_NOMEM;
    rc = -ERR_IO;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        goto out;
    size_t len = strlen(text);
    if (fchmod(fd, 0600) < 0 || write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
        fsync(fd) < 0) {
        close(fd);
        unlink(tmp);
        goto out;
    }
    if (close(fd) < 0 || rename(tmp, path) < 0) {
        unlink(tmp);
        goto out;
    }
    rc = 0;
out:
    free(text);
    return rc;
}

int client_forget(void)
{
    char path[1100];
    int rc = client_credentials_path(path, sizeof(path));
    if (rc < 0)
        return rc;
    if (unlink(path) < 0 && errno != ENOENT)
        return -ERR_IO;
    return 0;
}

int client_request(const struct client *c, const char *method, const char *path, const json_t *body,
                   long *ret_status, json_t **ret_json)
{
    int rc = -ERR_IO;
    char url[CLIENT_URL_MAX + 2048];
    char auth[CLIENT_TOKEN_MAX + 32];
    char *payload = NULL;
    struct sb_body b = SB_BODY_INIT(ANSWER_MAX);
    struct curl_slist *hdr = NULL;
    CURL *h = NULL;

    if ((size_t)snprintf(url, sizeof(url), "%s%s", c->server, path) >= sizeof(url)) {
        fprintf(stderr, "gpuaas: request URL too long\n");
        return -ERR_TOO_LARGE;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    h = curl_easy_init();
    if (!h)
        goto out;
    hdr = curl_slist_append(hdr, "Accept: application/json");
    if (c->token[0]) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->token);
        hdr = curl_slist_append(hdr, auth);
    }
    if (body) {
        payload = json_dumps(body, JSON_COMPACT);
        if (!payload) {
            rc = -ERR_NOMEM;
            goto out;
        }
        hdr = curl_slist_append(hdr, "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload);
    } else if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        /* the server refuses a state-changing request without it, body or not (CSRF) */
        hdr = curl_slist_append(hdr, "Content-Type: application/json");
        if (!strcmp(method, "POST"))
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sb_body_curl_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        fprintf(stderr, "gpuaas: cannot reach %s: %s\n", c->server,
                b.too_large ? "answer too large" : curl_easy_strerror(cc));
        goto out;
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    json_t *j = NULL;
    if (b.sb.len > 0) {
        json_error_t jerr;
        j = json_loadb(b.sb.buf, b.sb.len, 0, &jerr);
    }
    *ret_status = status;
    *ret_json = j;
    rc = 0;
out:
    curl_slist_free_all(hdr);
    if (h)
        curl_easy_cleanup(h);
    free(payload);
    sb_release(&b.sb);
    return rc;
}

void client_print_error(long status, const json_t *answer)
{
    const json_t *e = json_object_get(answer, "error");
    const char *msg = json_string_value(json_object_get(e, "message"));
    const char *field = json_string_value(json_object_get(e, "field"));
    if (msg)
        fprintf(stderr, "gpuaas: %s\n", msg);
    else if (status == 401)
        fprintf(stderr, "gpuaas: not logged in or token expired (run 'gpuaas login')\n");
    else
        fprintf(stderr, "gpuaas: server answered HTTP %ld\n", status);
    if (field && *field && msg && !strstr(msg, field))
        fprintf(stderr, "  field: %s\n", field);
    const json_t *next = json_object_get(e, "next_available");
    if (!next)
        next = json_object_get(answer, "next_available");
    const char *s = json_string_value(json_object_get(next, "starts_at"));
    const char *t = json_string_value(json_object_get(next, "ends_at"));
    if (status == 409 && s && t)
        fprintf(stderr, "  next available: %s - %s\n", s, t);
    else if (status == 409 && next)
        fprintf(stderr, "  no window of that length fits within the booking horizon\n");
}

int client_query_add(char *buf, size_t size, const char *key, const char *value)
{
    char *esc = curl_easy_escape(NULL, value, 0);
    if (!esc)
        return -ERR_NOMEM;
    size_t len = strlen(buf);
    int n = snprintf(buf + len, size - len, "%c%s=%s", strchr(buf, '?') ? '&' : '?', key, esc);
    curl_free(esc);
    if (n < 0 || (size_t)n >= size - len) {
        buf[len] = '\0';
        return -ERR_TOO_LARGE;
    }
    return 0;
}
