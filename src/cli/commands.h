/* Subcommands of the `gpuaas` executable. Each returns the process exit status
 * (0 success, 1 failure, 2 usage error) and handles its own `--help`. */
#ifndef GPUAAS_CLI_COMMANDS_H
#define GPUAAS_CLI_COMMANDS_H

#include <stddef.h>
#include <stdint.h>

struct command {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
    const char *summary;
};

int cmd_config(int argc, char **argv);
int cmd_server(int argc, char **argv);
int cmd_login(int argc, char **argv);
int cmd_logout(int argc, char **argv);
int cmd_pool(int argc, char **argv);
int cmd_capacity(int argc, char **argv);
int cmd_reserve(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_cancel(int argc, char **argv);
int cmd_extend(int argc, char **argv);
int cmd_release(int argc, char **argv);
int cmd_user(int argc, char **argv);
struct config;
struct error;
int cmd_cache(int argc, char **argv);
/* Checks the files the cache settings name (cache.token_file is readable); the message
 * names the configuration file and the key. Used by `config check` and the daemon. */
int cli_cache_check_files(const struct config *c, struct error *err);
int cmd_tokenomics(int argc, char **argv);

/* Booked fraction of the pool's GPU capacity over [from, to) from the database named by the
 * configuration file at config_path (tokenomics "measured" utilization). */
struct error;
int cli_measured_utilization(const char *config_path, int64_t from, int64_t to, double *ret,
                             struct error *err);
int cmd_deploy(int argc, char **argv);
int cmd_reconciler(int argc, char **argv);
int cmd_gpu_config(int argc, char **argv);
int cmd_gpu_discover(int argc, char **argv);

/* True when argv holds -h or --help. */
int cli_wants_help(int argc, char **argv);
/* Resolves the configuration path: --config value, else $GPUAAS_CONFIG, else NULL. */
const char *cli_config_path(const char *flag_value);
/* Reads a password from stdin (one line) or, without from_stdin, from the terminal without
 * echo. 0, or -1 with a message on stderr. */
int cli_read_password(int from_stdin, const char *prompt, char *buf, size_t size);

#endif
