/* The workspace's health from Kubernetes status fields (see workspace_health.h). */
#include "core/workspace_health.h"

#include "common/json_find.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char *str_at(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

static json_t *condition(const json_t *obj, const char *type)
{
    return json_find_by(json_object_get(json_object_get(obj, "status"), "conditions"), "type",
                        type);
}

static bool cond_is(const json_t *c, const char *status)
{
    const char *s = str_at(c, "status");
    return s && !strcmp(s, status);
}

static void set(struct ws_verdict *v, enum ws_health h, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void set(struct ws_verdict *v, enum ws_health h, const char *code, const char *fmt, ...)
{
    va_list ap;
    v->health = h;
    v->code = code;
    va_start(ap, fmt);
    vsnprintf(v->reason, sizeof(v->reason), fmt, ap);
    va_end(ap);
}

/* " (REASON: MESSAGE)", " (REASON)" or "" into buf. */
static const char *detail(const char *reason, const char *message, char *buf, size_t n)
{
    if (reason && *reason && message && *message)
        snprintf(buf, n, " (%s: %s)", reason, message);
    else if (reason && *reason)
        snprintf(buf, n, " (%s)", reason);
    else if (message && *message)
        snprintf(buf, n, " (%s)", message);
    else
        buf[0] = '\0';
    return buf;
}

static bool is_image_reason(const char *r)
{
    static const char *const reasons[] = {"ImagePullBackOff", "ErrImagePull", "InvalidImageName",
                                          "ErrImageNeverPull"};
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (!strcmp(r, reasons[i]))
            return true;
    return false;
}

static bool is_start_error(const char *r)
{
    return !strcmp(r, "CreateContainerConfigError") || !strcmp(r, "CreateContainerError") ||
           !strcmp(r, "RunContainerError");
}

/* The image of container `name`: the status's own field, else the pod spec's. */
static const char *image_of(const json_t *pod, const json_t *cs)
{
    const char *img = str_at(cs, "image");
    if (img && *img)
        return img;
    const json_t *spec = json_object_get(pod, "spec");
    json_t *c = json_find_by(json_object_get(spec, "containers"), "name", str_at(cs, "name"));
    if (!c)
        c = json_find_by(json_object_get(spec, "initContainers"), "name", str_at(cs, "name"));
    return or_empty(str_at(c, "image"));
}

/* A container status that will not recover by itself: fills v and returns true. */
static bool container_failing(const json_t *pod, const json_t *cs, struct ws_verdict *v)
{
    char d[300];
    const char *name = or_empty(str_at(cs, "name"));
    json_t *waiting = json_object_get(json_object_get(cs, "state"), "waiting");
    json_t *last = json_object_get(json_object_get(cs, "lastState"), "terminated");
    json_int_t restarts = json_integer_value(json_object_get(cs, "restartCount"));
    const char *wr = str_at(waiting, "reason");
    if (wr && is_image_reason(wr)) {
        set(v, WS_FAILING, "image_pull", "the image %s cannot be pulled%s", image_of(pod, cs),
            detail(wr, str_at(waiting, "message"), d, sizeof(d)));
        return true;
    }
    if (wr && !strcmp(wr, "CrashLoopBackOff")) {
        if (last)
            set(v, WS_FAILING, "crash_loop",
                "the container %s keeps crashing (CrashLoopBackOff after %lld restarts, last "
                "exit code %lld%s%s)",
                name, (long long)restarts,
                (long long)json_integer_value(json_object_get(last, "exitCode")),
                str_at(last, "reason") ? ", " : "", or_empty(str_at(last, "reason")));
        else
            set(v, WS_FAILING, "crash_loop",
                "the container %s keeps crashing (CrashLoopBackOff after %lld restarts)", name,
                (long long)restarts);
        return true;
    }
    if (wr && is_start_error(wr)) {
        set(v, WS_FAILING, "container_start", "the container %s cannot start%s", name,
            detail(wr, str_at(waiting, "message"), d, sizeof(d)));
        return true;
    }
    /* Between two back-offs a crashing container runs briefly, not ready. */
    bool running = json_object_get(json_object_get(cs, "state"), "running") != NULL;
    if (running && !json_is_true(json_object_get(cs, "ready")) && restarts > 0 && last) {
        set(v, WS_FAILING, "crash_loop",
            "the container %s keeps crashing (%lld restarts, last exit code %lld%s%s)", name,
            (long long)restarts, (long long)json_integer_value(json_object_get(last, "exitCode")),
            str_at(last, "reason") ? ", " : "", or_empty(str_at(last, "reason")));
        return true;
    }
    return false;
}

/* A pod that cannot become ready by itself: fills v and returns true. */
static bool pod_failing(const json_t *pod, struct ws_verdict *v)
{
    char d[300];
    const json_t *st = json_object_get(pod, "status");
    const char *phase = str_at(st, "phase");
    if (phase && !strcmp(phase, "Failed")) {
        set(v, WS_FAILING, "pod_failed", "the workspace pod failed%s",
            detail(str_at(st, "reason"), str_at(st, "message"), d, sizeof(d)));
        return true;
    }
    json_t *sched = condition(pod, "PodScheduled");
    if (sched && cond_is(sched, "False")) {
        const char *m = str_at(sched, "message");
        set(v, WS_FAILING, "unschedulable", "the workspace cannot be scheduled%s%s",
            m && *m ? ": " : "", m && *m ? m : or_empty(str_at(sched, "reason")));
        return true;
    }
    static const char *const lists[] = {"initContainerStatuses", "containerStatuses"};
    for (size_t k = 0; k < 2; k++) {
        size_t i;
        json_t *cs;
        json_array_foreach(json_object_get(st, lists[k]), i, cs)
        {
            if (container_failing(pod, cs, v))
                return true;
        }
    }
    return false;
}

/* Why a pod on its way is not ready yet ("ContainerCreating", ...), or NULL. */
static const char *pod_waiting_reason(const json_t *pod)
{
    const json_t *st = json_object_get(pod, "status");
    static const char *const lists[] = {"initContainerStatuses", "containerStatuses"};
    for (size_t k = 0; k < 2; k++) {
        size_t i;
        json_t *cs;
        json_array_foreach(json_object_get(st, lists[k]), i, cs)
        {
            const char *r =
                str_at(json_object_get(json_object_get(cs, "state"), "waiting"), "reason");
            if (r && *r)
                return r;
        }
    }
    return NULL;
}

void workspace_health(const json_t *deployment, const json_t *pods, struct ws_verdict *ret)
{
    char d[300];
    const json_t *items = json_is_array(pods) ? pods : json_object_get(pods, "items");
    memset(ret, 0, sizeof(*ret));
    if (!deployment) {
        set(ret, WS_FAILING, "no_deployment", "the workspace Deployment does not exist");
        return;
    }
    json_t *rf = condition(deployment, "ReplicaFailure");
    if (rf && cond_is(rf, "True")) {
        const char *m = str_at(rf, "message");
        set(ret, WS_FAILING, "replica_failure", "the workspace pod cannot be created: %s",
            m && *m ? m : or_empty(str_at(rf, "reason")));
        return;
    }
    json_t *pr = condition(deployment, "Progressing");
    const char *prr = str_at(pr, "reason");
    if (pr && cond_is(pr, "False") && prr && !strcmp(prr, "ProgressDeadlineExceeded")) {
        set(ret, WS_FAILING, "progress_deadline", "the workspace did not start%s",
            detail(prr, str_at(pr, "message"), d, sizeof(d)));
        return;
    }
    size_t i, live = 0;
    json_t *pod;
    const char *waiting = NULL;
    json_array_foreach(items, i, pod)
    {
        if (json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp"))
            continue;
        live++;
        if (pod_failing(pod, ret))
            return;
        if (!waiting)
            waiting = pod_waiting_reason(pod);
    }
    if (cond_is(condition(deployment, "Available"), "True")) {
        ret->health = WS_READY;
        ret->reason[0] = '\0';
        ret->code = NULL;
        return;
    }
    if (!live)
        set(ret, WS_STARTING, "starting", "waiting for the workspace pod to be created");
    else if (waiting)
        set(ret, WS_STARTING, "starting", "the workspace is starting (%s)", waiting);
    else
        set(ret, WS_STARTING, "starting", "waiting for the workspace to become available");
}

const char *ws_health_name(enum ws_health h)
{
    switch (h) {
    case WS_READY:
        return "ready";
    case WS_STARTING:
        return "starting";
    case WS_FAILING:
        return "failing";
    }
    return "?";
}
