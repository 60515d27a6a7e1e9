/* Fresh databases for store tests: a SQLite file in a new temporary folder, or a new
 * PostgreSQL schema (named by pid and counter) reached through `options=-csearch_path`. */
#ifndef GPUAAS_TESTS_STORE_FIXTURE_H
#define GPUAAS_TESTS_STORE_FIXTURE_H

#include "core/pool.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The PostgreSQL URL, or NULL (after a message) when the tests must skip; exits 1 when CI
 * requires PostgreSQL and it is not configured. */
static inline const char *fixture_pg_url(void)
{
    const char *url = getenv("GPUAAS_TEST_PG_URL");
    if (url && *url)
        return url;
    const char *ci = getenv("CI");
    if (ci && *ci && strcmp(ci, "false") && strcmp(ci, "0")) {
        fprintf(stderr, "GPUAAS_TEST_PG_URL is not set, and CI requires the PostgreSQL tests\n");
        exit(1);
    }
    fprintf(stderr, "SKIP PostgreSQL tests: GPUAAS_TEST_PG_URL is not set\n");
    return NULL;
}

static inline void fixture_quiet(void *arg, const PGresult *res)
{
    (void)arg;
    (void)res;
}

/* Runs one SQL statement (no parameters: test set-up only) on url; 0 on success. */
static inline int fixture_pg_exec(const char *url, const char *sql)
{
    PGconn *c = PQconnectdb(url);
    int rc = -1;
    if (PQstatus(c) == CONNECTION_OK) {
        PQsetNoticeReceiver(c, fixture_quiet, NULL);
        PGresult *r = PQexec(c, sql);
        rc = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK ? 0 : -1;
        if (rc < 0)
            fprintf(stderr, "fixture: %s: %s", sql, PQresultErrorMessage(r));
        PQclear(r);
    } else {
        fprintf(stderr, "fixture: %s", PQerrorMessage(c));
    }
    PQfinish(c);
    return rc;
}

/* A fresh schema on base: writes its name into schema and the URL that selects it into out. */
static inline int fixture_pg_fresh(const char *base, char *schema, size_t ns, char *out, size_t n)
{
    static int counter;
    char sql[256];
    snprintf(schema, ns, "gpuaas_test_%d_%d", (int)getpid(), ++counter);
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", schema);
    if (fixture_pg_exec(base, sql) < 0)
        return -1;
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s", schema);
    if (fixture_pg_exec(base, sql) < 0)
        return -1;
    snprintf(out, n, "%s%soptions=-csearch_path%%3D%s", base, strchr(base, '?') ? "&" : "?",
             schema);
    return 0;
}

static inline void fixture_pg_drop(const char *base, const char *schema)
{
    char sql[256];
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", schema);
    fixture_pg_exec(base, sql);
}

/* A fresh SQLite database path in a new temporary folder (dir receives the folder). */
static inline int fixture_sqlite_fresh(char *dir, size_t nd, char *url, size_t n)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, nd, "%s/gpuaas-store-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return -1;
    snprintf(url, n, "sqlite://%s/sub/gpuaas.db", dir);
    return 0;
}

static inline void fixture_sqlite_drop(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "fixture: cannot remove %s\n", dir);
}

/* A pool of `gpus` whole GPUs, 64 cores, 256 GiB memory, 1000 GiB storage. */
static inline void fixture_pool(struct pool *p, int gpus)
{
    memset(p, 0, sizeof *p);
    static const struct {
        const char *name;
        enum pool_kind kind;
        int physical;
    } rows[] = {{"nvidia.com/gpu", POOL_GPU, 0},
                {"cpu", POOL_CPU, 64},
                {"memory", POOL_MEMORY, 256},
                {"storage", POOL_STORAGE, 1000}};
    for (size_t i = 0; i < 4; i++) {
        struct pool_resource *r = &p->res[p->n++];
        snprintf(r->name, sizeof r->name, "%s", rows[i].name);
        r->kind = rows[i].kind;
        r->physical = i == 0 ? gpus : rows[i].physical;
        r->slots_per_unit = 1;
        r->slots = r->physical;
        r->advertised = -1;
    }
}

#endif
