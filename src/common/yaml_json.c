/* YAML -> jansson conversion over the libyaml document API. */
#include "common/yaml_json.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
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

/* ---- duplicate keys ---- */

struct uk {
    yaml_document_t *doc;
    const char *name;
    struct error *err;
    unsigned char *seen; /* per node: already checked (aliases share nodes) */
};

struct uk_key {
    const char *s;
    size_t len;
    size_t index; /* position in the mapping */
    size_t line;
};

static bool uk_same(const struct uk_key *x, const struct uk_key *y)
{
    return x->len == y->len && !memcmp(x->s, y->s, x->len);
}

/* By key, then by position: each run of equal keys starts with the first occurrence. */
static int uk_cmp(const void *a, const void *b)
{
    const struct uk_key *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    if (c)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Appends ".seg" (or "seg" at the top, or "[i]" for seg NULL) to path; returns the old
 * length to restore. Truncates silently: the path only names the place in a message. */
static size_t uk_push(char *path, size_t cap, const char *seg, size_t i)
{
    size_t old = strlen(path);
    if (seg)
        snprintf(path + old, cap - old, "%s%s", old ? "." : "", seg);
    else
        snprintf(path + old, cap - old, "[%zu]", i);
    return old;
}

/* Refuses a key of mapping m that appears twice; of several, the one whose second
 * occurrence comes first in the file. Sorting keeps a large mapping O(n log n). */
static int uk_mapping(struct uk *u, yaml_node_t *m, const char *path)
{
    size_t n = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start), k = 0;
    if (n < 2)
        return 0;
    struct uk_key *keys = calloc(n, sizeof(*keys));
    if (!keys)
        return error_set(u->err, ERR_NOMEM, "", "out of memory");
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *kn = yaml_document_get_node(u->doc, m->data.mapping.pairs.start[i].key);
        if (!kn || kn->type != YAML_SCALAR_NODE)
            continue; /* the loaders refuse non-scalar keys with their own message */
        keys[k++] = (struct uk_key){(const char *)kn->data.scalar.value, kn->data.scalar.length, i,
                                    kn->start_mark.line + 1};
    }
    qsort(keys, k, sizeof(*keys), uk_cmp);
    const struct uk_key *first = NULL, *second = NULL;
    for (size_t i = 1; i < k; i++)
        if (uk_same(&keys[i], &keys[i - 1]) && (i == 1 || !uk_same(&keys[i - 1], &keys[i - 2])) &&
            (!second || keys[i].index < second->index)) {
            first = &keys[i - 1];
            second = &keys[i];
        }
    int r = 0;
    if (second) {
        char p[256];
        snprintf(p, sizeof(p), "%s", path);
        uk_push(p, sizeof(p), second->s, 0);
        r = error_set(u->err, ERR_INVALID, p,
                      "%s:%zu: %s: duplicate key \"%s\" (first at line %zu)", u->name, second->line,
                      p, second->s, first->line);
    }
    free(keys);
    return r;
}

static int uk_node(struct uk *u, yaml_node_t *n, char *path, size_t cap, int depth)
{
    size_t id = (size_t)(n - u->doc->nodes.start);
    int r = 0;
    if (u->seen[id])
        return 0;
    u->seen[id] = 1;
    if (depth > MAX_DEPTH)
        return error_set(u->err, ERR_INVALID, "", "%s:%zu: nested deeper than %d levels", u->name,
                         n->start_mark.line + 1, MAX_DEPTH);
    if (n->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = n->data.sequence.items.start;
             r == 0 && it < n->data.sequence.items.top; it++) {
            yaml_node_t *v = yaml_document_get_node(u->doc, *it);
            size_t old = uk_push(path, cap, NULL, (size_t)(it - n->data.sequence.items.start));
            r = v ? uk_node(u, v, path, cap, depth + 1) : 0;
            path[old] = 0;
        }
    } else if (n->type == YAML_MAPPING_NODE) {
        if ((r = uk_mapping(u, n, path)) < 0)
            return r;
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
             r == 0 && p < n->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(u->doc, p->key);
            yaml_node_t *v = yaml_document_get_node(u->doc, p->value);
            if (!v || !k || k->type != YAML_SCALAR_NODE)
                continue;
            size_t old = uk_push(path, cap, (const char *)k->data.scalar.value, 0);
            r = uk_node(u, v, path, cap, depth + 1);
            path[old] = 0;
        }
    }
    return r;
}

int yaml_unique_keys(struct yaml_document_s *doc, const char *name, struct error *err)
{
    yaml_node_t *root = yaml_document_get_root_node(doc);
    char path[256] = "";
    if (!root)
        return 0;
    struct uk u = {.doc = doc, .name = name, .err = err};
    u.seen = calloc((size_t)(doc->nodes.top - doc->nodes.start), 1);
    if (!u.seen)
        return error_set(err, ERR_NOMEM, "", "out of memory");
    int r = uk_node(&u, root, path, sizeof(path), 0);
    free(u.seen);
    return r;
}
