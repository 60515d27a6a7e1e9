/* Static web UI files (see webroot.h). */
#include "server/webroot.h"
#include "common/util.h"

#include "common/error.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char web_placeholder_html[] =
    "<!doctype html><html><head><meta charset=\"utf-8\"><title>gpuaas</title></head>"
    "<body><h1>gpuaas</h1><p>The web UI is not built. The REST API is served under "
    "<code>/api/v1</code>; its description is <a href=\"/api/v1/openapi.json\">"
    "/api/v1/openapi.json</a>.</p></body></html>\n";

static const struct {
    const char *ext;
    const char *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".jpg", "image/jpeg"},
    {".jpeg", "image/jpeg"},
    {".gif", "image/gif"},
    {".ico", "image/x-icon"},
    {".webp", "image/webp"},
    {".woff", "font/woff"},
    {".woff2", "font/woff2"},
    {".txt", "text/plain; charset=utf-8"},
    {".map", "application/json"},
    {".wasm", "application/wasm"},
};

static const char *type_of(const char *path)
{
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (dot && (!slash || dot > slash))
        for (size_t i = 0; i < ARRAY_SIZE(types); i++)
            if (!strcasecmp(dot, types[i].ext))
                return types[i].type;
    return "application/octet-stream";
}

/* True when path is absolute, has no "." / ".." segment, no backslash and no "//". */
static bool safe_path(const char *path)
{
    if (path[0] != '/' || strchr(path, '\\') || strstr(path, "//"))
        return false;
    for (const char *p = path; *p;) {
        p++; /* skip '/' */
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        if (!e)
            break;
        p = e;
    }
    return true;
}

static int open_regular(const char *root, const char *rel, struct web_file *ret)
{
    char full[4096];
    struct stat sb;
    if (snprintf(full, sizeof(full), "%s%s", root, rel) >= (int)sizeof(full))
        return -ERR_NOT_FOUND;
    int fd = open(full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -ERR_NOT_FOUND;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return -ERR_NOT_FOUND;
    }
    ret->fd = fd;
    ret->size = (uint64_t)sb.st_size;
    ret->content_type = type_of(rel);
    ret->cache_control =
        !strncmp(rel, "/assets/", 8) ? "public, max-age=31536000, immutable" : "no-cache";
    return 0;
}

int web_open(const char *root, const char *path, struct web_file *ret)
{
    if (!root || !*root || !safe_path(path) || strlen(path) > 1024)
        return -ERR_NOT_FOUND;
    if (!strcmp(path, "/"))
        return open_regular(root, "/index.html", ret);
    if (open_regular(root, path, ret) == 0)
        return 0;
    const char *last = strrchr(path, '/');
    if (strchr(last, '.') || !strncmp(path, "/assets/", 8))
        return -ERR_NOT_FOUND;
    return open_regular(root, "/index.html", ret);
}
