/* A reservation (booking) and its session fields, and the lifecycle state machine.
 *
 *   APPROVED -> ACTIVE -> COMPLETED
 *   APPROVED -> CANCELED | FAILED      ACTIVE -> CANCELED | FAILED
 * COMPLETED, CANCELED and FAILED are terminal. The store enforces the same table with a
 * compare-and-set on the state column, so a canceled booking never becomes ACTIVE even
 * when the cancel races the reconciler. Plain data; pure functions. */
#ifndef GPUAAS_CORE_RESERVATION_H
#define GPUAAS_CORE_RESERVATION_H

#include <stdbool.h>
#include <stdint.h>

enum res_state { RS_APPROVED = 0, RS_ACTIVE, RS_COMPLETED, RS_CANCELED, RS_FAILED, RS__COUNT };
enum res_mode { MODE_INTERACTIVE = 0, MODE_INFERENCE };

struct session_info {
    char namespace_[64]; /* persisted when provisioned; never recomputed */
    char url[256];
    char phase[200];   /* "", Provisioning, Ready, "Degraded: <reason>", Terminating, Deleted,
                        * Failed */
    char message[512]; /* shown to the user (e.g. the exceeded-quota text) */
    int attempts;      /* failed provisioning attempts so far */
    int64_t next_attempt_at;
};

struct reservation {
    int64_t id;
    int64_t user_id;
    char user[64];     /* username, filled by the store on reads */
    char gpu_type[96]; /* pool resource name */
    int gpu_count;     /* physical units */
    enum res_mode mode;
    int cpu;
    int memory_gib;
    int storage_gib;
    char purpose[256];
    int64_t starts_at; /* [starts_at, ends_at) */
    int64_t ends_at;
    enum res_state state;
    int64_t created_at;
    int64_t updated_at;
    struct session_info session;
    char admin_note[256]; /* why an admin last moved, shortened or reassigned it ("" = never) */
};

const char *res_state_name(enum res_state s);
/* 0 and *ret on a known name ("APPROVED"...), -1 otherwise. */
int res_state_parse(const char *s, enum res_state *ret);
const char *res_mode_name(enum res_mode m);
int res_mode_parse(const char *s, enum res_mode *ret);
/* True when `from -> to` is a legal transition. */
bool res_transition_allowed(enum res_state from, enum res_state to);
bool res_state_terminal(enum res_state s);
/* True when the booking holds capacity (APPROVED or ACTIVE). */
bool res_state_holds_capacity(enum res_state s);

#endif
