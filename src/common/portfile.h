/* The port a daemon listens on, reported to whoever started it with port 0.
 *
 * A test (or a supervisor) that hands a daemon a port it picked itself races every other
 * process for that port between its choice and the daemon's bind. Instead it asks for port 0,
 * the kernel picks a free port in the daemon's own bind, and the daemon writes the number to a
 * file named on its command line (`--port-file PATH`, `--health-port-file PATH`), which the
 * starter waits for. */
#ifndef GPUAAS_COMMON_PORTFILE_H
#define GPUAAS_COMMON_PORTFILE_H

#include "common/error.h"

#include <stddef.h>

/* Writes "PORT\n" to path, atomically: to a temporary file beside it (path.PID.tmp), then
 * rename(2) over path, so a reader finds no file or the whole number, never part of it. Call it
 * once listen(2) has succeeded: from then on, connections to the port are accepted (the kernel
 * queues them until the daemon's thread takes them), so the file's appearance is the signal
 * that the daemon is reachable. field names the option in the error. 0, or -ERR_INVALID (port
 * out of 1..65535) or -ERR_IO with err filled. */
int port_file_write(const char *path, int port, const char *field, struct error *err);

/* "ADDR:PORT" into host (NUL-terminated, at most host_len - 1 bytes) and *port, 0..65535 (0:
 * the kernel picks). The port is decimal digits only. 0, or -ERR_INVALID with err filled
 * (field names the option or key). */
int listen_split(const char *listen, char *host, size_t host_len, int *port, const char *field,
                 struct error *err);

#endif
