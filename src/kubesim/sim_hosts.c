/* Host claims, as OpenShift's router admits Routes: the oldest claim of a host wins, and a
 * later Route for that host from another namespace gets status.ingress[].conditions
 * Admitted=False, reason HostAlreadyClaimed (the Route object is stored, as on OpenShift).
 * HTTPRoutes: a Gateway controller's stand-in accepts every parentRef (status.parents[],
 * condition Accepted), as a controller does whose Gateway admits the route's namespace.
 * Ingresses hold a claim too (OpenShift turns them into Routes); on Kubernetes ingress-nginx
 * would merge the rules of every namespace for one host, so the double refuses an Ingress
 * whose host another namespace's Route or Ingress already holds with 403 Forbidden, the
 * outcome the platform's policy must give (docs/kubesim.md, "Host claims"). */
#include "kubesim/sim_internal.h"

static int admitted(json_t *route)
{
    size_t i, j;
    json_t *ing, *c;
    json_array_foreach(json_object_get(json_object_get(route, "status"), "ingress"), i, ing)
    {
        json_array_foreach(json_object_get(ing, "conditions"), j, c)
        {
            const char *t = json_string_value(json_object_get(c, "type"));
            const char *s = json_string_value(json_object_get(c, "status"));
            if (t && s && !strcmp(t, "Admitted") && !strcmp(s, "True"))
                return 1;
        }
    }
    return 0;
}

static int ingress_has_host(json_t *ing, const char *host)
{
    size_t i;
    json_t *rule;
    json_array_foreach(json_object_get(json_object_get(ing, "spec"), "rules"), i, rule)
    {
        const char *h = json_string_value(json_object_get(rule, "host"));
        if (h && !strcasecmp(h, host))
            return 1;
    }
    return 0;
}

/* The claim of host held by a namespace other than ns: writes "routes ns/name" or
 * "ingresses ns/name" to holder and returns 1, or returns 0. self is skipped. */
static int other_claim(struct ksim *k, const char *ns, json_t *self, const char *host, char *holder,
                       size_t n)
{
    const char *key;
    json_t *o;
    json_object_foreach(ks_bucket(k, ks_rtype_by_name("routes")), key, o)
    {
        const char *h = json_string_value(json_object_get(json_object_get(o, "spec"), "host"));
        const char *ons = ks_mstr(o, "namespace");
        if (o == self || !h || strcasecmp(h, host) || !ons || !strcmp(ons, ns) || !admitted(o))
            continue;
        snprintf(holder, n, "routes %s", key);
        return 1;
    }
    json_object_foreach(ks_bucket(k, ks_rtype_by_name("ingresses")), key, o)
    {
        const char *ons = ks_mstr(o, "namespace");
        if (o == self || !ons || !strcmp(ons, ns) || !ingress_has_host(o, host))
            continue;
        snprintf(holder, n, "ingresses %s", key);
        return 1;
    }
    return 0;
}

void ks_route_admit(struct ksim *k, json_t *obj, const char *ns)
{
    json_t *spec = json_object_get(obj, "spec");
    const char *host = json_string_value(json_object_get(spec, "host"));
    char hbuf[400], holder[400], msg[900];
    if (!host || !*host) {
        snprintf(hbuf, sizeof(hbuf), "%s-%s.apps.kubesim.local", ks_mstr(obj, "name"), ns);
        if (json_is_object(spec))
            json_object_set_new(spec, "host", json_string(hbuf));
        host = hbuf;
    }
    char ts[RFC3339_LEN];
    ks_now_rfc3339(ts);
    json_t *cond;
    if (other_claim(k, ns, obj, host, holder, sizeof(holder))) {
        snprintf(msg, sizeof(msg), "a route in another namespace holds %s and is older than %s",
                 host, ks_mstr(obj, "name"));
        cond = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "Admitted", "status", "False",
                         "reason", "HostAlreadyClaimed", "message", msg, "lastTransitionTime", ts);
    } else {
        cond = json_pack("{s:s, s:s, s:s}", "type", "Admitted", "status", "True",
                         "lastTransitionTime", ts);
    }
    json_object_set_new(obj, "status",
                        json_pack("{s:[{s:s, s:s, s:s, s:[o]}]}", "ingress", "host", host,
                                  "routerName", "default", "wildcardPolicy", "None", "conditions",
                                  cond));
}

void ks_httproute_accept(json_t *obj)
{
    char ts[RFC3339_LEN];
    ks_now_rfc3339(ts);
    json_t *md = json_object_get(obj, "metadata");
    json_int_t gen = json_integer_value(json_object_get(md, "generation"));
    json_t *parents = json_array();
    size_t i;
    json_t *ref;
    json_array_foreach(json_object_get(json_object_get(obj, "spec"), "parentRefs"), i, ref)
    {
        json_array_append_new(
            parents,
            json_pack("{s:O, s:s, s:[{s:s, s:s, s:s, s:s, s:s, s:I}]}", "parentRef", ref,
                      "controllerName", "gpuaas.io/kubesim-gateway", "conditions", "type",
                      "Accepted", "status", "True", "reason", "Accepted", "message",
                      "accepted by the API double's gateway stand-in", "lastTransitionTime", ts,
                      "observedGeneration", gen > 0 ? gen : (json_int_t)1));
    }
    json_object_set_new(obj, "status", json_pack("{s:o}", "parents", parents));
}

int ks_ingress_host_check(struct ksim *k, const char *ns, json_t *ing, char *msg, size_t msglen)
{
    size_t i;
    json_t *rule;
    json_t *self = ks_lookup(k, ks_rtype_by_name("ingresses"), ns, ks_mstr(ing, "name"));
    json_array_foreach(json_object_get(json_object_get(ing, "spec"), "rules"), i, rule)
    {
        const char *h = json_string_value(json_object_get(rule, "host"));
        char holder[400];
        if (h && *h && other_claim(k, ns, self, h, holder, sizeof(holder))) {
            snprintf(msg, msglen,
                     "spec.rules[%zu].host: host \"%s\" is already claimed by %s in another "
                     "namespace (the oldest claim of a host wins)",
                     i, h, holder);
            return -1;
        }
    }
    return 0;
}
