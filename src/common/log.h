/* Structured logging to stderr: `ts=... level=... msg="..." key=value ...`.
 * Only top-level code (server, reconciler, cache, cli) logs; libraries return errors.
 * The level is checked before anything is formatted. Thread-safe (one write per line). */
#ifndef GPUAAS_COMMON_LOG_H
#define GPUAAS_COMMON_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

extern enum log_level log_min_level;

/* Parses "debug|info|warn|error"; returns 0 or -1. */
int log_set_level(const char *name);
/* msg is a short constant sentence; kv is printf-style `key=value` pairs (may be NULL). */
void log_write(enum log_level lvl, const char *msg, const char *kv, ...)
    __attribute__((format(printf, 3, 4)));

#define LOG(lvl, msg, ...)                                                                         \
    do {                                                                                           \
        if ((lvl) >= log_min_level)                                                                \
            log_write((lvl), (msg), __VA_ARGS__);                                                  \
    } while (0)
#define log_debug(msg, ...) LOG(LOG_DEBUG, msg, __VA_ARGS__)
#define log_info(msg, ...) LOG(LOG_INFO, msg, __VA_ARGS__)
#define log_warn(msg, ...) LOG(LOG_WARN, msg, __VA_ARGS__)
#define log_error(msg, ...) LOG(LOG_ERROR, msg, __VA_ARGS__)

#endif
