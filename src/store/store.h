/* The database behind one interface: SQLite (embedded default, WAL) and PostgreSQL (libpq).
 * Every statement is parameterized. Schema migrations are versioned and applied by
 * store_open(), idempotently. Admission (capacity check + insert) is one transaction:
 * PostgreSQL takes transaction-scoped advisory locks per resource, SQLite BEGIN IMMEDIATE.
 *
 * Threading: a struct store is one connection; it is not shared between threads at once.
 * Servers open one per worker (or guard one with a mutex). Lists returned through `ret`
 * pointers are malloc'ed arrays that the caller frees with free().
 * Errors: 0 on success, -ERR_* (common/error.h) on failure; err (may be NULL) says why. */
#ifndef GPUAAS_STORE_STORE_H
#define GPUAAS_STORE_STORE_H

#include "common/error.h"
#include "core/calendar.h"
#include "core/pool.h"
#include "core/reservation.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* url: "sqlite://PATH", "sqlite:PATH", "sqlite::memory:", "postgres://..." or
 * "postgresql://...". Opens, then migrates. */
int store_open(const char *url, struct store **ret, struct error *err);
void store_close(struct store *st);
/* "sqlite" or "postgres". */
const char *store_backend(const struct store *st);
/* Cheap round trip (SELECT 1); 0 when the database answers. */
int store_ping(struct store *st);
/* Without migrating: the database's schema version (0 when never migrated), the newest this
 * build knows, and the versions a store_open would apply, in order (at most max_pending).
 * store_open refuses (ERR_STATE) a database whose version is newer than *latest. */
int store_migration_status(const char *url, int *current, int *latest, int *pending,
                           size_t max_pending, size_t *n_pending, struct error *err);
/* Schema version after migrations. */
int store_schema_version(struct store *st, int *ret);

/* ---- users ---- */
struct user {
    int64_t id;
    char username[64];
    char role[16]; /* "user" or "admin" */
    bool disabled;
    char password_hash[160]; /* argon2id string (crypto_pwhash_str) */
    int64_t created_at;
    bool sso; /* linked to the authenticating proxy's identity of the same name */
};
int store_user_create(struct store *st, const struct user *u, int64_t *ret_id, struct error *err);
int store_user_get(struct store *st, int64_t id, struct user *ret);
int store_user_get_by_name(struct store *st, const char *username, struct user *ret);
int store_user_list(struct store *st, struct user **ret, size_t *ret_n);
/* NULL pointers leave a field unchanged. */
int store_user_update(struct store *st, int64_t id, const bool *disabled, const char *role,
                      const char *password_hash, struct error *err);
int store_user_count(struct store *st, int64_t *ret);
/* Links (sso true) or unlinks the account to the proxy identity of the same name. Only a
 * linked account can be entered through server.trusted_header. -ERR_NOT_FOUND when absent. */
int store_user_set_sso(struct store *st, int64_t id, bool sso);

/* ---- API tokens (only a hash of the secret is stored) ---- */
struct token {
    int64_t id;
    int64_t user_id;
    char name[64];
    uint8_t hash[32]; /* SHA-256/BLAKE2b of the secret */
    int64_t created_at;
    int64_t expires_at;
};
int store_token_create(struct store *st, const struct token *t, int64_t *ret_id, struct error *err);
int store_token_get(struct store *st, int64_t id, struct token *ret);
/* Token `id` and its user in one query (authentication). -ERR_NOT_FOUND when absent. */
int store_token_get_with_user(struct store *st, int64_t id, struct token *t, struct user *u);
int store_token_list(struct store *st, int64_t user_id, struct token **ret, size_t *ret_n);
/* Deletes token `id` of `user_id` (-ERR_NOT_FOUND when it is not theirs). */
int store_token_delete(struct store *st, int64_t user_id, int64_t id);
/* Cancels every booking of user_id that still holds capacity (APPROVED or ACTIVE; an ACTIVE
 * session is then torn down by the reconciler) at time now. *ret_ids receives the ids
 * canceled (malloc'ed, caller frees; may be NULL when *ret_n is 0). Used when an account is
 * disabled, so nothing it booked keeps running or starts later. 0 or -ERR_*. */
int store_user_end_bookings(struct store *st, int64_t user_id, int64_t now, int64_t **ret_ids,
                            size_t *ret_n);
/* Deletes every token of user_id except except_id (0 = none kept); *ret_n (may be NULL)
 * receives the count. Used on password reset, disable and logout-everywhere. */
int store_token_delete_user(struct store *st, int64_t user_id, int64_t except_id, int64_t *ret_n);
/* Deletes the expired tokens (*ret_n counts them) and the expired workspace grants. */
int store_token_delete_expired(struct store *st, int64_t now, int64_t *ret_n);

/* ---- workspace sign-in (src/server/gate.c): single-use tickets and the cookies they are
 * exchanged for, each bound to one reservation and one user; only a hash of the secret is
 * stored ---- */
enum ws_grant_kind { WS_TICKET = 0, WS_COOKIE = 1 };
struct ws_grant {
    int64_t id;
    enum ws_grant_kind kind;
    int64_t reservation_id;
    int64_t user_id;
    uint8_t hash[32];
    int64_t created_at;
    int64_t expires_at;
    int64_t used_at; /* tickets: when exchanged, 0 = not yet */
};
int store_ws_grant_create(struct store *st, const struct ws_grant *g, int64_t *ret_id,
                          struct error *err);
/* Grant `id` and its user in one query. -ERR_NOT_FOUND when absent. */
int store_ws_grant_get_with_user(struct store *st, int64_t id, struct ws_grant *g, struct user *u);
/* Marks ticket `id` used at `now` unless it was used before: 0, or -ERR_STATE when it was
 * (single use, also when two exchanges race: the conditional UPDATE lets one win). */
int store_ws_ticket_use(struct store *st, int64_t id, int64_t now);

/* ---- reservations ---- */
struct res_filter {
    int64_t from, to;    /* overlap with [from, to); 0 = unbounded */
    int64_t user_id;     /* 0 = everyone */
    int state;           /* -1 = any, else enum res_state */
    bool holds_capacity; /* only APPROVED and ACTIVE */
    size_t limit;        /* 0 = no limit */
    /* paging cursor: only rows after (after_start, after_id) in the list order
     * (starts_at, id); after_id 0 = from the first */
    int64_t after_start, after_id;
};
/* Validated request r (id/state/timestamps ignored) is checked against capacity over its
 * window and inserted as APPROVED in one transaction. On success r gets id, state and
 * timestamps. -ERR_CONFLICT when it does not fit: *next is the earliest window of the same
 * length at or after r->starts_at that fits (ends_at == 0 when none within the horizon). */
int store_reservation_admit(struct store *st, const struct pool *pool, struct reservation *r,
                            int64_t now, struct window *next, struct error *err);
/* The capacity-holding bookings overlapping [from, to) as spans per resource of pool (one
 * light query: id, window and amounts only). Without `ids` the span ids are 0 (one column
 * less per row: enough for the capacity series, not where a booking skips itself). *ret is
 * zero-initialized by the caller and released with cal_busy_free(), also on failure. */
int store_busy(struct store *st, const struct pool *pool, int64_t from, int64_t to, bool ids,
               struct cal_busy *ret, struct error *err);
int store_reservation_get(struct store *st, int64_t id, struct reservation *ret);
/* Bookings per state in one query: counts[s] for each enum res_state s (zero when none).
 * 0 or -ERR_*; a state the code does not know is -ERR_INTERNAL. */
int store_reservation_count_by_state(struct store *st, int64_t counts[RS__COUNT]);
int store_reservation_list(struct store *st, const struct res_filter *f, struct reservation **ret,
                           size_t *ret_n);
/* Compare-and-set state change; -ERR_STATE when the row is not in `from` or the lifecycle
 * forbids it. Sets updated_at = now. */
int store_reservation_transition(struct store *st, int64_t id, enum res_state from,
                                 enum res_state to, int64_t now, struct error *err);
/* Moves ends_at to new_end (later or earlier) after an admission check excluding itself.
 * Only APPROVED/ACTIVE. -ERR_CONFLICT (with *next unset) or -ERR_STATE. */
int store_reservation_set_end(struct store *st, const struct pool *pool, int64_t id,
                              int64_t new_end, int64_t now, struct error *err);
/* An admin's change of booking `id`: want->starts_at, ends_at and user_id replace the row's
 * (the caller fills all three, unchanged ones from the row) after the same admission check as
 * store_reservation_admit (excluding itself, under the same locks), and `note` (why) is kept
 * for the owner to read. Only APPROVED, or ACTIVE with the start and owner unchanged:
 * -ERR_STATE otherwise; -ERR_CONFLICT when it does not fit; on success *want is the row. */
int store_reservation_change(struct store *st, const struct pool *pool, int64_t id,
                             struct reservation *want, const char *note, int64_t now,
                             struct error *err);
/* Writes the session fields (namespace, url, phase, message, attempts, next_attempt_at). */
int store_reservation_set_session(struct store *st, int64_t id, const struct session_info *s,
                                  int64_t now);

/* ---- audit log ---- */
struct audit_entry {
    int64_t id;
    int64_t at;
    char actor[64];   /* username or "system:reconciler" */
    char action[64];  /* "reservation.create", "user.disable", ... */
    char target[128]; /* "reservation/12" */
    char detail[512]; /* short JSON or text, never a secret */
};
int store_audit_add(struct store *st, const struct audit_entry *e);
/* Newest first; before_id 0 = from the newest. */
int store_audit_list(struct store *st, size_t limit, int64_t before_id, struct audit_entry **ret,
                     size_t *ret_n);
struct audit_filter {
    size_t limit;        /* 0 or over the most = the most (1000) */
    int64_t before_id;   /* paging cursor: only ids below it; 0 = from the newest */
    const char *actor;   /* exact; NULL or "" = anyone */
    const char *action;  /* exact, or a prefix when it ends with '.'; NULL or "" = any */
    const char *target;  /* exact ("reservation/12"); NULL or "" = any */
    int64_t from, to;    /* at in [from, to); 0 = unbounded */
    bool without_logins; /* leave out auth.login */
};
/* Newest first, filtered. */
int store_audit_query(struct store *st, const struct audit_filter *f, struct audit_entry **ret,
                      size_t *ret_n);
int store_audit_trim(struct store *st, int64_t older_than, int64_t *ret_n);

/* ---- key/value for published state (e.g. advertised capacity from the reconciler) ---- */
int store_kv_set(struct store *st, const char *key, const char *value, int64_t now);
/* *ret is malloc'ed; -ERR_NOT_FOUND when absent. */
int store_kv_get(struct store *st, const char *key, char **ret, int64_t *ret_updated);

/* ---- GPU activity measured from the DCGM exporter ----
 * Per reservation and resource, in buckets of STORE_ACTIVITY_BUCKET_S seconds (the bucket of
 * the scrape time), so that a time range can be summed without keeping every scrape. */
#define STORE_ACTIVITY_BUCKET_S 3600

struct activity {
    int64_t reservation_id;
    char resource[96];
    int64_t measured_ms; /* wall time measured */
    int64_t busy_ms;     /* busy fraction × measured time */
    int64_t fb_max_mib;  /* highest framebuffer use seen */
    int64_t fb_last_mib; /* framebuffer use at last_at */
    int64_t samples;     /* scrapes counted */
    int64_t first_at, last_at;
};
/* Adds one scrape at time `at` (seconds) to its bucket: measured, busy and samples
 * accumulate, fb_max keeps the largest, fb_last the newest reading. Negative amounts are
 * -ERR_INVALID; an unknown reservation is -ERR_EXISTS (foreign key). */
int store_activity_add(struct store *st, int64_t reservation_id, const char *resource, int64_t at,
                       int64_t measured_ms, int64_t busy_ms, int64_t fb_used_mib);
/* Totals per (reservation, resource) over the buckets that overlap [from, to), ordered by
 * reservation id; user_id 0 = everyone's, else only that user's reservations. */
int store_activity_list(struct store *st, int64_t from, int64_t to, int64_t user_id,
                        struct activity **ret, size_t *ret_n);

/* ---- change notification ---- */
/* PostgreSQL: NOTIFY gpuaas_changes with the connection's schema as payload; SQLite: no-op
 * (reconciler polls data_version). */
int store_notify(struct store *st);
/* PostgreSQL: LISTEN; then store_wait_notify() waits up to timeout_ms for a notification of
 * this connection's schema (another schema in the same database does not wake it; a payload-
 * less NOTIFY does). Returns 1 when notified, 0 on timeout. SQLite: returns 1 when the database
 * changed (PRAGMA data_version) since the last call, checking every 100 ms until timeout. */
int store_listen(struct store *st);
int store_wait_notify(struct store *st, int timeout_ms);

/* ---- leader lock (PostgreSQL session advisory lock; SQLite: an exclusive lock file) ---- */
/* 1 when this connection now holds the lock, 0 when another holder has it. */
int store_try_leader(struct store *st, const char *name);
/* 1 when this connection still holds it (checks the connection is alive). */
int store_still_leader(struct store *st);

#endif
