/* Watch: the bounded ring of change events and the long-poll that streams them. */
#include "kubesim/sim_internal.h"

void ks_emit(struct ksim *k, const struct rtype *rt, const char *ns, const char *type, json_t *obj)
{
    struct event *e = &k->ring[k->nevents % EVENT_RING];
    json_decref(e->obj);
    e->rv = k->rv;
    ks_rt_key(rt, e->key, sizeof(e->key));
    snprintf(e->ns, sizeof(e->ns), "%s", ns ? ns : "");
    snprintf(e->type, sizeof(e->type), "%s", type);
    e->obj = json_deep_copy(obj);
    k->nevents++;
    pthread_cond_broadcast(&k->cond);
}

int ksim_watch_next(struct ksim *k, const struct ksim_response *r, uint64_t *rv, int wait_ms,
                    char **ret)
{
    struct ksim_selector ls, fs;
    struct error e = {0};
    *ret = NULL;
    if (ksim_selector_parse(r->watch_labels, &ls, &e) ||
        ksim_selector_parse(r->watch_fields, &fs, &e))
        return 1;
    size_t cap = 0, len = 0;
    char *out = NULL;
    pthread_mutex_lock(&k->mu);
    int rc = 0;
    if (*rv == 0) {
        /* initial state as ADDED events, then everything after the current version */
        const char *key;
        json_t *obj;
        char prefix[80];
        snprintf(prefix, sizeof(prefix), "%s/", r->watch_ns);
        json_t *b = json_object_get(k->store, r->watch_key);
        json_t *lines = json_array();
        json_object_foreach(b, key, obj)
        {
            if (r->watch_ns[0] && strncmp(key, prefix, strlen(prefix)))
                continue;
            if (ksim_selector_match(&ls, json_object_get(ks_meta(obj), "labels")) &&
                ksim_selector_match_fields(&fs, obj))
                json_array_append_new(lines,
                                      json_pack("{s:s, s:O}", "type", "ADDED", "object", obj));
        }
        *rv = k->rv ? k->rv : 1;
        size_t i;
        json_t *l;
        json_array_foreach(lines, i, l)
        {
            char *d = json_dumps(l, JSON_COMPACT);
            if (!d)
                break;
            size_t dl = strlen(d);
            if (len + dl + 2 > cap) {
                size_t ncap = (len + dl + 2) * 2;
                char *n = realloc(out, ncap);
                if (!n) { /* out of memory: send the events so far, the client resumes */
                    free(d);
                    break;
                }
                out = n;
                cap = ncap;
            }
            memcpy(out + len, d, dl);
            len += dl;
            out[len++] = '\n';
            out[len] = '\0';
            free(d);
        }
        json_decref(lines);
        if (len) {
            pthread_mutex_unlock(&k->mu);
            *ret = out;
            return 0;
        }
    }
    uint64_t oldest = k->nevents > EVENT_RING ? k->ring[k->nevents % EVENT_RING].rv : 0;
    if (*rv < oldest) {
        pthread_mutex_unlock(&k->mu);
        *ret = strdup("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                      "\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old resource "
                      "version\",\"reason\":\"Expired\",\"code\":410}}\n");
        return 1;
    }
    if (!k->shutdown && (k->nevents == 0 || k->ring[(k->nevents - 1) % EVENT_RING].rv <= *rv)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += wait_ms / 1000;
        ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&k->cond, &k->mu, &ts);
    }
    if (k->shutdown) {
        rc = 1;
    } else {
        uint64_t start = k->nevents > EVENT_RING ? k->nevents - EVENT_RING : 0;
        for (uint64_t i = start; i < k->nevents; i++) {
            struct event *ev = &k->ring[i % EVENT_RING];
            if (ev->rv <= *rv || strcmp(ev->key, r->watch_key))
                continue;
            if (r->watch_ns[0] && strcmp(ev->ns, r->watch_ns))
                continue;
            if (!ksim_selector_match(&ls, json_object_get(ks_meta(ev->obj), "labels")) ||
                !ksim_selector_match_fields(&fs, ev->obj))
                continue;
            json_t *l = json_pack("{s:s, s:O}", "type", ev->type, "object", ev->obj);
            char *d = json_dumps(l, JSON_COMPACT);
            json_decref(l);
            size_t dl = strlen(d);
            if (len + dl + 2 > cap) {
                cap = (len + dl + 2) * 2;
                out = realloc(out, cap);
            }
            memcpy(out + len, d, dl);
            len += dl;
            out[len++] = '\n';
            out[len] = '\0';
            free(d);
        }
        if (k->nevents)
            *rv = k->ring[(k->nevents - 1) % EVENT_RING].rv > *rv
                      ? k->ring[(k->nevents - 1) % EVENT_RING].rv
                      : *rv;
    }
    pthread_mutex_unlock(&k->mu);
    *ret = out;
    return rc;
}

void ksim_shutdown(struct ksim *k)
{
    pthread_mutex_lock(&k->mu);
    k->shutdown = 1;
    pthread_cond_broadcast(&k->cond);
    pthread_mutex_unlock(&k->mu);
}
