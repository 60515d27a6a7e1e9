/* Watch: the bounded ring of change events and the long-poll that streams them. */
#include "kubesim/sim_internal.h"

#include "common/strbuf.h"

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

/* Appends one watch event line {"type": type, "object": obj} and a newline to out.
 * 0, or -ERR_NOMEM (out keeps its sticky error). */
static int add_event_line(struct strbuf *out, const char *type, json_t *obj)
{
    json_t *l = json_pack("{s:s, s:O}", "type", type, "object", obj);
    char *d = l ? json_dumps(l, JSON_COMPACT) : NULL;
    json_decref(l);
    int r = d ? sb_adds(out, d) : -ERR_NOMEM;
    free(d);
    return r < 0 ? r : sb_addch(out, '\n');
}

/* Hands the lines collected over to *ret: NULL when there are none or memory ran out (the
 * client then watches again from the version it has). */
static char *take_lines(struct strbuf *out)
{
    if (!out->len || out->err) {
        sb_release(out);
        return NULL;
    }
    return sb_detach(out, NULL);
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
    struct strbuf out = STRBUF_INIT;
    pthread_mutex_lock(&k->mu);
    int rc = 0;
    if (*rv == 0) {
        /* initial state as ADDED events, then everything after the current version */
        const char *key;
        json_t *obj;
        char prefix[80];
        snprintf(prefix, sizeof(prefix), "%s/", r->watch_ns);
        json_t *b = json_object_get(k->store, r->watch_key);
        json_object_foreach(b, key, obj)
        {
            if (r->watch_ns[0] && strncmp(key, prefix, strlen(prefix)))
                continue;
            if (ksim_selector_match(&ls, json_object_get(ks_meta(obj), "labels")) &&
                ksim_selector_match_fields(&fs, obj) && add_event_line(&out, "ADDED", obj) < 0)
                break; /* out of memory */
        }
        *rv = k->rv ? k->rv : 1;
        if (out.len) {
            pthread_mutex_unlock(&k->mu);
            *ret = take_lines(&out);
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
            if (add_event_line(&out, ev->type, ev->obj) < 0)
                break; /* out of memory */
        }
        if (k->nevents)
            *rv = k->ring[(k->nevents - 1) % EVENT_RING].rv > *rv
                      ? k->ring[(k->nevents - 1) % EVENT_RING].rv
                      : *rv;
    }
    pthread_mutex_unlock(&k->mu);
    *ret = take_lines(&out);
    return rc;
}

void ksim_shutdown(struct ksim *k)
{
    pthread_mutex_lock(&k->mu);
    k->shutdown = 1;
    pthread_cond_broadcast(&k->cond);
    pthread_mutex_unlock(&k->mu);
}
