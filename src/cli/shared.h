/* Helpers several `gpuaas` commands share. They live here, not in the command that needed
 * them first, so that no cmd_*.c includes another. */
#ifndef GPUAAS_CLI_SHARED_H
#define GPUAAS_CLI_SHARED_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

struct config;
struct error;

/* Resolves the configuration path: --config value, else $GPUAAS_CONFIG, else NULL. */
const char *cli_config_path(const char *flag_value);

/* cli_config_path(), or NULL after "WHO: no configuration (--config FILE or GPUAAS_CONFIG)"
 * on stderr when there is none (the caller exits 2). */
const char *cli_require_config(const char *who, const char *flag_value);

/* Reads one line of at most size-1 bytes into buf, without its line end. 0, or -1 at end of
 * input or when the line is longer. */
int cli_read_line(FILE *in, char *buf, size_t size);

/* Reads a password from stdin (one line) or, without from_stdin, from the terminal without
 * echo. 0, or -1 with a message on stderr. */
int cli_read_password(int from_stdin, const char *prompt, char *buf, size_t size);

/* Checks the files the cache settings name (cache.token_file is readable); the message
 * names the configuration file and the key. Used by `config check` and the cache daemon. */
int cli_cache_check_files(const struct config *c, struct error *err);

/* Booked fraction of the pool's GPU capacity over [from, to) from the database named by the
 * configuration file at config_path (tokenomics "measured" utilization; measured.c). */
int cli_measured_utilization(const char *config_path, int64_t from, int64_t to, double *ret,
                             struct error *err);

#endif
