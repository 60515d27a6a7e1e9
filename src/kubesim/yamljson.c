/* YAML to JSON via libyaml's event parser. Anchors and aliases are refused. */
#include "kubesim/yamljson.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define MAX_DEPTH 64

static json_t *scalar_value(const yaml_event_t *ev)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return json_stringn(s, n);
    if (ev->data.scalar.tag && !strcmp((const char *)ev->data.scalar.tag, YAML_STR_TAG))
        return json_stringn(s, n);
    if (n == 0 || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL"))
        return json_null();
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
        return json_true();
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
        return json_false();
    char *end;
    errno = 0;
    const char *q = s;
    if (*q == '-' || *q == '+')
        q++;
    if (*q >= '0' && *q <= '9') {
        long long v = strtoll(s, &end, 10);
        if (!*end && !errno)
            return json_integer(v);
        double d = strtod(s, &end);
        if (!*end && !errno && !strpbrk(s, "xX"))
            return json_real(d);
    }
    return json_stringn(s, n);
}

static int parse_node(yaml_parser_t *p, yaml_event_t *first, int depth, json_t **ret,
                      struct error *err)
{
    yaml_event_t ev;
    int rc = 0;
    if (depth > MAX_DEPTH)
        return error_set(err, ERR_INVALID, "", "YAML nesting too deep");
    switch (first->type) {
    case YAML_SCALAR_EVENT:
        *ret = scalar_value(first);
        return *ret ? 0 : -ERR_NOMEM;
    case YAML_ALIAS_EVENT:
        return error_set(err, ERR_INVALID, "", "YAML aliases are not supported");
    case YAML_SEQUENCE_START_EVENT: {
        json_t *arr = json_array();
        for (;;) {
            if (!yaml_parser_parse(p, &ev)) {
                rc = error_set(err, ERR_INVALID, "", "yaml: line %zu: %s", p->problem_mark.line + 1,
                               p->problem ? p->problem : "error");
                break;
            }
            if (ev.type == YAML_SEQUENCE_END_EVENT) {
                yaml_event_delete(&ev);
                break;
            }
            json_t *item = NULL;
            rc = parse_node(p, &ev, depth + 1, &item, err);
            yaml_event_delete(&ev);
            if (rc)
                break;
            json_array_append_new(arr, item);
        }
        if (rc) {
            json_decref(arr);
            return rc;
        }
        *ret = arr;
        return 0;
    }
    case YAML_MAPPING_START_EVENT: {
        json_t *obj = json_object();
        for (;;) {
            if (!yaml_parser_parse(p, &ev)) {
                rc = error_set(err, ERR_INVALID, "", "yaml: line %zu: %s", p->problem_mark.line + 1,
                               p->problem ? p->problem : "error");
                break;
            }
            if (ev.type == YAML_MAPPING_END_EVENT) {
                yaml_event_delete(&ev);
                break;
            }
            if (ev.type != YAML_SCALAR_EVENT) {
                yaml_event_delete(&ev);
                rc = error_set(err, ERR_INVALID, "", "YAML mapping keys must be scalars");
                break;
            }
            char *key = strndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
            yaml_event_delete(&ev);
            if (!yaml_parser_parse(p, &ev)) {
                free(key);
                rc = error_set(err, ERR_INVALID, "", "yaml: line %zu: %s", p->problem_mark.line + 1,
                               p->problem ? p->problem : "error");
                break;
            }
            json_t *val = NULL;
            rc = parse_node(p, &ev, depth + 1, &val, err);
            yaml_event_delete(&ev);
            if (rc) {
                free(key);
                break;
            }
            json_object_set_new(obj, key, val);
            free(key);
        }
        if (rc) {
            json_decref(obj);
            return rc;
        }
        *ret = obj;
        return 0;
    }
    default:
        return error_set(err, ERR_INVALID, "", "unexpected YAML event");
    }
}

int ksim_yaml_to_json(const char *buf, size_t len, json_t **ret, struct error *err)
{
    yaml_parser_t p;
    yaml_event_t ev;
    json_t *out = NULL;
    int rc = 0;
    if (!yaml_parser_initialize(&p))
        return -ERR_NOMEM;
    yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
    for (;;) {
        if (!yaml_parser_parse(&p, &ev)) {
            rc = error_set(err, ERR_INVALID, "", "yaml: line %zu: %s", p.problem_mark.line + 1,
                           p.problem ? p.problem : "error");
            goto out;
        }
        yaml_event_type_t t = ev.type;
        if (t == YAML_SCALAR_EVENT || t == YAML_SEQUENCE_START_EVENT ||
            t == YAML_MAPPING_START_EVENT || t == YAML_ALIAS_EVENT) {
            rc = parse_node(&p, &ev, 0, &out, err);
            yaml_event_delete(&ev);
            goto out;
        }
        yaml_event_delete(&ev);
        if (t == YAML_STREAM_END_EVENT)
            break;
    }
    rc = error_set(err, ERR_INVALID, "", "empty YAML document");
out:
    yaml_parser_delete(&p);
    if (!rc)
        *ret = out;
    return rc;
}
