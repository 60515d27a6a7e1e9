/* Fault injection (500, 429, dropped connections, latency) and the /_sim admin endpoints. */
#include "kubesim/sim_internal.h"

int ks_fault_hit(struct ksim *k, const char *path, struct ksim_response *r)
{
    struct ksim_fault *f = &k->fault;
    if (!f->kind || (f->path[0] && !strstr(path, f->path)))
        return 0;
    long n = ++k->fault_count;
    int hit;
    if (f->fail_nth > 0)
        hit = n == f->fail_nth;
    else if (f->every > 0)
        hit = n % f->every == 0;
    else
        hit = f->rate >= 1.0 || (double)rand_r(&k->rng) / RAND_MAX < f->rate;
    if (!hit)
        return 0;
    switch (f->kind) {
    case 500:
        ks_reply_status(r, 500, "InternalError", NULL, NULL,
                        "Internal error occurred: injected fault");
        return 1;
    case 429:
        ks_reply_status(r, 429, "TooManyRequests", NULL, NULL,
                        "Too many requests, please try again later.");
        r->retry_after = 1;
        return 1;
    case 1:
        r->drop = 1;
        return 1;
    case 2:
        r->latency_ms = f->latency_ms;
        return 0;
    }
    return 0;
}

void ks_handle_admin(struct ksim *k, const char *method, const char *path, const char *body,
                     size_t len, struct ksim_response *r)
{
    if (!strcmp(path, "/_sim/faults")) {
        if (!strcmp(method, "DELETE")) {
            memset(&k->fault, 0, sizeof(k->fault));
            k->fault_count = 0;
        } else if (!strcmp(method, "POST") || !strcmp(method, "PUT")) {
            json_error_t jerr;
            json_t *v = json_loadb(body ? body : "", len, 0, &jerr);
            struct ksim_fault f = {0};
            const char *kind = json_string_value(json_object_get(v, "fault"));
            if (!json_is_object(v) || !kind || ksim_parse_fault(kind, &f)) {
                json_decref(v);
                ks_reply_status(r, 400, "BadRequest", NULL, NULL,
                                "expected {\"fault\":\"500|429|drop|latency:MS\", \"nth\":N, "
                                "\"every\":N, \"rate\":P, \"path\":S}");
                return;
            }
            f.fail_nth = (long)json_integer_value(json_object_get(v, "nth"));
            f.every = (long)json_integer_value(json_object_get(v, "every"));
            f.rate = json_number_value(json_object_get(v, "rate"));
            if (!f.fail_nth && !f.every && !json_object_get(v, "rate"))
                f.rate = 1.0;
            snprintf(f.path, sizeof(f.path), "%s",
                     json_string_value(json_object_get(v, "path")) ?: "");
            k->fault = f;
            k->fault_count = 0;
            json_decref(v);
        }
        ks_reply(r, 200,
                 json_pack("{s:i, s:i, s:I, s:I, s:f, s:s, s:I}", "kind", k->fault.kind,
                           "latency_ms", k->fault.latency_ms, "nth", (json_int_t)k->fault.fail_nth,
                           "every", (json_int_t)k->fault.every, "rate", k->fault.rate, "path",
                           k->fault.path, "count", (json_int_t)k->fault_count));
        return;
    }
    if (!strcmp(path, "/_sim/pods")) {
        char msg[300] = "";
        if (!strcmp(method, "DELETE")) {
            ks_pod_fates_clear(k);
        } else if (!strcmp(method, "POST")) {
            json_error_t jerr;
            json_t *v = json_loadb(body ? body : "", len, 0, &jerr);
            int bad = ks_pod_fate_add(k, v, msg, sizeof(msg));
            json_decref(v);
            if (bad) {
                ks_reply_status(r, 400, "BadRequest", NULL, NULL, "%s", msg);
                return;
            }
        }
        json_t *rules = k->pod_fates ? json_incref(k->pod_fates) : json_array();
        ks_reply(r, 200, json_pack("{s:o}", "rules", rules));
        return;
    }
    if (!strcmp(path, "/_sim/stats")) {
        json_t *counts = json_object();
        const char *key;
        json_t *b;
        json_object_foreach(k->store, key, b)
            json_object_set_new(counts, key, json_integer((json_int_t)json_object_size(b)));
        ks_reply(r, 200,
                 json_pack("{s:I, s:o, s:I}", "resourceVersion", (json_int_t)k->rv, "objects",
                           counts, "pendingTasks", (json_int_t)k->ntasks));
        return;
    }
    ks_reply_status(r, 404, "NotFound", NULL, NULL,
                    "the server could not find the requested resource");
}

int ksim_parse_fault(const char *s, struct ksim_fault *f)
{
    if (!strcmp(s, "500"))
        f->kind = 500;
    else if (!strcmp(s, "429"))
        f->kind = 429;
    else if (!strcmp(s, "drop"))
        f->kind = 1;
    else if (!strncmp(s, "latency:", 8) && atoi(s + 8) > 0) {
        f->kind = 2;
        f->latency_ms = atoi(s + 8);
    } else if (!strcmp(s, "none"))
        f->kind = 0;
    else
        return -ERR_INVALID;
    return 0;
}

void ksim_set_fault(struct ksim *k, const struct ksim_fault *f)
{
    pthread_mutex_lock(&k->mu);
    k->fault = *f;
    k->fault_count = 0;
    pthread_mutex_unlock(&k->mu);
}
