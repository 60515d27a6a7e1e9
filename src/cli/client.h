/* The REST client shared by every CLI command: where the server is, the saved token, one
 * JSON request helper (libcurl + jansson) and the way server errors are shown. */
#ifndef GPUAAS_CLI_CLIENT_H
#define GPUAAS_CLI_CLIENT_H

#include <jansson.h>
#include <stddef.h>

#define CLIENT_URL_MAX 512
#define CLIENT_TOKEN_MAX 256

struct client {
    char server[CLIENT_URL_MAX];  /* "http://127.0.0.1:8080", no trailing slash */
    char token[CLIENT_TOKEN_MAX]; /* "" when not logged in */
};

/* Path of the credentials file: $XDG_CONFIG_HOME/gpuaas/credentials, else
 * ~/.config/gpuaas/credentials. 0, or -ERR_INVALID when neither variable is usable. */
int client_credentials_path(char *buf, size_t size);

/* Fills c from the credentials file, then $GPUAAS_SERVER / $GPUAAS_TOKEN override, then
 * server_flag (may be NULL) overrides the server. Missing file is not an error. The default
 * server is http://127.0.0.1:8080. Returns 0 or -ERR_*. */
int client_load(struct client *c, const char *server_flag);

/* Writes server + token to the credentials file (directory 0700, file 0600, atomically). */
int client_save(const struct client *c);
/* Removes the credentials file; 0 also when it was absent. */
int client_forget(void);

/* Sends method path (path starts with "/", query included) with body (NULL for none) and
 * the bearer token when set. On a completed exchange returns 0, *ret_status is the HTTP
 * status and *ret_json the parsed body (NULL when empty or not JSON; caller json_decref).
 * Returns -ERR_IO when the server could not be reached, with a message on stderr. */
int client_request(const struct client *c, const char *method, const char *path, const json_t *body,
                   long *ret_status, json_t **ret_json);

/* Prints a server error answer ("gpuaas: message", plus next_available on 409) to stderr. */
void client_print_error(long status, const json_t *answer);

/* Appends `key=value` (value URL-escaped) to a query string buffer, with '?' or '&'.
 * Returns 0 or -ERR_TOO_LARGE. */
int client_query_add(char *buf, size_t size, const char *key, const char *value);

#endif
