/* In-use detection through /proc. */
#include "cache/cache_inuse.h"

#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int add(char ***v, int *n, int *cap, const char *hex)
{
    for (int i = 0; i < *n; i++)
        if (!strcmp((*v)[i], hex))
            return 0;
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 16;
        char **nv = realloc(*v, (size_t)nc * sizeof(char *));
        if (!nv)
            return -1;
        *v = nv;
        *cap = nc;
    }
    if (!((*v)[*n] = strdup(hex)))
        return -1;
    (*n)++;
    return 0;
}

/* If path is <blobs>/<64 hex>, returns the hex. */
static const char *blob_hex(const char *path, const char *blobs, size_t blen)
{
    if (strncmp(path, blobs, blen) || path[blen] != '/')
        return NULL;
    const char *h = path + blen + 1;
    size_t n = 0;
    while (isxdigit((unsigned char)h[n]))
        n++;
    return n == 64 && (h[64] == 0 || h[64] == ' ' || h[64] == '\n') ? h : NULL;
}

int cache_in_use(const char *store_dir, char ***hexes)
{
    char blobs[PATH_MAX], real[PATH_MAX];
    if (!realpath(store_dir, real))
        return -1;
    snprintf(blobs, sizeof(blobs), "%s/blobs/sha256", real);
    size_t blen = strlen(blobs);
    char **v = NULL;
    int n = 0, cap = 0;
    DIR *proc = opendir("/proc");
    struct dirent *pe;
    while (proc && (pe = readdir(proc))) {
        if (!isdigit((unsigned char)pe->d_name[0]))
            continue;
        char p[PATH_MAX], target[PATH_MAX], hex[65];
        snprintf(p, sizeof(p), "/proc/%s/fd", pe->d_name);
        DIR *fds = opendir(p);
        struct dirent *fe;
        while (fds && (fe = readdir(fds))) {
            char lp[PATH_MAX];
            snprintf(lp, sizeof(lp), "%s/%s", p, fe->d_name);
            ssize_t k = readlink(lp, target, sizeof(target) - 1);
            if (k <= 0)
                continue;
            target[k] = 0;
            const char *h = blob_hex(target, blobs, blen);
            if (h) {
                memcpy(hex, h, 64);
                hex[64] = 0;
                add(&v, &n, &cap, hex);
            }
        }
        if (fds)
            closedir(fds);
        snprintf(p, sizeof(p), "/proc/%s/maps", pe->d_name);
        FILE *f = fopen(p, "r");
        char line[PATH_MAX + 256];
        while (f && fgets(line, sizeof(line), f)) {
            char *path = strchr(line, '/');
            const char *h = path ? blob_hex(path, blobs, blen) : NULL;
            if (h) {
                memcpy(hex, h, 64);
                hex[64] = 0;
                add(&v, &n, &cap, hex);
            }
        }
        if (f)
            fclose(f);
    }
    if (proc)
        closedir(proc);
    *hexes = v;
    return n;
}

void cache_in_use_free(char **hexes, int n)
{
    for (int i = 0; i < n; i++)
        free(hexes[i]);
    free(hexes);
}
