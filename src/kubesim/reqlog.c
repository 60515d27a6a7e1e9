/* RBAC attributes of a request for the double's request log (see reqlog.h). */
#include "kubesim/reqlog.h"

#include <stdio.h>
#include <string.h>

#define MAX_PARTS 8

static const char *verb_of(const char *method, bool named, bool watch)
{
    if (!strcmp(method, "GET") || !strcmp(method, "HEAD"))
        return watch ? "watch" : named ? "get" : "list";
    if (!strcmp(method, "POST"))
        return "create";
    if (!strcmp(method, "PUT"))
        return "update";
    if (!strcmp(method, "PATCH"))
        return "patch";
    if (!strcmp(method, "DELETE"))
        return named ? "delete" : "deletecollection";
    return "unknown";
}

bool ksim_rbac_attributes(const char *method, const char *path, bool watch_query, char *out,
                          size_t n)
{
    char buf[1024];
    char *parts[MAX_PARTS];
    size_t np = 0;
    if (!strncmp(path, "/_sim/", 6) || !strcmp(path, "/_sim"))
        return false;
    snprintf(buf, sizeof(buf), "%s", path);
    char *save = NULL;
    for (char *t = strtok_r(buf, "/", &save); t && np < MAX_PARTS; t = strtok_r(NULL, "/", &save))
        parts[np++] = t;
    const char *group = NULL;
    size_t i = 0;
    if (np >= 2 && !strcmp(parts[0], "api")) { /* /api/v1/... */
        group = "core";
        i = 2;
    } else if (np >= 3 && !strcmp(parts[0], "apis")) { /* /apis/GROUP/VERSION/... */
        group = parts[1];
        i = 3;
    }
    if (!group || i >= np) {
        snprintf(out, n, "%s nonresource%s", verb_of(method, true, false), path);
        return true;
    }
    bool watch = watch_query;
    if (!strcmp(parts[i], "watch")) { /* the deprecated /watch/ form */
        watch = true;
        i++;
    }
    /* namespaces/NS/RESOURCE...; but namespaces/NAME/status and /finalize are subresources
     * of the namespace itself */
    if (np - i >= 3 && !strcmp(parts[i], "namespaces") && strcmp(parts[i + 2], "status") &&
        strcmp(parts[i + 2], "finalize"))
        i += 2;
    if (i >= np) {
        snprintf(out, n, "%s nonresource%s", verb_of(method, true, false), path);
        return true;
    }
    const char *resource = parts[i];
    bool named = np - i >= 2;
    const char *sub = np - i >= 3 ? parts[i + 2] : NULL;
    snprintf(out, n, "%s %s/%s%s%s", verb_of(method, named, watch), group, resource, sub ? "/" : "",
             sub ? sub : "");
    return true;
}
