/* Helpers several CLI commands share: where the configuration file is, reading a password,
 * and checking the files the cache settings name. Commands include this, never each other. */
#include "cli/shared.h"

#include "common/error.h"
#include "core/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

const char *cli_config_path(const char *flag_value)
{
    if (flag_value && *flag_value)
        return flag_value;
    const char *env = getenv("GPUAAS_CONFIG");
    return env && *env ? env : NULL;
}

const char *cli_require_config(const char *who, const char *flag_value)
{
    const char *path = cli_config_path(flag_value);
    if (!path)
        fprintf(stderr, "%s: no configuration (--config FILE or GPUAAS_CONFIG)\n", who);
    return path;
}

int cli_read_line(FILE *in, char *buf, size_t size)
{
    if (!fgets(buf, (int)size, in))
        return -1;
    size_t n = strlen(buf);
    if (n == size - 1 && buf[n - 1] != '\n')
        return -1; /* too long */
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    return 0;
}

static int prompt_password(const char *prompt, char *buf, size_t size)
{
    FILE *tty = fopen("/dev/tty", "r+e");
    if (!tty)
        return -1;
    struct termios old, quiet;
    int fd = fileno(tty);
    int have = tcgetattr(fd, &old) == 0;
    fprintf(tty, "%s", prompt);
    fflush(tty);
    if (have) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    int rc = cli_read_line(tty, buf, size);
    if (have)
        tcsetattr(fd, TCSAFLUSH, &old);
    fprintf(tty, "\n");
    fclose(tty);
    return rc;
}

int cli_read_password(int from_stdin, const char *prompt, char *buf, size_t size)
{
    int rc = from_stdin ? cli_read_line(stdin, buf, size) : prompt_password(prompt, buf, size);
    if (rc < 0 || !buf[0]) {
        fprintf(stderr, "gpuaas: no password given%s\n",
                from_stdin ? " on stdin" : " (no terminal: use --password-stdin)");
        return -1;
    }
    return 0;
}

int cli_cache_check_files(const struct config *c, struct error *err)
{
    const char *f = c->cache.token_file;
    if (f && *f && access(f, R_OK) < 0)
        return error_set(err, ERR_IO, "cache.token_file",
                         "%s: cache.token_file: %s: cannot read: %s", c->path, f, strerror(errno));
    return 0;
}
