/* RBAC of the API server double for impersonated requests (Impersonate-User/-Group, as
 * `kubectl --as=alice --as-group=g` sends): Kubernetes' RBAC authorizer, escalation prevention
 * on Roles/ClusterRoles and their bindings, and the answers of the access reviews.
 *
 * DESIGN: pure functions over the double's store (the map "resource.group" -> {"ns/name" ->
 * object}, borrowed, read only). A request is allowed when a rule of a role bound to its user
 * allows it: ClusterRoleBindings everywhere, RoleBindings in their namespace (to a Role of that
 * namespace or to a ClusterRole). ClusterRoles with an aggregationRule hold the union of their
 * own rules and those of the ClusterRoles its selectors match (what the aggregation controller
 * writes, computed at each check). Besides the stored objects, a fixed bootstrap policy holds
 * what every real cluster has: `cluster-admin`, the group `system:masters`, and for
 * `system:authenticated` the self reviews and discovery paths (system:basic-user and
 * system:discovery). Requests without impersonation never come here: they are the
 * reconciler's, authenticated by the double's token, and keep full rights. */
#ifndef GPUAAS_KUBESIM_RBAC_H
#define GPUAAS_KUBESIM_RBAC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define KSIM_RBAC_MAX_GROUPS 16
#define KSIM_RBAC_NAME 254

/* The user a request acts as. A value type; groups are copies. */
struct ksim_rbac_user {
    char name[KSIM_RBAC_NAME];
    int ngroups;
    char groups[KSIM_RBAC_MAX_GROUPS][KSIM_RBAC_NAME];
};

/* What a request asks for, as the API server's request-info resolver derives it. resource
 * NULL or "" means a non-resource request for path. Strings are borrowed. */
struct ksim_rbac_attrs {
    const char *verb;
    const char *group; /* "" for the core group */
    const char *resource;
    const char *subresource; /* NULL or "" when none */
    const char *ns;          /* NULL or "" for cluster scope */
    const char *name;        /* NULL or "" for collections and create */
    const char *path;        /* non-resource requests */
};

/* Builds the user of an impersonated request: name from Impersonate-User, the groups from the
 * Impersonate-Group headers (ngroups of them), plus what the API server adds:
 * system:authenticated, and for "system:serviceaccount:NS:NAME" the groups
 * system:serviceaccounts and system:serviceaccounts:NS. Returns 0, or -ERR_INVALID with msg
 * (a sentence) when the name is empty or too long or there are too many groups. */
int ksim_rbac_user_init(struct ksim_rbac_user *ret, const char *name, const char *const *groups,
                        int ngroups, char *msg, size_t msglen);

/* True when the rule (a PolicyRule object) allows the request. */
bool ksim_rbac_rule_allows(json_t *rule, const struct ksim_rbac_attrs *a);

/* Decides the request. Returns true when allowed. On denial writes to reason the RBAC
 * authorizer's reason ("" or "RBAC: clusterrole.rbac.authorization.k8s.io \"x\" not found"). */
bool ksim_rbac_authorize(json_t *store, const struct ksim_rbac_user *u,
                         const struct ksim_rbac_attrs *a, char *reason, size_t n);

/* The Status message of a refusal, as the API server writes it:
 * `pods "p" is forbidden: User "alice" cannot get resource "pods" in API group "" in the
 * namespace "ns"` (": REASON" appended when reason is not empty). */
void ksim_rbac_forbidden_message(const struct ksim_rbac_user *u, const struct ksim_rbac_attrs *a,
                                 const char *reason, char *out, size_t n);

/* The rules that apply to u in namespace ns (ns "" = cluster-wide only): a new array of
 * PolicyRule objects (caller owns). */
json_t *ksim_rbac_rules_for(json_t *store, const struct ksim_rbac_user *u, const char *ns);

/* Escalation prevention on a write of an RBAC object by u. resource is "roles",
 * "clusterroles", "rolebindings" or "clusterrolebindings" (anything else returns 0); obj the
 * object as it would be stored; ns its namespace ("" for cluster-scoped kinds). A role may only
 * hold rules u holds (in ns, or cluster-wide for a ClusterRole) unless u may `escalate` it; a
 * binding needs the referenced role's rules or `bind` on it. Returns 0 when allowed, else
 * -ERR_FORBIDDEN with the API server's message in msg:
 * `user "alice" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not
 * currently held:\n{APIGroups:["*"], Resources:["*"], Verbs:["*"]}`. */
int ksim_rbac_check_escalation(json_t *store, const struct ksim_rbac_user *u, const char *resource,
                               const char *ns, json_t *obj, char *msg, size_t msglen);

/* Answers an access review: kind is "SelfSubjectAccessReview", "SubjectAccessReview" or
 * "LocalSubjectAccessReview" (ns: the request's namespace); review the posted object. For a
 * self review u is the requester (NULL = the double's superuser, allowed everything). Returns
 * the review with status {allowed, denied, reason} (a new reference), or NULL with msg when
 * the spec names neither resourceAttributes nor nonResourceAttributes, or a SubjectAccessReview
 * names no user or group. */
json_t *ksim_rbac_review(json_t *store, const struct ksim_rbac_user *u, const char *kind,
                         const char *ns, json_t *review, char *msg, size_t msglen);

/* SelfSubjectRulesReview (`kubectl auth can-i --list`): the review with status.resourceRules
 * and nonResourceRules for u in spec.namespace. NULL with msg when spec.namespace is missing. */
json_t *ksim_rbac_rules_review(json_t *store, const struct ksim_rbac_user *u, json_t *review,
                               char *msg, size_t msglen);

#endif
