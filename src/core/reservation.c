/* Reservation lifecycle table. */
#include "core/reservation.h"

#include <string.h>

static const char *state_names[RS__COUNT] = {"APPROVED", "ACTIVE", "COMPLETED", "CANCELED",
                                             "FAILED"};

const char *res_state_name(enum res_state s)
{
    return (unsigned)s < RS__COUNT ? state_names[s] : "UNKNOWN";
}

int res_state_parse(const char *s, enum res_state *ret)
{
    for (int i = 0; i < RS__COUNT; i++)
        if (s && !strcmp(s, state_names[i])) {
            *ret = (enum res_state)i;
            return 0;
        }
    return -1;
}

const char *res_mode_name(enum res_mode m)
{
    return m == MODE_INFERENCE ? "inference" : "interactive";
}

int res_mode_parse(const char *s, enum res_mode *ret)
{
    if (s && !strcmp(s, "interactive")) {
        *ret = MODE_INTERACTIVE;
        return 0;
    }
    if (s && !strcmp(s, "inference")) {
        *ret = MODE_INFERENCE;
        return 0;
    }
    return -1;
}

bool res_transition_allowed(enum res_state from, enum res_state to)
{
    static const bool ok[RS__COUNT][RS__COUNT] = {
        /*               APPROVED ACTIVE COMPLETED CANCELED FAILED */
        [RS_APPROVED] = {false, true, false, true, true},
        [RS_ACTIVE] = {false, false, true, true, true},
    };
    if ((unsigned)from >= RS__COUNT || (unsigned)to >= RS__COUNT)
        return false;
    return ok[from][to];
}

bool res_state_terminal(enum res_state s)
{
    return s == RS_COMPLETED || s == RS_CANCELED || s == RS_FAILED;
}

bool res_state_holds_capacity(enum res_state s)
{
    return s == RS_APPROVED || s == RS_ACTIVE;
}
