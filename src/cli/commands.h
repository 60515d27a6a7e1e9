/* Subcommands of the `gpuaas` executable. Each returns the process exit status
 * (0 success, 1 failure, 2 usage error) and handles its own `--help`. Only main.c calls
 * them; what several commands share is in cli/shared.h, option parsing in common/args.h. */
#ifndef GPUAAS_CLI_COMMANDS_H
#define GPUAAS_CLI_COMMANDS_H

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
int cmd_cache(int argc, char **argv);
int cmd_tokenomics(int argc, char **argv);
int cmd_deploy(int argc, char **argv);
int cmd_reconciler(int argc, char **argv);
int cmd_gpu_config(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_gpu_discover(int argc, char **argv);

#endif
