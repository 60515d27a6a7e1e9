/* YAML -> jansson conversion over the libyaml document API. */
#include "common/yaml_json.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define MAX_DEPTH 64

/* YAML 1.2 core-schema typing of plain scalars; quoted ones stay strings
 * (libyaml's loader tags every untagged scalar !!str, so tags cannot be told apart here).
 * A number must start with a digit (after an optional sign): `.inf`, `0x1F`, `nan` stay
 * strings rather than becoming values a reader did not mean. */
static json_t *scalar_value(const yaml_node_t *n)
{
    const char *s = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return json_stringn(s, len);
    if (len == 0 || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
        !strcmp(s, "NULL"))
        return json_null();
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
        return json_true();
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
        return json_false();
    const char *q = s + (*s == '-' || *s == '+');
    if (*q >= '0' && *q <= '9' && strlen(s) == len) {
        char *end;
        errno = 0;
        long long i = strtoll(s, &end, 10);
        if (!*end && !errno)
            return json_integer(i);
        errno = 0;
        double d = strtod(s, &end);
        if (!*end && !errno && isfinite(d) && !strpbrk(s, "xX"))
            return json_real(d);
    }
    return json_stringn(s, len);
}

static json_t *convert(yaml_document_t *doc, yaml_node_t *n, int depth, const char *name,
                       struct error *err)
{
    if (depth > MAX_DEPTH) {
        error_set(err, ERR_INVALID, "", "%s:%zu: nested deeper than %d levels", name,
                  n->start_mark.line + 1, MAX_DEPTH);
        return NULL;
    }
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return scalar_value(n);
    case YAML_SEQUENCE_NODE: {
        json_t *a = json_array();
        for (yaml_node_item_t *it = n->data.sequence.items.start;
             a && it < n->data.sequence.items.top; it++) {
            json_t *v = convert(doc, yaml_document_get_node(doc, *it), depth + 1, name, err);
            if (!v || json_array_append_new(a, v)) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    case YAML_MAPPING_NODE: {
        json_t *o = json_object();
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; o && p < n->data.mapping.pairs.top;
             p++) {
            yaml_node_t *k = yaml_document_get_node(doc, p->key);
            if (k->type != YAML_SCALAR_NODE) {
                error_set(err, ERR_INVALID, "", "%s:%zu: mapping keys must be plain strings", name,
                          k->start_mark.line + 1);
                json_decref(o);
                return NULL;
            }
            const char *key = (const char *)k->data.scalar.value;
            if (json_object_get(o, key)) {
                error_set(err, ERR_INVALID, key, "%s:%zu: %s: duplicate key", name,
                          k->start_mark.line + 1, key);
                json_decref(o);
                return NULL;
            }
            json_t *v = convert(doc, yaml_document_get_node(doc, p->value), depth + 1, name, err);
            if (!v || json_object_set_new(o, key, v)) {
                json_decref(o);
                return NULL;
            }
        }
        return o;
    }
    default:
        error_set(err, ERR_INVALID, "", "%s: empty document", name);
        return NULL;
    }
}

/* Refuses aliases before loading: the document API would expand them. */
static int has_alias(const char *text, size_t len)
{
    yaml_parser_t p;
    yaml_event_t ev;
    int found = 0, done = 0;
    if (!yaml_parser_initialize(&p))
        return -1;
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    while (!done && !found) {
        if (!yaml_parser_parse(&p, &ev))
            break; /* syntax errors are reported by the loader */
        found = ev.type == YAML_ALIAS_EVENT;
        done = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    return found;
}

int yaml_to_json(const char *text, size_t len, const char *name, json_t **ret, struct error *err)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    if (has_alias(text, len) == 1)
        return error_set(err, ERR_INVALID, "", "%s: YAML aliases are not accepted", name);
    if (!yaml_parser_initialize(&parser))
        return error_set(err, ERR_NOMEM, "", "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        int r =
            error_set(err, ERR_INVALID, "", "%s:%zu: syntax error: %s", name,
                      parser.problem_mark.line + 1, parser.problem ? parser.problem : "unknown");
        yaml_parser_delete(&parser);
        return r;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    json_t *v = root ? convert(&doc, root, 0, name, err) : NULL;
    if (!root)
        error_set(err, ERR_INVALID, "", "%s: empty document", name);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (!v)
        return -ERR_INVALID;
    *ret = v;
    return 0;
}
