/* The store: URL dispatch, migrations, and every query, written once for both backends.
 * DESIGN: the backends (store_sqlite.c, store_pg.c) only run parameterized statements and
 * open serialized write transactions; admission reads the overlapping bookings inside
 * such a transaction and decides with the pure calendar (core/calendar.c). */
#include "store/store_impl.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HORIZON_S (365LL * 86400)
#define MAX_LIST 1000000

void qres_free(struct qres *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->nrows * q->ncols; i++)
        free(q->cells[i]);
    free(q->cells);
    memset(q, 0, sizeof *q);
}

const char *qres_get(const struct qres *q, size_t r, size_t c)
{
    if (r >= q->nrows || c >= q->ncols)
        return NULL;
    return q->cells[r * q->ncols + c];
}

/* Strict integer cell; -ERR_INTERNAL on NULL or junk. */
static int cell_i64(const struct qres *q, size_t r, size_t c, int64_t *ret)
{
    const char *v = qres_get(q, r, c);
    if (!v || !*v)
        return -ERR_INTERNAL;
    char *end;
    long long x = strtoll(v, &end, 10);
    if (*end)
        return -ERR_INTERNAL;
    *ret = x;
    return 0;
}

static int cell_int(const struct qres *q, size_t r, size_t c, int *ret)
{
    int64_t x;
    if (cell_i64(q, r, c, &x) < 0 || x < INT32_MIN || x > INT32_MAX)
        return -ERR_INTERNAL;
    *ret = (int)x;
    return 0;
}

/* Copies a text cell into dst (size n); a NULL or too long value is -ERR_INTERNAL. */
static int cell_str(const struct qres *q, size_t r, size_t c, char *dst, size_t n)
{
    const char *v = qres_get(q, r, c);
    if (!v || strlen(v) >= n)
        return -ERR_INTERNAL;
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

static int exec(struct store *st, const char *sql, const struct qparam *p, int n, struct qres *out,
                struct error *err)
{
    return st->ops->exec(st, sql, p, n, out, err);
}

/* ---- open, migrations ---- */

static int migrate(struct store *st, struct error *err)
{
    static const char *const lock[] = {"migrations"};
    struct qres q = {0};
    int rc = st->ops->begin(st, lock, 1, err);
    if (rc < 0)
        return rc;
    rc = exec(st,
              "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
              "applied_at BIGINT NOT NULL)",
              NULL, 0, NULL, err);
    if (rc < 0)
        goto out;
    rc = exec(st, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", NULL, 0, &q, err);
    if (rc < 0)
        goto out;
    int cur;
    if ((rc = cell_int(&q, 0, 0, &cur)) < 0)
        goto out;
    int known = st->ops->n_migrations ? st->ops->migrations[st->ops->n_migrations - 1].version : 0;
    if (cur > known) {
        /* a newer release migrated this database: its code may rely on what this one does
         * not know, and this one may write what the newer one does not expect */
        rc = error_set(err, ERR_STATE, "database",
                       "the database schema is at version %d, newer than this gpuaas knows (%d): "
                       "a newer release migrated it; run that release or newer, or restore the "
                       "backup taken before the upgrade (docs/operations.md, \"Upgrades\")",
                       cur, known);
        goto out;
    }
    int last = cur;
    for (size_t i = 0; i < st->ops->n_migrations; i++) {
        const struct migration *m = &st->ops->migrations[i];
        if (m->version <= cur)
            continue;
        if ((rc = exec(st, m->sql, NULL, 0, NULL, err)) < 0)
            goto out;
        bool last_of_version =
            i + 1 == st->ops->n_migrations || st->ops->migrations[i + 1].version != m->version;
        if (last_of_version) {
            struct qparam p[] = {QI(m->version), QI(0)};
            rc = exec(st, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", p,
                      2, NULL, err);
            if (rc < 0)
                goto out;
            last = m->version;
        }
    }
    (void)last;
    rc = st->ops->commit(st, err);
out:
    qres_free(&q);
    if (rc < 0)
        st->ops->rollback(st);
    return rc;
}

/* Opens the backend of url without migrating. */
static int open_backend(const char *url, struct store **ret, struct error *err)
{
    if (!url)
        return error_set(err, ERR_INVALID, "database", "no database URL");
    if (!strncmp(url, "sqlite://", 9))
        return store_sqlite_open(url + 9, ret, err);
    if (!strncmp(url, "sqlite:", 7))
        return store_sqlite_open(url + 7, ret, err);
    if (!strncmp(url, "postgres://", 11) || !strncmp(url, "postgresql://", 13))
        return store_pg_open(url, ret, err);
    return error_set(err, ERR_INVALID, "database",
                     "database URL must start with sqlite:// or postgres://");
}

int store_migration_status(const char *url, int *current, int *latest, int *pending,
                           size_t max_pending, size_t *n_pending, struct error *err)
{
    struct store *st = NULL;
    struct qres q = {0};
    int rc = open_backend(url, &st, err);
    if (rc < 0)
        return rc;
    const char *has_table = !strcmp(st->ops->name, "sqlite")
                                ? "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND "
                                  "name = 'schema_migrations'"
                                : "SELECT COUNT(*) FROM pg_catalog.pg_tables WHERE tablename = "
                                  "'schema_migrations' AND schemaname = current_schema()";
    int have = 0;
    *current = 0;
    if ((rc = exec(st, has_table, NULL, 0, &q, err)) < 0 || (rc = cell_int(&q, 0, 0, &have)) < 0)
        goto out;
    if (have) {
        qres_free(&q);
        memset(&q, 0, sizeof(q));
        if ((rc = exec(st, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", NULL, 0, &q,
                       err)) < 0 ||
            (rc = cell_int(&q, 0, 0, current)) < 0)
            goto out;
    }
    *latest = 0;
    *n_pending = 0;
    for (size_t i = 0; i < st->ops->n_migrations; i++) {
        int v = st->ops->migrations[i].version;
        if (v > *current && v != *latest && *n_pending < max_pending)
            pending[(*n_pending)++] = v;
        *latest = v;
    }
out:
    qres_free(&q);
    store_close(st);
    return rc;
}

int store_open(const char *url, struct store **ret, struct error *err)
{
    struct store *st = NULL;
    int rc;
    if (!url)
        return error_set(err, ERR_INVALID, "database", "no database URL");
    if (!strncmp(url, "sqlite://", 9))
        rc = store_sqlite_open(url + 9, &st, err);
    else if (!strncmp(url, "sqlite:", 7))
        rc = store_sqlite_open(url + 7, &st, err);
    else if (!strncmp(url, "postgres://", 11) || !strncmp(url, "postgresql://", 13))
        rc = store_pg_open(url, &st, err);
    else
        return error_set(err, ERR_INVALID, "database",
                         "database URL must start with sqlite:// or postgres://");
    if (rc < 0)
        return rc;
    if ((rc = migrate(st, err)) < 0) {
        store_close(st);
        return rc;
    }
    *ret = st;
    return 0;
}

void store_close(struct store *st)
{
    if (!st)
        return;
    st->ops->close(st);
    free(st);
}

const char *store_backend(const struct store *st)
{
    return st->ops->name;
}

int store_ping(struct store *st)
{
    return exec(st, "SELECT 1", NULL, 0, NULL, NULL);
}

int store_schema_version(struct store *st, int *ret)
{
    struct qres q;
    int rc = exec(st, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", NULL, 0, &q, NULL);
    if (rc < 0)
        return rc;
    rc = cell_int(&q, 0, 0, ret);
    qres_free(&q);
    return rc;
}

/* ---- users ---- */

#define USER_COLS "id, username, role, disabled, password_hash, created_at, sso"
/* The same columns of users joined as u; row_user_after() reads them. */
#define USER_COLS_U "u.id, u.username, u.role, u.disabled, u.password_hash, u.created_at, u.sso"

static int row_user(const struct qres *q, size_t r, struct user *u)
{
    int disabled, sso;
    memset(u, 0, sizeof *u);
    if (cell_i64(q, r, 0, &u->id) < 0 || cell_str(q, r, 1, u->username, sizeof u->username) < 0 ||
        cell_str(q, r, 2, u->role, sizeof u->role) < 0 || cell_int(q, r, 3, &disabled) < 0 ||
        cell_str(q, r, 4, u->password_hash, sizeof u->password_hash) < 0 ||
        cell_i64(q, r, 5, &u->created_at) < 0 || cell_int(q, r, 6, &sso) < 0)
        return -ERR_INTERNAL;
    if (strcmp(u->role, "user") && strcmp(u->role, "admin"))
        return -ERR_INTERNAL;
    u->disabled = disabled != 0;
    u->sso = sso != 0;
    return 0;
}

/* The user of the first row of a join whose user columns (USER_COLS order) start at column
 * first, after the joined object's own columns. */
static int row_user_after(const struct qres *q, size_t first, struct user *u)
{
    struct qres uq = {.nrows = 1, .ncols = q->ncols - first, .cells = q->cells + first};
    return row_user(&uq, 0, u);
}

static bool valid_role(const char *r)
{
    return r && (!strcmp(r, "user") || !strcmp(r, "admin"));
}

/* Runs an INSERT ... RETURNING id; *ret_id (may be NULL) receives the id. 0 or the exec's
 * error (-ERR_EXISTS on a unique violation). */
static int insert_returning_id(struct store *st, const char *sql, const struct qparam *p, int n,
                               int64_t *ret_id, struct error *err)
{
    struct qres q;
    int rc = exec(st, sql, p, n, &q, err);
    if (rc < 0)
        return rc;
    int64_t id;
    rc = cell_i64(&q, 0, 0, &id);
    qres_free(&q);
    if (rc == 0 && ret_id)
        *ret_id = id;
    return rc;
}

int store_user_create(struct store *st, const struct user *u, int64_t *ret_id, struct error *err)
{
    if (!u->username[0])
        return error_set(err, ERR_INVALID, "username", "username is empty");
    if (!valid_role(u->role))
        return error_set(err, ERR_INVALID, "role", "role must be user or admin");
    struct qparam p[] = {QS(u->username),      QS(u->role),       QI(u->disabled),
                         QS(u->password_hash), QI(u->created_at), QI(u->sso)};
    int rc = insert_returning_id(
        st,
        "INSERT INTO users (username, role, disabled, password_hash, created_at, sso) "
        "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        p, 6, ret_id, err);
    if (rc == -ERR_EXISTS)
        return error_set(err, ERR_EXISTS, "username", "user %s already exists", u->username);
    return rc;
}

static int user_get(struct store *st, const char *sql, struct qparam p, struct user *ret)
{
    struct qres q;
    int rc = exec(st, sql, &p, 1, &q, NULL);
    if (rc < 0)
        return rc;
    rc = q.nrows ? row_user(&q, 0, ret) : -ERR_NOT_FOUND;
    qres_free(&q);
    return rc;
}

int store_user_get(struct store *st, int64_t id, struct user *ret)
{
    return user_get(st, "SELECT " USER_COLS " FROM users WHERE id = $1", QI(id), ret);
}

int store_user_get_by_name(struct store *st, const char *username, struct user *ret)
{
    return user_get(st, "SELECT " USER_COLS " FROM users WHERE username = $1", QS(username), ret);
}

int store_user_list(struct store *st, struct user **ret, size_t *ret_n)
{
    struct qres q;
    int rc = exec(st, "SELECT " USER_COLS " FROM users ORDER BY id", NULL, 0, &q, NULL);
    if (rc < 0)
        return rc;
    struct user *v = calloc(q.nrows ? q.nrows : 1, sizeof *v);
    if (!v) {
        rc = -ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < q.nrows; i++)
        if ((rc = row_user(&q, i, &v[i])) < 0) {
            free(v);
            goto out;
        }
    *ret = v;
    *ret_n = q.nrows;
out:
    qres_free(&q);
    return rc;
}

int store_user_update(struct store *st, int64_t id, const bool *disabled, const char *role,
                      const char *password_hash, struct error *err)
{
    if (role && !valid_role(role))
        return error_set(err, ERR_INVALID, "role", "role must be user or admin");
    struct qparam p[] = {QI(id), QI(disabled ? *disabled : 0), QS(role), QS(password_hash)};
    p[1].is_null = !disabled;
    p[2].is_null = !role;
    p[3].is_null = !password_hash;
    struct qres q;
    int rc = exec(st,
                  "UPDATE users SET disabled = COALESCE($2, disabled), role = COALESCE($3, role), "
                  "password_hash = COALESCE($4, password_hash) WHERE id = $1 RETURNING id",
                  p, 4, &q, err);
    if (rc < 0)
        return rc;
    rc = q.nrows ? 0 : error_set(err, ERR_NOT_FOUND, "id", "no user %" PRId64, id);
    qres_free(&q);
    return rc;
}

int store_user_set_sso(struct store *st, int64_t id, bool sso)
{
    struct qparam p[] = {QI(id), QI(sso)};
    struct qres q;
    int rc = exec(st, "UPDATE users SET sso = $2 WHERE id = $1 RETURNING id", p, 2, &q, NULL);
    if (rc < 0)
        return rc;
    rc = q.nrows ? 0 : -ERR_NOT_FOUND;
    qres_free(&q);
    return rc;
}

int store_user_count(struct store *st, int64_t *ret)
{
    struct qres q;
    int rc = exec(st, "SELECT COUNT(*) FROM users", NULL, 0, &q, NULL);
    if (rc < 0)
        return rc;
    rc = cell_i64(&q, 0, 0, ret);
    qres_free(&q);
    return rc;
}

/* ---- tokens ---- */

#define TOKEN_COLS "id, user_id, name, hash, created_at, expires_at"

static void hex_encode(const uint8_t *b, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[b[i] >> 4];
        out[2 * i + 1] = d[b[i] & 15];
    }
    out[2 * n] = 0;
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int row_token(const struct qres *q, size_t r, struct token *t)
{
    memset(t, 0, sizeof *t);
    const char *h = qres_get(q, r, 3);
    if (cell_i64(q, r, 0, &t->id) < 0 || cell_i64(q, r, 1, &t->user_id) < 0 ||
        cell_str(q, r, 2, t->name, sizeof t->name) < 0 || cell_i64(q, r, 4, &t->created_at) < 0 ||
        cell_i64(q, r, 5, &t->expires_at) < 0 || !h || strlen(h) != 64)
        return -ERR_INTERNAL;
    for (int i = 0; i < 32; i++) {
        int a = hex_val(h[2 * i]), b = hex_val(h[2 * i + 1]);
        if (a < 0 || b < 0)
            return -ERR_INTERNAL;
        t->hash[i] = (uint8_t)(a << 4 | b);
    }
    return 0;
}

int store_token_create(struct store *st, const struct token *t, int64_t *ret_id, struct error *err)
{
    char hex[65];
    hex_encode(t->hash, 32, hex);
    struct qparam p[] = {QI(t->user_id), QS(t->name), QS(hex), QI(t->created_at),
                         QI(t->expires_at)};
    return insert_returning_id(st,
                               "INSERT INTO tokens (user_id, name, hash, created_at, expires_at) "
                               "VALUES ($1, $2, $3, $4, $5) RETURNING id",
                               p, 5, ret_id, err);
}

int store_token_get(struct store *st, int64_t id, struct token *ret)
{
    struct qparam p = QI(id);
    struct qres q;
    int rc = exec(st, "SELECT " TOKEN_COLS " FROM tokens WHERE id = $1", &p, 1, &q, NULL);
    if (rc < 0)
        return rc;
    rc = q.nrows ? row_token(&q, 0, ret) : -ERR_NOT_FOUND;
    qres_free(&q);
    return rc;
}

int store_token_get_with_user(struct store *st, int64_t id, struct token *t, struct user *u)
{
    struct qparam p = QI(id);
    struct qres q;
    int rc = exec(st,
                  "SELECT t.id, t.user_id, t.name, t.hash, t.created_at, t.expires_at, " USER_COLS_U
                  " FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.id = $1",
                  &p, 1, &q, NULL);
    if (rc < 0)
        return rc;
    if (!q.nrows)
        rc = -ERR_NOT_FOUND;
    else if ((rc = row_token(&q, 0, t)) == 0)
        rc = row_user_after(&q, 6, u);
    qres_free(&q);
    return rc;
}

int store_token_list(struct store *st, int64_t user_id, struct token **ret, size_t *ret_n)
{
    struct qparam p = QI(user_id);
    struct qres q;
    int rc = exec(st, "SELECT " TOKEN_COLS " FROM tokens WHERE user_id = $1 ORDER BY id", &p, 1, &q,
                  NULL);
    if (rc < 0)
        return rc;
    struct token *v = calloc(q.nrows ? q.nrows : 1, sizeof *v);
    if (!v) {
        rc = -ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < q.nrows; i++)
        if ((rc = row_token(&q, i, &v[i])) < 0) {
            free(v);
            goto out;
        }
    *ret = v;
    *ret_n = q.nrows;
out:
    qres_free(&q);
    return rc;
}

int store_token_delete(struct store *st, int64_t user_id, int64_t id)
{
    struct qparam p[] = {QI(id), QI(user_id)};
    struct qres q;
    int rc =
        exec(st, "DELETE FROM tokens WHERE id = $1 AND user_id = $2 RETURNING id", p, 2, &q, NULL);
    if (rc < 0)
        return rc;
    rc = q.nrows ? 0 : -ERR_NOT_FOUND;
    qres_free(&q);
    return rc;
}

int store_user_end_bookings(struct store *st, int64_t user_id, int64_t now, int64_t **ret_ids,
                            size_t *ret_n)
{
    struct res_filter f = {.state = -1, .holds_capacity = true, .user_id = user_id};
    struct reservation *items = NULL;
    size_t n = 0, done = 0;
    int rc = store_reservation_list(st, &f, &items, &n);
    if (rc < 0)
        return rc;
    int64_t *ids = calloc(n ? n : 1, sizeof(*ids));
    if (!ids) {
        free(items);
        return -ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        struct error e = {0};
        rc = store_reservation_transition(st, items[i].id, items[i].state, RS_CANCELED, now, &e);
        if (rc == -ERR_STATE)
            continue; /* ended or released meanwhile: nothing left to stop */
        if (rc < 0) {
            free(items);
            free(ids);
            return rc;
        }
        ids[done++] = items[i].id;
    }
    free(items);
    *ret_ids = ids;
    *ret_n = done;
    return 0;
}

int store_reservation_count_by_state(struct store *st, int64_t counts[RS__COUNT])
{
    struct qres q;
    int rc = exec(st, "SELECT state, COUNT(*) FROM reservations GROUP BY state", NULL, 0, &q, NULL);
    if (rc < 0)
        return rc;
    for (int s = 0; s < RS__COUNT; s++)
        counts[s] = 0;
    for (size_t i = 0; i < q.nrows && rc == 0; i++) {
        char state[16];
        enum res_state s;
        int64_t n;
        if (cell_str(&q, i, 0, state, sizeof(state)) < 0 || res_state_parse(state, &s) < 0 ||
            cell_i64(&q, i, 1, &n) < 0)
            rc = -ERR_INTERNAL;
        else
            counts[s] = n;
    }
    qres_free(&q);
    return rc;
}

int store_token_delete_user(struct store *st, int64_t user_id, int64_t except_id, int64_t *ret_n)
{
    struct qparam p[] = {QI(user_id), QI(except_id)};
    struct qres q;
    int rc =
        exec(st, "DELETE FROM tokens WHERE user_id = $1 AND id <> $2 RETURNING id", p, 2, &q, NULL);
    if (rc < 0)
        return rc;
    if (ret_n)
        *ret_n = (int64_t)q.nrows;
    qres_free(&q);
    return 0;
}

int store_token_delete_expired(struct store *st, int64_t now, int64_t *ret_n)
{
    struct qparam p = QI(now);
    struct qres q;
    int rc = exec(st, "DELETE FROM tokens WHERE expires_at <= $1 RETURNING id", &p, 1, &q, NULL);
    if (rc < 0)
        return rc;
    if (ret_n)
        *ret_n = (int64_t)q.nrows;
    qres_free(&q);
    rc = exec(st, "DELETE FROM workspace_grants WHERE expires_at <= $1", &p, 1, NULL, NULL);
    if (rc < 0)
        return rc;
    return 0;
}

/* ---- workspace grants ---- */

#define WS_GRANT_COLS                                                                              \
    "g.id, g.kind, g.reservation_id, g.user_id, g.hash, g.created_at, "                            \
    "g.expires_at, g.used_at"

static int hash_decode(const char *h, uint8_t out[32])
{
    if (!h || strlen(h) != 64)
        return -ERR_INTERNAL;
    for (int i = 0; i < 32; i++) {
        int a = hex_val(h[2 * i]), b = hex_val(h[2 * i + 1]);
        if (a < 0 || b < 0)
            return -ERR_INTERNAL;
        out[i] = (uint8_t)(a << 4 | b);
    }
    return 0;
}

static int row_ws_grant(const struct qres *q, size_t r, struct ws_grant *g)
{
    memset(g, 0, sizeof *g);
    const char *kind = qres_get(q, r, 1);
    if (cell_i64(q, r, 0, &g->id) < 0 || !kind || cell_i64(q, r, 2, &g->reservation_id) < 0 ||
        cell_i64(q, r, 3, &g->user_id) < 0 || hash_decode(qres_get(q, r, 4), g->hash) < 0 ||
        cell_i64(q, r, 5, &g->created_at) < 0 || cell_i64(q, r, 6, &g->expires_at) < 0 ||
        cell_i64(q, r, 7, &g->used_at) < 0)
        return -ERR_INTERNAL;
    if (!strcmp(kind, "ticket"))
        g->kind = WS_TICKET;
    else if (!strcmp(kind, "cookie"))
        g->kind = WS_COOKIE;
    else
        return -ERR_INTERNAL;
    return 0;
}

int store_ws_grant_create(struct store *st, const struct ws_grant *g, int64_t *ret_id,
                          struct error *err)
{
    char hex[65];
    hex_encode(g->hash, 32, hex);
    struct qparam p[] = {QS(g->kind == WS_TICKET ? "ticket" : "cookie"),
                         QI(g->reservation_id),
                         QI(g->user_id),
                         QS(hex),
                         QI(g->created_at),
                         QI(g->expires_at)};
    return insert_returning_id(
        st,
        "INSERT INTO workspace_grants (kind, reservation_id, user_id, hash, "
        "created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        p, 6, ret_id, err);
}

int store_ws_grant_get_with_user(struct store *st, int64_t id, struct ws_grant *g, struct user *u)
{
    struct qparam p = QI(id);
    struct qres q;
    int rc = exec(st,
                  "SELECT " WS_GRANT_COLS ", " USER_COLS_U " FROM workspace_grants g JOIN users u "
                  "ON u.id = g.user_id WHERE g.id = $1",
                  &p, 1, &q, NULL);
    if (rc < 0)
        return rc;
    if (!q.nrows)
        rc = -ERR_NOT_FOUND;
    else if ((rc = row_ws_grant(&q, 0, g)) == 0)
        rc = row_user_after(&q, 8, u);
    qres_free(&q);
    return rc;
}

int store_ws_ticket_use(struct store *st, int64_t id, int64_t now)
{
    struct qparam p[] = {QI(id), QI(now)};
    struct qres q;
    int rc = exec(st,
                  "UPDATE workspace_grants SET used_at = $2 WHERE id = $1 AND kind = 'ticket' AND "
                  "used_at = 0 RETURNING id",
                  p, 2, &q, NULL);
    if (rc < 0)
        return rc;
    rc = q.nrows ? 0 : -ERR_STATE;
    qres_free(&q);
    return rc;
}

/* ---- reservations ---- */

#define RES_COLS                                                                                   \
    "r.id, r.user_id, u.username, r.gpu_type, r.gpu_count, r.mode, r.cpu, r.memory_gib, "          \
    "r.storage_gib, r.purpose, r.starts_at, r.ends_at, r.state, r.created_at, r.updated_at, "      \
    "r.session_namespace, r.session_url, r.session_phase, r.session_message, "                     \
    "r.session_attempts, r.session_next_attempt_at, "                                              \
    "r.admin_note"
#define RES_FROM " FROM reservations r JOIN users u ON u.id = r.user_id"

static int row_res(const struct qres *q, size_t i, struct reservation *r)
{
    char mode[32], state[32];
    memset(r, 0, sizeof *r);
    struct session_info *s = &r->session;
    if (cell_i64(q, i, 0, &r->id) < 0 || cell_i64(q, i, 1, &r->user_id) < 0 ||
        cell_str(q, i, 2, r->user, sizeof r->user) < 0 ||
        cell_str(q, i, 3, r->gpu_type, sizeof r->gpu_type) < 0 ||
        cell_int(q, i, 4, &r->gpu_count) < 0 || cell_str(q, i, 5, mode, sizeof mode) < 0 ||
        cell_int(q, i, 6, &r->cpu) < 0 || cell_int(q, i, 7, &r->memory_gib) < 0 ||
        cell_int(q, i, 8, &r->storage_gib) < 0 ||
        cell_str(q, i, 9, r->purpose, sizeof r->purpose) < 0 ||
        cell_i64(q, i, 10, &r->starts_at) < 0 || cell_i64(q, i, 11, &r->ends_at) < 0 ||
        cell_str(q, i, 12, state, sizeof state) < 0 || cell_i64(q, i, 13, &r->created_at) < 0 ||
        cell_i64(q, i, 14, &r->updated_at) < 0 ||
        cell_str(q, i, 15, s->namespace_, sizeof s->namespace_) < 0 ||
        cell_str(q, i, 16, s->url, sizeof s->url) < 0 ||
        cell_str(q, i, 17, s->phase, sizeof s->phase) < 0 ||
        cell_str(q, i, 18, s->message, sizeof s->message) < 0 ||
        cell_int(q, i, 19, &s->attempts) < 0 || cell_i64(q, i, 20, &s->next_attempt_at) < 0 ||
        cell_str(q, i, 21, r->admin_note, sizeof r->admin_note) < 0)
        return -ERR_INTERNAL;
    if (res_mode_parse(mode, &r->mode) < 0 || res_state_parse(state, &r->state) < 0)
        return -ERR_INTERNAL;
    return 0;
}

static int rows_res(const struct qres *q, struct reservation **ret, size_t *ret_n)
{
    struct reservation *v = calloc(q->nrows ? q->nrows : 1, sizeof *v);
    if (!v)
        return -ERR_NOMEM;
    for (size_t i = 0; i < q->nrows; i++)
        if (row_res(q, i, &v[i]) < 0) {
            free(v);
            return -ERR_INTERNAL;
        }
    *ret = v;
    *ret_n = q->nrows;
    return 0;
}

/* Sorted, distinct lock names for the resources r uses. */
static int lock_names(const struct pool *pool, const struct reservation *r, char names[][112],
                      const char *ptrs[], int max)
{
    int n = 0;
    for (int i = 0; i < pool->n && n < max; i++) {
        if (cal_usage(r, &pool->res[i]) <= 0)
            continue;
        snprintf(names[n], 112, "gpuaas:%s", pool->res[i].name);
        n++;
    }
    for (int i = 1; i < n; i++) /* insertion sort: a handful of names */
        for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char tmp[112];
            memcpy(tmp, names[j], sizeof tmp);
            memcpy(names[j], names[j - 1], sizeof tmp);
            memcpy(names[j - 1], tmp, sizeof tmp);
        }
    for (int i = 0; i < n; i++)
        ptrs[i] = names[i];
    return n;
}

struct busy_ctx {
    struct cal_busy *b;
    const struct pool *pool;
    int off; /* 1 when the first column is the id */
};

static int busy_row(void *arg, const struct qcell *c)
{
    struct busy_ctx *x = arg;
    const struct qcell *v = c + x->off; /* starts_at, ends_at, 4 amounts, gpu_type */
    if (!v[6].s || v[2].i > INT32_MAX || v[3].i > INT32_MAX || v[4].i > INT32_MAX ||
        v[5].i > INT32_MAX)
        return -ERR_INTERNAL;
    return cal_busy_add(x->b, x->pool, x->off ? c[0].i : 0, v[0].i, v[1].i, v[6].s, (int)v[2].i,
                        (int)v[3].i, (int)v[4].i, (int)v[5].i);
}

int store_busy(struct store *st, const struct pool *pool, int64_t from, int64_t to, bool ids,
               struct cal_busy *ret, struct error *err)
{
    struct busy_ctx x = {ret, pool, ids ? 1 : 0};
    /* A GPU unit is held for its turnaround after a booking ends: a booking that ended up
     * to that long before `from` still counts, and a request's own turnaround reaches past
     * `to`. Extra rows are harmless; the calendar is exact on what it is given. */
    int64_t margin = 0;
    for (int i = 0; i < pool->n; i++)
        margin = pool->res[i].turnaround_s > margin ? pool->res[i].turnaround_s : margin;
    int64_t lo = from > INT64_MIN + margin ? from - margin : INT64_MIN;
    int64_t hi = to < INT64_MAX - margin ? to + margin : INT64_MAX;
    struct qparam p[] = {QI(lo), QI(hi)};
#define BUSY_COLS "starts_at, ends_at, gpu_count, cpu, memory_gib, storage_gib, gpu_type"
#define BUSY_FROM                                                                                  \
    " FROM reservations WHERE state IN ('APPROVED', 'ACTIVE') AND ends_at > $1 AND starts_at < $2"
    /* Served by the partial index reservations_holding (ends_at, starts_at). */
    int rc =
        ids ? st->ops->each(st, "SELECT id, " BUSY_COLS BUSY_FROM, p, 2, "iiiiiiis", busy_row, &x,
                            err)
            : st->ops->each(st, "SELECT " BUSY_COLS BUSY_FROM, p, 2, "iiiiiis", busy_row, &x, err);
#undef BUSY_COLS
#undef BUSY_FROM
    if (rc == -ERR_INTERNAL || rc == -ERR_NOMEM)
        return error_set(err, -rc, NULL, "unreadable reservation row");
    return rc;
}

/* The earliest window at or after r->starts_at where r fits (a hint: read after the
 * admission transaction). */
static void next_window(struct store *st, const struct pool *pool, const struct reservation *r,
                        struct window *next)
{
    struct cal_busy b = {0};
    int64_t len = r->ends_at - r->starts_at, horizon = r->starts_at + HORIZON_S;
    next->starts_at = next->ends_at = 0;
    if (store_busy(st, pool, r->starts_at, horizon + len, r->id != 0, &b, NULL) < 0 ||
        cal_next_window_busy(pool, &b, r, r->starts_at, horizon, next) < 0)
        next->starts_at = next->ends_at = 0;
    cal_busy_free(&b);
}

/* The admission check every booking change passes, inside a transaction holding the locks of
 * lock_names(pool, r): r fits beside the capacity-holding bookings other than itself (r->id)
 * over its whole window. b is the caller's, released by it. */
static int admit_locked(struct store *st, const struct pool *pool, const struct reservation *r,
                        struct cal_busy *b, struct error *err)
{
    int rc = store_busy(st, pool, r->starts_at, r->ends_at, true, b, err);
    return rc < 0 ? rc : cal_admit_busy(pool, b, r, err);
}

/* Round trips on PostgreSQL: BEGIN, the advisory locks and the overlap query go together;
 * the INSERT, NOTIFY and COMMIT go together. */
int store_reservation_admit(struct store *st, const struct pool *pool, struct reservation *r,
                            int64_t now, struct window *next, struct error *err)
{
    char names[POOL_MAX_RESOURCES][112];
    const char *locks[POOL_MAX_RESOURCES];
    struct cal_busy b = {0};
    struct qres q = {0};
    bool open = false;
    int rc;
    r->id = 0;
    if (r->ends_at <= r->starts_at)
        return error_set(err, ERR_INVALID, "ends_at", "ends_at must be after starts_at");
    if (r->user_id <= 0)
        return error_set(err, ERR_INVALID, "user_id", "no user");
    int nl = lock_names(pool, r, names, locks, POOL_MAX_RESOURCES);
    if ((rc = st->ops->begin(st, locks, nl, err)) < 0)
        return rc;
    open = true;
    if ((rc = admit_locked(st, pool, r, &b, err)) < 0)
        goto out;
    struct qparam p[] = {QI(r->user_id),
                         QS(r->gpu_type),
                         QI(r->gpu_count),
                         QS(res_mode_name(r->mode)),
                         QI(r->cpu),
                         QI(r->memory_gib),
                         QI(r->storage_gib),
                         QS(r->purpose),
                         QI(r->starts_at),
                         QI(r->ends_at),
                         QI(now)};
    if ((rc = st->ops->notify(st)) < 0)
        goto out;
    open = false; /* finish commits, or rolls back on failure */
    rc = st->ops->finish(
        st,
        "INSERT INTO reservations (user_id, gpu_type, gpu_count, mode, cpu, memory_gib, "
        "storage_gib, purpose, starts_at, ends_at, state, created_at, updated_at) VALUES "
        "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'APPROVED', $11, $11) RETURNING id",
        p, 11, &q, err);
    if (rc == -ERR_EXISTS)
        rc = error_set(err, ERR_INVALID, "user_id", "no such user");
    if (rc < 0)
        goto out;
    int64_t id;
    if ((rc = cell_i64(&q, 0, 0, &id)) < 0)
        goto out;
    r->id = id;
    r->state = RS_APPROVED;
    r->created_at = r->updated_at = now;
out:
    if (open)
        st->ops->rollback(st);
    if (rc == -ERR_CONFLICT && next)
        next_window(st, pool, r, next);
    qres_free(&q);
    cal_busy_free(&b);
    return rc;
}

int store_reservation_get(struct store *st, int64_t id, struct reservation *ret)
{
    struct qparam p = QI(id);
    struct qres q;
    int rc = exec(st, "SELECT " RES_COLS RES_FROM " WHERE r.id = $1", &p, 1, &q, NULL);
    if (rc < 0)
        return rc;
    rc = q.nrows ? row_res(&q, 0, ret) : -ERR_NOT_FOUND;
    qres_free(&q);
    return rc;
}

int store_reservation_list(struct store *st, const struct res_filter *f, struct reservation **ret,
                           size_t *ret_n)
{
    char sql[1280];
    struct qparam p[8];
    int np = 0;
    size_t len = (size_t)snprintf(sql, sizeof sql, "SELECT " RES_COLS RES_FROM " WHERE 1 = 1");
#define ADD(cond, param)                                                                           \
    do {                                                                                           \
        p[np++] = (param);                                                                         \
        len += (size_t)snprintf(sql + len, sizeof sql - len, cond, np);                            \
    } while (0)
    if (f && f->from)
        ADD(" AND r.ends_at > $%d", QI(f->from));
    if (f && f->to)
        ADD(" AND r.starts_at < $%d", QI(f->to));
    if (f && f->user_id)
        ADD(" AND r.user_id = $%d", QI(f->user_id));
    if (f && f->state >= 0 && f->state < RS__COUNT)
        ADD(" AND r.state = $%d", QS(res_state_name((enum res_state)f->state)));
    if (f && f->holds_capacity)
        len +=
            (size_t)snprintf(sql + len, sizeof sql - len, " AND r.state IN ('APPROVED', 'ACTIVE')");
    if (f && f->after_id) { /* the page after (after_start, after_id) in list order */
        p[np++] = QI(f->after_start);
        p[np++] = QI(f->after_id);
        len += (size_t)snprintf(sql + len, sizeof sql - len,
                                " AND (r.starts_at > $%d OR (r.starts_at = $%d AND r.id > $%d))",
                                np - 1, np - 1, np);
    }
    len += (size_t)snprintf(sql + len, sizeof sql - len, " ORDER BY r.starts_at, r.id");
    ADD(" LIMIT $%d", QI(f && f->limit && f->limit < MAX_LIST ? f->limit : MAX_LIST));
#undef ADD
    struct qres q;
    int rc = exec(st, sql, p, np, &q, NULL);
    if (rc < 0)
        return rc;
    rc = rows_res(&q, ret, ret_n);
    qres_free(&q);
    return rc;
}

/* Runs one modifying statement with a change notification in one transaction; -ERR_NOT_FOUND
 * when it returns no row. */
static int write_one(struct store *st, const char *sql, const struct qparam *p, int n,
                     struct error *err)
{
    struct qres q = {0};
    int rc = st->ops->begin(st, NULL, 0, err);
    if (rc < 0)
        return rc;
    if ((rc = exec(st, sql, p, n, &q, err)) < 0)
        goto out;
    if (!q.nrows) {
        rc = -ERR_NOT_FOUND;
        goto out;
    }
    if ((rc = st->ops->notify(st)) < 0)
        goto out;
    rc = st->ops->commit(st, err);
    qres_free(&q);
    return rc;
out:
    qres_free(&q);
    st->ops->rollback(st);
    return rc;
}

int store_reservation_transition(struct store *st, int64_t id, enum res_state from,
                                 enum res_state to, int64_t now, struct error *err)
{
    if (!res_transition_allowed(from, to))
        return error_set(err, ERR_STATE, "state", "a %s booking cannot become %s",
                         res_state_name(from), res_state_name(to));
    struct qparam p[] = {QI(id), QS(res_state_name(from)), QS(res_state_name(to)), QI(now)};
    int rc = write_one(st,
                       "UPDATE reservations SET state = $3, updated_at = $4 WHERE id = $1 AND "
                       "state = $2 RETURNING id",
                       p, 4, err);
    if (rc == -ERR_NOT_FOUND) {
        struct reservation cur;
        if (store_reservation_get(st, id, &cur) == -ERR_NOT_FOUND)
            return error_set(err, ERR_NOT_FOUND, "id", "no reservation %" PRId64, id);
        return error_set(err, ERR_STATE, "state", "reservation %" PRId64 " is %s, not %s", id,
                         res_state_name(cur.state), res_state_name(from));
    }
    return rc;
}

int store_reservation_set_end(struct store *st, const struct pool *pool, int64_t id,
                              int64_t new_end, int64_t now, struct error *err)
{
    char names[POOL_MAX_RESOURCES][112];
    const char *locks[POOL_MAX_RESOURCES];
    struct reservation cur;
    struct cal_busy b = {0};
    struct qres q = {0};
    int rc;
    /* The lock set depends on the row; read it first, then re-check under the locks. */
    if ((rc = store_reservation_get(st, id, &cur)) < 0)
        return rc == -ERR_NOT_FOUND
                   ? error_set(err, ERR_NOT_FOUND, "id", "no reservation %" PRId64, id)
                   : rc;
    int nl = lock_names(pool, &cur, names, locks, POOL_MAX_RESOURCES);
    if ((rc = st->ops->begin(st, locks, nl, err)) < 0)
        return rc;
    if ((rc = store_reservation_get(st, id, &cur)) < 0)
        goto out;
    if (!res_state_holds_capacity(cur.state)) {
        rc = error_set(err, ERR_STATE, "state", "reservation %" PRId64 " is %s", id,
                       res_state_name(cur.state));
        goto out;
    }
    if (new_end <= cur.starts_at) {
        rc = error_set(err, ERR_INVALID, "ends_at", "ends_at must be after starts_at");
        goto out;
    }
    if (new_end > cur.ends_at) {
        struct reservation want = cur;
        want.ends_at = new_end;
        if ((rc = admit_locked(st, pool, &want, &b, err)) < 0)
            goto out;
    }
    struct qparam p[] = {QI(id), QI(new_end), QI(now)};
    rc = exec(st,
              "UPDATE reservations SET ends_at = $2, updated_at = $3 WHERE id = $1 AND state IN "
              "('APPROVED', 'ACTIVE') RETURNING id",
              p, 3, &q, err);
    if (rc < 0)
        goto out;
    if (!q.nrows) {
        rc = error_set(err, ERR_STATE, "state", "reservation %" PRId64 " changed state", id);
        goto out;
    }
    if ((rc = st->ops->notify(st)) < 0)
        goto out;
    rc = st->ops->commit(st, err);
    qres_free(&q);
    cal_busy_free(&b);
    return rc;
out:
    st->ops->rollback(st);
    qres_free(&q);
    cal_busy_free(&b);
    return rc;
}

int store_reservation_change(struct store *st, const struct pool *pool, int64_t id,
                             struct reservation *want, const char *note, int64_t now,
                             struct error *err)
{
    char names[POOL_MAX_RESOURCES][112];
    const char *locks[POOL_MAX_RESOURCES];
    struct reservation cur;
    struct cal_busy b = {0};
    struct qres q = {0};
    int rc;
    if (want->ends_at <= want->starts_at)
        return error_set(err, ERR_INVALID, "ends_at", "ends_at must be after starts_at");
    /* The resources (and so the locks) never change: only the window and the owner do. */
    if ((rc = store_reservation_get(st, id, &cur)) < 0)
        return rc == -ERR_NOT_FOUND
                   ? error_set(err, ERR_NOT_FOUND, "id", "no reservation %" PRId64, id)
                   : rc;
    int nl = lock_names(pool, &cur, names, locks, POOL_MAX_RESOURCES);
    if ((rc = st->ops->begin(st, locks, nl, err)) < 0)
        return rc;
    if ((rc = store_reservation_get(st, id, &cur)) < 0)
        goto out;
    bool moves = want->starts_at != cur.starts_at || want->user_id != cur.user_id;
    if (!res_state_holds_capacity(cur.state) || (moves && cur.state != RS_APPROVED)) {
        rc = error_set(err, ERR_STATE, "state", "reservation %" PRId64 " is %s", id,
                       res_state_name(cur.state));
        goto out;
    }
    struct reservation next = cur;
    next.starts_at = want->starts_at;
    next.ends_at = want->ends_at;
    next.user_id = want->user_id;
    if ((rc = admit_locked(st, pool, &next, &b, err)) < 0)
        goto out;
    struct qparam p[] = {QI(id),           QI(next.starts_at), QI(next.ends_at),
                         QI(next.user_id), QS(note),           QI(now)};
    rc = exec(st,
              "UPDATE reservations SET starts_at = $2, ends_at = $3, user_id = $4, admin_note = "
              "$5, updated_at = $6 WHERE id = $1 AND state IN ('APPROVED', 'ACTIVE') RETURNING id",
              p, 6, &q, err);
    if (rc == -ERR_EXISTS)
        rc = error_set(err, ERR_INVALID, "user", "no such user");
    if (rc < 0)
        goto out;
    if (!q.nrows) {
        rc = error_set(err, ERR_STATE, "state", "reservation %" PRId64 " changed state", id);
        goto out;
    }
    if ((rc = st->ops->notify(st)) < 0)
        goto out;
    rc = st->ops->commit(st, err);
    qres_free(&q);
    cal_busy_free(&b);
    return rc < 0 ? rc : store_reservation_get(st, id, want);
out:
    st->ops->rollback(st);
    qres_free(&q);
    cal_busy_free(&b);
    return rc;
}

int store_reservation_set_session(struct store *st, int64_t id, const struct session_info *s,
                                  int64_t now)
{
    struct qparam p[] = {
        QI(id),          QS(s->namespace_),      QS(s->url), QS(s->phase), QS(s->message),
        QI(s->attempts), QI(s->next_attempt_at), QI(now)};
    return write_one(st,
                     "UPDATE reservations SET session_namespace = $2, session_url = $3, "
                     "session_phase = $4, session_message = $5, session_attempts = $6, "
                     "session_next_attempt_at = $7, updated_at = $8 WHERE id = $1 RETURNING id",
                     p, 8, NULL);
}

/* ---- audit log ---- */

int store_audit_add(struct store *st, const struct audit_entry *e)
{
    struct qparam p[] = {QI(e->at), QS(e->actor), QS(e->action), QS(e->target), QS(e->detail)};
    return exec(st,
                "INSERT INTO audit_log (at, actor, action, target, detail) VALUES ($1, $2, $3, "
                "$4, $5)",
                p, 5, NULL, NULL);
}

int store_audit_list(struct store *st, size_t limit, int64_t before_id, struct audit_entry **ret,
                     size_t *ret_n)
{
    struct audit_filter f = {.limit = limit, .before_id = before_id};
    return store_audit_query(st, &f, ret, ret_n);
}

int store_audit_query(struct store *st, const struct audit_filter *f, struct audit_entry **ret,
                      size_t *ret_n)
{
    char sql[768], hi[sizeof(((struct audit_entry *)0)->action)];
    struct qparam p[9];
    int np = 0;
    size_t limit = f->limit == 0 || f->limit > MAX_LIST ? MAX_LIST : f->limit;
    p[np++] = QI(f->before_id > 0 ? f->before_id : INT64_MAX);
    size_t len = (size_t)snprintf(sql, sizeof sql,
                                  "SELECT id, at, actor, action, target, detail FROM audit_log "
                                  "WHERE id < $1");
#define ADD(cond, param)                                                                           \
    do {                                                                                           \
        p[np++] = (param);                                                                         \
        len += (size_t)snprintf(sql + len, sizeof sql - len, cond, np);                            \
    } while (0)
    if (f->actor && *f->actor)
        ADD(" AND actor = $%d", QS(f->actor));
    size_t al = f->action ? strlen(f->action) : 0;
    if (al && f->action[al - 1] == '.' && al < sizeof hi) {
        /* a prefix "reservation.": every action in ["reservation.", "reservation/") */
        memcpy(hi, f->action, al + 1);
        hi[al - 1] = '.' + 1;
        ADD(" AND action >= $%d", QS(f->action));
        ADD(" AND action < $%d", QS(hi));
    } else if (al) {
        ADD(" AND action = $%d", QS(f->action));
    }
    if (f->target && *f->target)
        ADD(" AND target = $%d", QS(f->target));
    if (f->from)
        ADD(" AND at >= $%d", QI(f->from));
    if (f->to)
        ADD(" AND at < $%d", QI(f->to));
    if (f->without_logins)
        len += (size_t)snprintf(sql + len, sizeof sql - len, " AND action <> 'auth.login'");
    len += (size_t)snprintf(sql + len, sizeof sql - len, " ORDER BY id DESC");
    ADD(" LIMIT $%d", QI((int64_t)limit));
#undef ADD
    struct qres q;
    int rc = exec(st, sql, p, np, &q, NULL);
    if (rc < 0)
        return rc;
    struct audit_entry *v = calloc(q.nrows ? q.nrows : 1, sizeof *v);
    if (!v) {
        rc = -ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < q.nrows; i++) {
        struct audit_entry *e = &v[i];
        if (cell_i64(&q, i, 0, &e->id) < 0 || cell_i64(&q, i, 1, &e->at) < 0 ||
            cell_str(&q, i, 2, e->actor, sizeof e->actor) < 0 ||
            cell_str(&q, i, 3, e->action, sizeof e->action) < 0 ||
            cell_str(&q, i, 4, e->target, sizeof e->target) < 0 ||
            cell_str(&q, i, 5, e->detail, sizeof e->detail) < 0) {
            free(v);
            rc = -ERR_INTERNAL;
            goto out;
        }
    }
    *ret = v;
    *ret_n = q.nrows;
out:
    qres_free(&q);
    return rc;
}

int store_audit_trim(struct store *st, int64_t older_than, int64_t *ret_n)
{
    struct qparam p = QI(older_than);
    struct qres q;
    int rc = exec(st, "DELETE FROM audit_log WHERE at < $1 RETURNING id", &p, 1, &q, NULL);
    if (rc < 0)
        return rc;
    if (ret_n)
        *ret_n = (int64_t)q.nrows;
    qres_free(&q);
    return 0;
}

/* ---- key/value ---- */

int store_kv_set(struct store *st, const char *key, const char *value, int64_t now)
{
    struct qparam p[] = {QS(key), QS(value), QI(now)};
    return exec(st,
                "INSERT INTO kv (key, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (key) "
                "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                p, 3, NULL, NULL);
}

int store_kv_get(struct store *st, const char *key, char **ret, int64_t *ret_updated)
{
    struct qparam p = QS(key);
    struct qres q;
    int rc = exec(st, "SELECT value, updated_at FROM kv WHERE key = $1", &p, 1, &q, NULL);
    if (rc < 0)
        return rc;
    int64_t up = 0;
    const char *v = qres_get(&q, 0, 0);
    if (!q.nrows)
        rc = -ERR_NOT_FOUND;
    else if (!v || cell_i64(&q, 0, 1, &up) < 0)
        rc = -ERR_INTERNAL;
    else if (!(*ret = strdup(v)))
        rc = -ERR_NOMEM;
    else if (ret_updated)
        *ret_updated = up;
    qres_free(&q);
    return rc;
}

/* ---- notification, leader ---- */

int store_notify(struct store *st)
{
    return st->ops->notify(st);
}

int store_listen(struct store *st)
{
    return st->ops->listen(st);
}

int store_wait_notify(struct store *st, int timeout_ms)
{
    return st->ops->wait_notify(st, timeout_ms);
}

int store_try_leader(struct store *st, const char *name)
{
    return st->ops->try_leader(st, name);
}

int store_still_leader(struct store *st)
{
    return st->ops->still_leader(st);
}

/* ---- GPU activity ---- */

int store_activity_add(struct store *st, int64_t reservation_id, const char *resource, int64_t at,
                       int64_t measured_ms, int64_t busy_ms, int64_t fb_used_mib)
{
    if (reservation_id <= 0 || !resource || !resource[0] || at < 0 || measured_ms < 0 ||
        busy_ms < 0 || busy_ms > measured_ms || fb_used_mib < 0)
        return -ERR_INVALID;
    int64_t bucket = at - at % STORE_ACTIVITY_BUCKET_S;
    struct qparam p[] = {QI(reservation_id), QS(resource),    QI(bucket), QI(measured_ms),
                         QI(busy_ms),        QI(fb_used_mib), QI(at)};
    return exec(st,
                "INSERT INTO session_activity (reservation_id, resource, bucket, measured_ms, "
                "busy_ms, fb_max_mib, fb_last_mib, samples, first_at, last_at) VALUES ($1, $2, "
                "$3, $4, $5, $6, $6, 1, $7, $7) ON CONFLICT (reservation_id, resource, bucket) DO "
                "UPDATE SET measured_ms = session_activity.measured_ms + excluded.measured_ms, "
                "busy_ms = session_activity.busy_ms + excluded.busy_ms, "
                "fb_max_mib = CASE WHEN excluded.fb_max_mib > session_activity.fb_max_mib THEN "
                "excluded.fb_max_mib ELSE session_activity.fb_max_mib END, "
                "fb_last_mib = CASE WHEN excluded.last_at >= session_activity.last_at THEN "
                "excluded.fb_last_mib ELSE session_activity.fb_last_mib END, "
                "samples = session_activity.samples + 1, "
                "first_at = CASE WHEN excluded.first_at < session_activity.first_at THEN "
                "excluded.first_at ELSE session_activity.first_at END, "
                "last_at = CASE WHEN excluded.last_at > session_activity.last_at THEN "
                "excluded.last_at ELSE session_activity.last_at END",
                p, 7, NULL, NULL);
}

#define ACTIVITY_SELECT                                                                            \
    "SELECT a.reservation_id, a.resource, SUM(a.measured_ms), SUM(a.busy_ms), "                    \
    "MAX(a.fb_max_mib), SUM(a.samples), MIN(a.first_at), MAX(a.last_at), (SELECT b.fb_last_mib "   \
    "FROM session_activity b WHERE b.reservation_id = a.reservation_id AND b.resource = "          \
    "a.resource AND b.bucket > $1 AND b.bucket < $2 ORDER BY b.last_at DESC LIMIT 1) FROM "        \
    "session_activity a JOIN reservations r ON r.id = a.reservation_id WHERE a.bucket > $1 AND "   \
    "a.bucket < $2"
#define ACTIVITY_GROUP                                                                             \
    " GROUP BY a.reservation_id, a.resource ORDER BY a.reservation_id, a.resource"

int store_activity_list(struct store *st, int64_t from, int64_t to, int64_t user_id,
                        struct activity **ret, size_t *ret_n)
{
    if (to <= from || from < INT64_MIN + STORE_ACTIVITY_BUCKET_S)
        return -ERR_INVALID;
    /* A bucket [b, b + B) overlaps [from, to) when b > from - B and b < to. */
    struct qparam p[] = {QI(from - STORE_ACTIVITY_BUCKET_S), QI(to), QI(user_id)};
    struct qres q;
    int rc = user_id
                 ? exec(st, ACTIVITY_SELECT " AND r.user_id = $3" ACTIVITY_GROUP, p, 3, &q, NULL)
                 : exec(st, ACTIVITY_SELECT ACTIVITY_GROUP, p, 2, &q, NULL);
    if (rc < 0)
        return rc;
    struct activity *v = calloc(q.nrows ? q.nrows : 1, sizeof *v);
    if (!v) {
        rc = -ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < q.nrows; i++) {
        struct activity *a = &v[i];
        if (cell_i64(&q, i, 0, &a->reservation_id) < 0 ||
            cell_str(&q, i, 1, a->resource, sizeof a->resource) < 0 ||
            cell_i64(&q, i, 2, &a->measured_ms) < 0 || cell_i64(&q, i, 3, &a->busy_ms) < 0 ||
            cell_i64(&q, i, 4, &a->fb_max_mib) < 0 || cell_i64(&q, i, 5, &a->samples) < 0 ||
            cell_i64(&q, i, 6, &a->first_at) < 0 || cell_i64(&q, i, 7, &a->last_at) < 0 ||
            cell_i64(&q, i, 8, &a->fb_last_mib) < 0) {
            free(v);
            rc = -ERR_INTERNAL;
            goto out;
        }
    }
    *ret = v;
    *ret_n = q.nrows;
out:
    qres_free(&q);
    return rc;
}
