/* What the cluster says about a session's workspace: a pure reading of the Deployment's and
 * its pods' status, as the deployment controller, the scheduler and the kubelet write it, into
 * one verdict and one sentence a user can act on.
 *
 * DESIGN: the reconciler lists the workspace's pods and gets its Deployment; this module
 * decides. Reasons come from the fields Kubernetes fills (API reference, core/v1 PodStatus,
 * ContainerStatus, apps/v1 DeploymentCondition):
 *   - a pod condition PodScheduled=False with reason Unschedulable (the scheduler's message);
 *   - a container's state.waiting with reason ImagePullBackOff, ErrImagePull, InvalidImageName
 *     or ErrImageNeverPull (the image named), CrashLoopBackOff (the restart count and
 *     lastState.terminated's exit code), CreateContainerConfigError, CreateContainerError or
 *     RunContainerError (the kubelet's message);
 *   - a running container that is not ready and has restarted with a terminated lastState
 *     (the crash between two back-offs);
 *   - a pod in phase Failed (e.g. Evicted);
 *   - the Deployment's ReplicaFailure=True (the ReplicaSet cannot create pods: a quota or
 *     LimitRange refusal) and Progressing=False with reason ProgressDeadlineExceeded.
 * No clock, no I/O; inputs are borrowed. */
#ifndef GPUAAS_CORE_WORKSPACE_HEALTH_H
#define GPUAAS_CORE_WORKSPACE_HEALTH_H

#include <jansson.h>

enum ws_health {
    WS_READY = 0, /* Deployment Available and no pod failing */
    WS_STARTING,  /* on its way: scheduled, pulling, starting, or no pod yet */
    WS_FAILING,   /* a reason that will not go away by itself */
};

struct ws_verdict {
    enum ws_health health;
    char reason[400]; /* one sentence; "" when WS_READY */
    /* A fixed token for the reason, for counting (metrics): "unschedulable", "image_pull",
     * "crash_loop", "container_start", "pod_failed", "replica_failure", "progress_deadline",
     * "no_deployment", "starting" (WS_STARTING); NULL when WS_READY. */
    const char *code;
};

/* Reads `deployment` (the workspace Deployment object, may be NULL when absent) and `pods` (a
 * PodList object with `items`, or an array of Pod objects, may be NULL) into *ret. Pods being
 * deleted (metadata.deletionTimestamp) are ignored. Always fills *ret. */
void workspace_health(const json_t *deployment, const json_t *pods, struct ws_verdict *ret);

const char *ws_health_name(enum ws_health h);

#endif
