/* The static web UI: maps a request path to a file under the web root, with its
 * Content-Type and Cache-Control. Refuses path traversal; unknown paths without an
 * extension fall back to index.html (client-side routes). */
#ifndef GPUAAS_SERVER_WEBROOT_H
#define GPUAAS_SERVER_WEBROOT_H

#include <stdint.h>

struct web_file {
    int fd; /* open, O_CLOEXEC; the caller closes or hands it to MHD */
    uint64_t size;
    const char *content_type;
    const char *cache_control;
};

/* 0 and *ret; -ERR_NOT_FOUND when there is no such file (or the path is refused). */
int web_open(const char *root, const char *path, struct web_file *ret);

/* Shown when the web root holds no index.html. */
extern const char web_placeholder_html[];

#endif
