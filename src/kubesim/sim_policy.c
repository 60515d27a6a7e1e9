/* ValidatingAdmissionPolicies in the double: which policy and binding match a write is decided
 * here (matchConstraints and the binding's matchResources: resourceRules, excludeResourceRules,
 * namespaceSelector, objectSelector); the CEL (matchConditions, validations) is evaluated by an
 * external command (gpuaas-kubesim --cel-eval CMD), a long-lived child that reads one JSON
 * line per policy and request on stdin and answers one JSON line on stdout:
 *   in:  {"policy": VAP, "binding": BINDING, "request": {"operation", "userInfo", "namespace",
 *         "name", "resource": {group, version, resource}, "kind": {group, version, kind}},
 *         "object": OBJ|null, "oldObject": OLD|null, "namespaceObject": NS|null}
 *   out: {"allowed": true} | {"allowed": false, "message": M, "reason": "Invalid"|"Forbidden"}
 *        | {"error": M}    (a CEL error: the policy's failurePolicy decides)
 * Without --cel-eval, a matching policy is not evaluated and the request is allowed with a
 * Warning header that says so (kubectl prints it), and a line on stderr: never in silence.
 *
 * DESIGN: the child is started on first use under the double's mutex and kept; an answer must
 * come within CEL_TIMEOUT_MS (a node process on a loaded 2-core machine answers in well under
 * a second); a dead or silent child is an evaluation error, and is restarted on next use. */
#include "kubesim/sim_internal.h"

#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define CEL_TIMEOUT_MS 10000
#define CEL_MAX_LINE (1u << 20)

struct ks_policy {
    pid_t pid;
    int in, out; /* our ends: write requests to in, read answers from out */
    char *buf;
    size_t len;
};

void ks_policy_close(struct ksim *k)
{
    struct ks_policy *p = k->policy;
    if (!p)
        return;
    if (p->in >= 0)
        close(p->in);
    if (p->out >= 0)
        close(p->out);
    if (p->pid > 0) {
        kill(p->pid, SIGTERM);
        waitpid(p->pid, NULL, 0);
    }
    free(p->buf);
    free(p);
    k->policy = NULL;
}

static int policy_start(struct ksim *k, char *err, size_t n)
{
    int to_child[2], from_child[2];
    if (pipe2(to_child, O_CLOEXEC))
        goto fail;
    if (pipe2(from_child, O_CLOEXEC)) {
        close(to_child[0]);
        close(to_child[1]);
        goto fail;
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(to_child[0]);
        close(to_child[1]);
        close(from_child[0]);
        close(from_child[1]);
        goto fail;
    }
    if (pid == 0) {
        dup2(to_child[0], 0);
        dup2(from_child[1], 1);
        execl("/bin/sh", "sh", "-c", k->opt.cel_eval, (char *)NULL);
        _exit(127);
    }
    close(to_child[0]);
    close(from_child[1]);
    struct ks_policy *p = calloc(1, sizeof(*p));
    if (!p) {
        close(to_child[1]);
        close(from_child[0]);
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        goto fail;
    }
    p->pid = pid;
    p->in = to_child[1];
    p->out = from_child[0];
    k->policy = p;
    return 0;
fail:
    snprintf(err, n, "cannot start the CEL evaluator: %s", strerror(errno));
    return -1;
}

/* Sends one line, reads one answer (a new reference) or NULL with err. */
static json_t *policy_call(struct ksim *k, json_t *msg, char *err, size_t n)
{
    if (!k->policy && policy_start(k, err, n))
        return NULL;
    struct ks_policy *p = k->policy;
    char *line = json_dumps(msg, JSON_COMPACT);
    json_t *answer = NULL;
    if (!line) {
        snprintf(err, n, "cannot encode the request for the CEL evaluator");
        return NULL;
    }
    size_t len = strlen(line), off = 0;
    line[len] = '\0';
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    while (off < len + 1) {
        const char *src = off < len ? line + off : "\n";
        size_t cnt = off < len ? len - off : 1;
        ssize_t w = write(p->in, src, cnt);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(err, n, "the CEL evaluator is gone (write: %s)", strerror(errno));
            goto out;
        }
        off += (size_t)w;
    }
    for (;;) {
        char *nl = p->buf ? memchr(p->buf, '\n', p->len) : NULL;
        if (nl) {
            json_error_t je;
            answer = json_loadb(p->buf, (size_t)(nl - p->buf), 0, &je);
            p->len -= (size_t)(nl + 1 - p->buf);
            memmove(p->buf, nl + 1, p->len);
            if (!json_is_object(answer)) {
                json_decref(answer);
                answer = NULL;
                snprintf(err, n, "the CEL evaluator answered something that is not a JSON object");
            }
            goto out;
        }
        struct pollfd pfd = {.fd = p->out, .events = POLLIN};
        int pr = poll(&pfd, 1, CEL_TIMEOUT_MS);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0) {
            snprintf(err, n, "the CEL evaluator did not answer within %d ms", CEL_TIMEOUT_MS);
            goto out;
        }
        char chunk[65536];
        ssize_t r = read(p->out, chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || p->len + (size_t)r > CEL_MAX_LINE) {
            snprintf(err, n, "the CEL evaluator is gone or answered more than %u bytes",
                     CEL_MAX_LINE);
            goto out;
        }
        char *nb = realloc(p->buf, p->len + (size_t)r);
        if (!nb) {
            snprintf(err, n, "out of memory");
            goto out;
        }
        p->buf = nb;
        memcpy(p->buf + p->len, chunk, (size_t)r);
        p->len += (size_t)r;
    }
out:
    signal(SIGPIPE, old);
    free(line);
    if (!answer)
        ks_policy_close(k); /* restarted on next use */
    return answer;
}

/* ---------- matching ---------- */

static int has_or_star(json_t *arr, const char *v)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        const char *s = json_string_value(e);
        if (s && (!strcmp(s, "*") || !strcmp(s, v)))
            return 1;
    }
    return 0;
}

static int rule_matches(json_t *rule, const struct rtype *rt, const char *op, const char *name)
{
    json_t *res = json_object_get(rule, "resources");
    if (!has_or_star(json_object_get(rule, "apiGroups"), rt->group) ||
        !has_or_star(json_object_get(rule, "apiVersions"), rt->version) ||
        !has_or_star(json_object_get(rule, "operations"), op))
        return 0;
    size_t i;
    json_t *e;
    int found = 0;
    json_array_foreach(res, i, e)
    {
        const char *s = json_string_value(e);
        if (s && (!strcmp(s, "*") || !strcmp(s, "*/*") || !strcmp(s, rt->resource)))
            found = 1;
    }
    if (!found)
        return 0;
    json_t *names = json_object_get(rule, "resourceNames");
    if (json_array_size(names) == 0)
        return 1;
    return name && has_or_star(names, name);
}

static int any_rule(json_t *rules, const struct rtype *rt, const char *op, const char *name)
{
    size_t i;
    json_t *r;
    json_array_foreach(rules, i, r) if (rule_matches(r, rt, op, name)) return 1;
    return 0;
}

/* Does mr (a MatchResources) select this request? NULL mr selects everything. A malformed
 * selector selects (so that the policy is evaluated, never skipped). */
static int match_resources(json_t *mr, const struct rtype *rt, const char *op, json_t *object,
                           json_t *nsobj)
{
    if (!json_is_object(mr))
        return 1;
    const char *name = ks_mstr(object, "name");
    json_t *rules = json_object_get(mr, "resourceRules");
    if (rules && !any_rule(rules, rt, op, name))
        return 0;
    if (any_rule(json_object_get(mr, "excludeResourceRules"), rt, op, name))
        return 0;
    json_t *nssel = json_object_get(mr, "namespaceSelector");
    if (nssel) {
        json_t *labels = NULL;
        if (!strcmp(rt->resource, "namespaces"))
            labels = json_object_get(ks_meta(object), "labels");
        else if (rt->namespaced)
            labels = json_object_get(ks_meta(nsobj), "labels");
        if ((rt->namespaced || !strcmp(rt->resource, "namespaces")) &&
            !ksim_label_selector_object_match(nssel, labels))
            return 0;
    }
    json_t *osel = json_object_get(mr, "objectSelector");
    if (osel && !ksim_label_selector_object_match(osel, json_object_get(ks_meta(object), "labels")))
        return 0;
    return 1;
}

static void add_warning(struct ksim_response *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void add_warning(struct ksim_response *r, const char *fmt, ...)
{
    size_t len = strlen(r->warning);
    if (len + 8 >= sizeof(r->warning))
        return;
    if (len)
        r->warning[len++] = ';', r->warning[len++] = ' ', r->warning[len] = '\0';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->warning + len, sizeof(r->warning) - len, fmt, ap);
    va_end(ap);
}

static json_t *user_info(const struct ksim *k)
{
    json_t *groups = json_array();
    struct ksim_rbac_user token;
    const struct ksim_rbac_user *u = k->as;
    char msg[200];
    if (!u && k->opt.token_user &&
        !ksim_rbac_user_init(&token, k->opt.token_user, NULL, 0, msg, sizeof(msg)))
        u = &token;
    if (!u) {
        json_array_append_new(groups, json_string("system:masters"));
        json_array_append_new(groups, json_string("system:authenticated"));
        return json_pack("{s:s, s:o}", "username", "kubesim-admin", "groups", groups);
    }
    for (int i = 0; i < u->ngroups; i++)
        json_array_append_new(groups, json_string(u->groups[i]));
    return json_pack("{s:s, s:o}", "username", u->name, "groups", groups);
}

int ks_policy_admit(struct ksim *k, const struct rtype *rt, const char *ns, const char *op,
                    json_t *obj, json_t *old, struct ksim_response *r)
{
    json_t *bindings = json_object_get(k->store, "validatingadmissionpolicybindings."
                                                 "admissionregistration.k8s.io");
    json_t *policies =
        json_object_get(k->store, "validatingadmissionpolicies.admissionregistration.k8s.io");
    json_t *object = obj ? obj : old;
    json_t *nsobj = rt->namespaced ? ks_lookup(k, &rtypes[0], "", ns) : NULL;
    const char *key;
    json_t *b;
    json_object_foreach(bindings, key, b)
    {
        json_t *bspec = json_object_get(b, "spec");
        const char *pname = json_string_value(json_object_get(bspec, "policyName"));
        char pkey[300];
        snprintf(pkey, sizeof(pkey), "/%s", pname ? pname : "");
        json_t *pol = json_object_get(policies, pkey);
        json_t *pspec = json_object_get(pol, "spec");
        if (!pol || !json_object_get(pspec, "matchConstraints") ||
            !match_resources(json_object_get(pspec, "matchConstraints"), rt, op, object, nsobj) ||
            !match_resources(json_object_get(bspec, "matchResources"), rt, op, object, nsobj))
            continue;
        const char *bname = ks_mstr(b, "name");
        if (!k->opt.cel_eval) {
            add_warning(r,
                        "ValidatingAdmissionPolicy '%s' with binding '%s' was NOT evaluated: the "
                        "API server double has no CEL evaluator (--cel-eval)",
                        pname, bname);
            log_warn("admission policy not evaluated (no --cel-eval)",
                     "policy=%s binding=%s op=%s resource=%s", pname, bname, op, rt->resource);
            continue;
        }
        json_t *msg = json_pack(
            "{s:O, s:O, s:{s:s, s:o, s:s, s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s}}, s:O?, "
            "s:O?, s:O?}",
            "policy", pol, "binding", b, "request", "operation", op, "userInfo", user_info(k),
            "namespace", rt->namespaced ? ns : "", "name", ks_mstr(object, "name") ?: "",
            "resource", "group", rt->group, "version", rt->version, "resource", rt->resource,
            "kind", "group", rt->group, "version", rt->version, "kind", rt->kind, "object", obj,
            "oldObject", old, "namespaceObject", nsobj);
        char err[400] = "";
        json_t *ans = msg ? policy_call(k, msg, err, sizeof(err)) : NULL;
        json_decref(msg);
        const char *e = json_string_value(json_object_get(ans, "error"));
        char q[160], full[1024];
        const char *name = ks_mstr(object, "name") ?: "";
        if (!ans || e) {
            const char *fp = json_string_value(json_object_get(pspec, "failurePolicy"));
            if (fp && !strcmp(fp, "Ignore")) {
                add_warning(r, "ValidatingAdmissionPolicy '%s' failed and is ignored: %s", pname,
                            e ? e : err);
                json_decref(ans);
                continue;
            }
            snprintf(full, sizeof(full),
                     "%s \"%s\" is forbidden: ValidatingAdmissionPolicy '%s' with binding '%s' "
                     "denied request: expression could not be evaluated: %s",
                     ks_qualified(rt, q, sizeof(q)), name, pname, bname, e ? e : err);
            ks_reply_status(r, 403, "Forbidden", name, rt, "%s", full);
            json_decref(ans);
            return -1;
        }
        if (json_is_true(json_object_get(ans, "allowed"))) {
            json_decref(ans);
            continue;
        }
        const char *why = json_string_value(json_object_get(ans, "message")) ?: "denied";
        const char *reason = json_string_value(json_object_get(ans, "reason")) ?: "Invalid";
        json_t *actions = json_object_get(bspec, "validationActions");
        if (!has_or_star(actions, "Deny")) {
            if (has_or_star(actions, "Warn"))
                add_warning(r,
                            "Validation failed for ValidatingAdmissionPolicy '%s' with binding "
                            "'%s': %s",
                            pname, bname, why);
            json_decref(ans);
            continue;
        }
        int code = !strcmp(reason, "Forbidden")               ? 403
                   : !strcmp(reason, "Unauthorized")          ? 401
                   : !strcmp(reason, "RequestEntityTooLarge") ? 413
                                                              : 422;
        snprintf(full, sizeof(full),
                 "%s \"%s\" is %s: ValidatingAdmissionPolicy '%s' with binding '%s' denied "
                 "request: %s",
                 ks_qualified(rt, q, sizeof(q)), name, code == 422 ? "invalid" : "forbidden", pname,
                 bname, why);
        ks_reply_status(r, code, code == 422 ? "Invalid" : reason, name, rt, "%s", full);
        json_decref(ans);
        return -1;
    }
    return 0;
}
