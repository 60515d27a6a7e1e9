/* Label selector parser and matcher (the subset of k8s.io/apimachinery/pkg/labels grammar that
 * clients send over the wire). */
#include "kubesim/selector.h"

#include <ctype.h>
#include <string.h>

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static int is_key_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.' || c == '/';
}

static int read_token(const char **pp, char *out, size_t cap, struct error *err)
{
    const char *p = *pp;
    size_t n = 0;
    while (*p && is_key_char(*p)) {
        if (n + 1 >= cap)
            return error_set(err, ERR_INVALID, "labelSelector", "selector token too long");
        out[n++] = *p++;
    }
    out[n] = '\0';
    *pp = p;
    return 0;
}

static int parse_values(const char **pp, struct ksim_sel_req *r, struct error *err)
{
    const char *p = skip_ws(*pp);
    if (*p != '(')
        return error_set(err, ERR_INVALID, "labelSelector", "found '%c', expected: '('",
                         *p ? *p : ' ');
    p++;
    for (;;) {
        p = skip_ws(p);
        if (r->nvalues >= KSIM_SEL_MAX_VALUES)
            return error_set(err, ERR_INVALID, "labelSelector", "too many values in set");
        int rc = read_token(&p, r->values[r->nvalues], sizeof(r->values[0]), err);
        if (rc)
            return rc;
        r->nvalues++;
        p = skip_ws(p);
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p == ')') {
            p++;
            break;
        }
        return error_set(err, ERR_INVALID, "labelSelector", "found '%c', expected: ',' or ')'",
                         *p ? *p : ' ');
    }
    *pp = p;
    return 0;
}

int ksim_selector_parse(const char *text, struct ksim_selector *ret, struct error *err)
{
    struct ksim_selector sel = {0};
    const char *p = text ? text : "";
    int rc;
    p = skip_ws(p);
    while (*p) {
        if (sel.nreq >= KSIM_SEL_MAX_REQ)
            return error_set(err, ERR_INVALID, "labelSelector", "too many requirements");
        struct ksim_sel_req *r = &sel.req[sel.nreq];
        memset(r, 0, sizeof(*r));
        int negate = 0;
        if (*p == '!') {
            negate = 1;
            p = skip_ws(p + 1);
        }
        if ((rc = read_token(&p, r->key, sizeof(r->key), err)))
            return rc;
        if (!r->key[0])
            return error_set(err, ERR_INVALID, "labelSelector",
                             "unable to parse requirement: found '%c', expected: identifier",
                             *p ? *p : ' ');
        p = skip_ws(p);
        if (negate) {
            r->op = KSIM_SEL_NOT_EXISTS;
        } else if (*p == '=' || (*p == '!' && p[1] == '=')) {
            if (*p == '!') {
                r->op = KSIM_SEL_NE;
                p += 2;
            } else {
                r->op = KSIM_SEL_EQ;
                p += (p[1] == '=') ? 2 : 1;
            }
            p = skip_ws(p);
            if ((rc = read_token(&p, r->values[0], sizeof(r->values[0]), err)))
                return rc;
            r->nvalues = 1;
        } else if (!strncmp(p, "in", 2) && (p[2] == ' ' || p[2] == '(')) {
            r->op = KSIM_SEL_IN;
            p += 2;
            if ((rc = parse_values(&p, r, err)))
                return rc;
        } else if (!strncmp(p, "notin", 5) && (p[5] == ' ' || p[5] == '(')) {
            r->op = KSIM_SEL_NOTIN;
            p += 5;
            if ((rc = parse_values(&p, r, err)))
                return rc;
        } else {
            r->op = KSIM_SEL_EXISTS;
        }
        sel.nreq++;
        p = skip_ws(p);
        if (*p == ',') {
            p = skip_ws(p + 1);
            if (!*p)
                return error_set(err, ERR_INVALID, "labelSelector",
                                 "found '', expected: identifier after ','");
            continue;
        }
        if (*p)
            return error_set(err, ERR_INVALID, "labelSelector",
                             "unable to parse requirement: found '%c', expected: ',' or operator",
                             *p);
    }
    *ret = sel;
    return 0;
}

static int req_match(const struct ksim_sel_req *r, const char *val)
{
    int in = 0;
    for (int i = 0; i < r->nvalues; i++)
        if (val && !strcmp(val, r->values[i]))
            in = 1;
    switch (r->op) {
    case KSIM_SEL_EQ:
    case KSIM_SEL_IN:
        return val && in;
    case KSIM_SEL_NE:
    case KSIM_SEL_NOTIN:
        return !in;
    case KSIM_SEL_EXISTS:
        return val != NULL;
    case KSIM_SEL_NOT_EXISTS:
        return val == NULL;
    }
    return 0;
}

int ksim_selector_match(const struct ksim_selector *sel, json_t *labels)
{
    for (int i = 0; i < sel->nreq; i++) {
        json_t *v = labels ? json_object_get(labels, sel->req[i].key) : NULL;
        if (!req_match(&sel->req[i], json_is_string(v) ? json_string_value(v) : NULL))
            return 0;
    }
    return 1;
}

static json_t *get_path(json_t *obj, const char *path)
{
    char part[256];
    while (obj && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof(part))
            return NULL;
        memcpy(part, path, n);
        part[n] = '\0';
        obj = json_object_get(obj, part);
        path += n + (dot ? 1 : 0);
    }
    return obj;
}

int ksim_selector_match_fields(const struct ksim_selector *sel, json_t *obj)
{
    for (int i = 0; i < sel->nreq; i++) {
        json_t *v = get_path(obj, sel->req[i].key);
        const char *s = json_is_string(v) ? json_string_value(v) : "";
        if (!req_match(&sel->req[i], s))
            return 0;
    }
    return 1;
}

int ksim_label_selector_object_match(json_t *selector, json_t *labels)
{
    const char *key;
    json_t *v;
    if (selector && !json_is_object(selector))
        return -ERR_INVALID;
    json_object_foreach(json_object_get(selector, "matchLabels"), key, v)
    {
        const char *have = json_string_value(json_object_get(labels, key));
        if (!have || !json_string_value(v) || strcmp(have, json_string_value(v)))
            return 0;
    }
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(selector, "matchExpressions"), i, e)
    {
        const char *k = json_string_value(json_object_get(e, "key"));
        const char *op = json_string_value(json_object_get(e, "operator"));
        if (!k || !op)
            return -ERR_INVALID;
        const char *have = json_string_value(json_object_get(labels, k));
        int in = 0;
        size_t j;
        json_t *val;
        json_array_foreach(json_object_get(e, "values"), j, val)
        {
            if (have && json_string_value(val) && !strcmp(have, json_string_value(val)))
                in = 1;
        }
        if (!strcmp(op, "In")) {
            if (!in)
                return 0;
        } else if (!strcmp(op, "NotIn")) {
            if (in)
                return 0;
        } else if (!strcmp(op, "Exists")) {
            if (!have)
                return 0;
        } else if (!strcmp(op, "DoesNotExist")) {
            if (have)
                return 0;
        } else {
            return -ERR_INVALID;
        }
    }
    return 1;
}
