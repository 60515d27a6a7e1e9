/* Label and field selectors as the API server accepts them in `labelSelector=` and
 * `fieldSelector=`: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a)`, `k`, `!k`. */
#ifndef GPUAAS_KUBESIM_SELECTOR_H
#define GPUAAS_KUBESIM_SELECTOR_H

#include <jansson.h>

#include "common/error.h"

#define KSIM_SEL_MAX_REQ 32
#define KSIM_SEL_MAX_VALUES 64 /* values in one set (the reconciler lists 48 sessions by id) */

enum ksim_sel_op {
    KSIM_SEL_EQ,
    KSIM_SEL_NE,
    KSIM_SEL_IN,
    KSIM_SEL_NOTIN,
    KSIM_SEL_EXISTS,
    KSIM_SEL_NOT_EXISTS
};

struct ksim_sel_req {
    enum ksim_sel_op op;
    char key[256];
    int nvalues;
    char values[KSIM_SEL_MAX_VALUES][64];
};

/* A parsed selector; plain value, no heap. An empty selector matches everything. */
struct ksim_selector {
    int nreq;
    struct ksim_sel_req req[KSIM_SEL_MAX_REQ];
};

/* Parses text (NULL or "" = match all). 0 or -ERR_INVALID with err naming the problem. */
int ksim_selector_parse(const char *text, struct ksim_selector *ret, struct error *err);
/* True when the labels object (NULL = no labels) satisfies every requirement. */
int ksim_selector_match(const struct ksim_selector *sel, json_t *labels);
/* Field selector match against an object: keys are dotted paths (metadata.name, status.phase). */
int ksim_selector_match_fields(const struct ksim_selector *sel, json_t *obj);
/* A LabelSelector object ({matchLabels, matchExpressions with In, NotIn, Exists,
 * DoesNotExist}) against labels (NULL = none). An empty selector matches everything. Returns 1
 * on a match, 0 on none, -ERR_INVALID when the selector is malformed (an unknown operator). */
int ksim_label_selector_object_match(json_t *selector, json_t *labels);

#endif
