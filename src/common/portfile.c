/* Reporting a daemon's bound port (see portfile.h). */
#include "common/portfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int port_file_write(const char *path, int port, const char *field, struct error *err)
{
    char tmp[PATH_MAX], text[16];
    if (port < 1 || port > 65535)
        return error_set(err, ERR_INVALID, field, "%s: no port to write (%d)", field, port);
    int n = snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return error_set(err, ERR_INVALID, field, "%s: the path is too long", field);
    int len = snprintf(text, sizeof(text), "%d\n", port);
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return error_set(err, ERR_IO, field, "%s: cannot create %s: %s", field, tmp,
                         strerror(errno));
    if (write(fd, text, (size_t)len) != len)
        rc = error_set(err, ERR_IO, field, "%s: cannot write %s: %s", field, tmp, strerror(errno));
    if (close(fd) < 0 && rc == 0)
        rc = error_set(err, ERR_IO, field, "%s: cannot write %s: %s", field, tmp, strerror(errno));
    if (rc == 0 && rename(tmp, path) < 0)
        rc = error_set(err, ERR_IO, field, "%s: cannot rename %s to %s: %s", field, tmp, path,
                       strerror(errno));
    if (rc < 0)
        unlink(tmp);
    return rc;
}

int listen_split(const char *listen, char *host, size_t host_len, int *port, const char *field,
                 struct error *err)
{
    const char *colon = listen ? strrchr(listen, ':') : NULL;
    if (!colon || (size_t)(colon - listen) >= host_len)
        return error_set(err, ERR_INVALID, field, "%s: expected ADDR:PORT, got \"%s\"", field,
                         listen ? listen : "");
    const char *p = colon + 1;
    size_t digits = strspn(p, "0123456789");
    long v = 0;
    for (size_t i = 0; i < digits && i < 6; i++)
        v = v * 10 + (p[i] - '0');
    if (digits == 0 || digits > 5 || p[digits] || v > 65535)
        return error_set(err, ERR_INVALID, field, "%s: bad port in \"%s\" (0 to 65535)", field,
                         listen);
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    *port = (int)v;
    return 0;
}
