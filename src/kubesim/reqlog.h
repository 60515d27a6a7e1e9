/* The request log of the API server double (--request-log FILE): one line per request it
 * serves, "VERB GROUP/RESOURCE[/SUBRESOURCE] CLIENT", with VERB the RBAC verb the request
 * needs, GROUP "core" for the core API and CLIENT the first word of the User-Agent ("-" when
 * none). tests/it/kube_calls.sh compares the reconciler's requests with the list of calls the
 * role grants (src/kube/kube_calls.c). */
#ifndef GPUAAS_KUBESIM_REQLOG_H
#define GPUAAS_KUBESIM_REQLOG_H

#include <stdbool.h>
#include <stddef.h>

/* The RBAC attributes of a request, as the API server's request-info resolver derives them:
 * GET of a named object = get, of a collection = list, either with watch=true (or under
 * /watch/) = watch; POST = create; PUT = update; PATCH = patch; DELETE of a named object =
 * delete, of a collection = deletecollection. Writes "VERB GROUP/RESOURCE[/SUB]" to out;
 * non-resource paths (discovery, /version) give "VERB nonresource/PATH". Returns false for
 * paths that are not part of the Kubernetes API (the double's /_sim/ controls). */
bool ksim_rbac_attributes(const char *method, const char *path, bool watch_query, char *out,
                          size_t n);

#endif
