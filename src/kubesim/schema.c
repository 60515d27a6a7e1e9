/* OpenAPI v2 structural validator (types, unknown fields, int-or-string, quantities). */
#include "kubesim/schema.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kubesim/quantity.h"

#define MAX_DEPTH 48
#define MAX_UNKNOWN 8

struct ksim_schema {
    json_t *defs;
};

struct vctx {
    const struct ksim_schema *s;
    char unknown[MAX_UNKNOWN][256];
    int nunknown;
    char type_err[512];
    char first_path[96];
};

struct ksim_schema *ksim_schema_from_definitions(json_t *definitions)
{
    struct ksim_schema *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->defs = json_incref(definitions);
    return s;
}

void ksim_schema_free(struct ksim_schema *s)
{
    if (!s)
        return;
    json_decref(s->defs);
    free(s);
}

int ksim_schema_load(const char *dir, struct ksim_schema **ret, struct error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return error_set(err, ERR_IO, "openapi", "cannot open OpenAPI directory %s", dir);
    json_t *defs = json_object();
    struct dirent *e;
    int rc = 0, files = 0;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".json"))
            continue;
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        json_error_t jerr;
        json_t *doc = json_load_file(path, 0, &jerr);
        if (!doc) {
            rc = error_set(err, ERR_INVALID, "openapi", "%s:%d: %s", path, jerr.line, jerr.text);
            break;
        }
        json_t *dd = json_object_get(doc, "definitions");
        if (json_is_object(dd)) {
            json_object_update(defs, dd);
            files++;
        }
        json_decref(doc);
    }
    closedir(d);
    if (!rc && !files)
        rc = error_set(err, ERR_INVALID, "openapi", "no OpenAPI definitions found in %s", dir);
    if (!rc) {
        *ret = ksim_schema_from_definitions(defs);
        if (!*ret)
            rc = -ERR_NOMEM;
    }
    json_decref(defs);
    return rc;
}

int ksim_schema_has(const struct ksim_schema *s, const char *defname)
{
    return json_object_get(s->defs, defname) != NULL;
}

/* "io.k8s.api.core.v1.PodSpec" -> "v1.PodSpec" */
static const char *go_type_name(const char *defname, char *buf, size_t len)
{
    const char *last = strrchr(defname, '.');
    if (!last)
        return defname;
    const char *prev = last;
    while (prev > defname && prev[-1] != '.')
        prev--;
    if (prev > defname) {
        const char *p2 = prev - 1;
        while (p2 > defname && p2[-1] != '.')
            p2--;
        snprintf(buf, len, "%.*s%s", (int)(last - p2), p2, last);
        return buf;
    }
    return last + 1;
}

static json_t *resolve(const struct ksim_schema *s, json_t *node, const char **defname)
{
    for (int i = 0; i < 8 && node; i++) {
        json_t *ref = json_object_get(node, "$ref");
        if (!ref) {
            json_t *all = json_object_get(node, "allOf");
            if (json_is_array(all) && json_array_size(all) == 1) {
                node = json_array_get(all, 0);
                continue;
            }
            return node;
        }
        const char *r = json_string_value(ref);
        if (!r || strncmp(r, "#/definitions/", 14))
            return NULL;
        *defname = r + 14;
        node = json_object_get(s->defs, r + 14);
    }
    return node;
}

static const char *json_kind(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "bool";
    default:
        return "null";
    }
}

static void go_type(const struct ksim_schema *s, json_t *node, const char *defname, char *buf,
                    size_t len)
{
    char tmp[128];
    const char *type = json_string_value(json_object_get(node, "type"));
    const char *fmt = json_string_value(json_object_get(node, "format"));
    if (defname && json_object_get(node, "properties")) {
        snprintf(buf, len, "%s", go_type_name(defname, tmp, sizeof(tmp)));
    } else if (!type) {
        snprintf(buf, len, "interface {}");
    } else if (!strcmp(type, "integer")) {
        snprintf(buf, len, "%s", fmt && !strcmp(fmt, "int32") ? "int32" : "int64");
    } else if (!strcmp(type, "number")) {
        snprintf(buf, len, "float64");
    } else if (!strcmp(type, "boolean")) {
        snprintf(buf, len, "bool");
    } else if (!strcmp(type, "array")) {
        const char *idef = NULL;
        json_t *items = resolve(s, json_object_get(node, "items"), &idef);
        char inner[128] = "interface {}";
        if (items)
            go_type(s, items, idef, inner, sizeof(inner));
        snprintf(buf, len, "[]%s", inner);
    } else if (!strcmp(type, "object")) {
        const char *idef = NULL;
        json_t *ap = resolve(s, json_object_get(node, "additionalProperties"), &idef);
        char inner[128] = "interface {}";
        if (ap)
            go_type(s, ap, idef, inner, sizeof(inner));
        snprintf(buf, len, "map[string]%s", inner);
    } else {
        snprintf(buf, len, "%s", type);
    }
}

/* Path bookkeeping: `path` is the strict-decoding path with indices, `gopath` without. */
static void type_error(struct vctx *c, json_t *node, const char *defname, const char *structname,
                       const char *gopath, const char *path, json_t *v)
{
    if (c->type_err[0])
        return;
    char gt[160];
    go_type(c->s, node, defname, gt, sizeof(gt));
    if (structname && *gopath)
        snprintf(c->type_err, sizeof(c->type_err),
                 "json: cannot unmarshal %s into Go struct field %s.%s of type %s", json_kind(v),
                 structname, gopath, gt);
    else
        snprintf(c->type_err, sizeof(c->type_err),
                 "json: cannot unmarshal %s into Go value of type %s", json_kind(v), gt);
    if (!c->first_path[0])
        snprintf(c->first_path, sizeof(c->first_path), "%s", path);
}

static void walk(struct vctx *c, json_t *node, const char *defname, const char *structname,
                 const char *path, const char *gopath, json_t *v, int depth);

static void walk_object(struct vctx *c, json_t *node, const char *defname, const char *structname,
                        const char *path, const char *gopath, json_t *v, int depth)
{
    json_t *props = json_object_get(node, "properties");
    json_t *ap = json_object_get(node, "additionalProperties");
    const char *key;
    json_t *child;
    char tmp[128];
    const char *sname = structname;
    if (props && defname)
        sname = go_type_name(defname, tmp, sizeof(tmp));
    char sname_copy[128];
    snprintf(sname_copy, sizeof(sname_copy), "%s", sname ? sname : "");
    json_object_foreach(v, key, child)
    {
        char p2[512], g2[512];
        snprintf(p2, sizeof(p2), "%s%s%s", path, *path ? "." : "", key);
        if (props) {
            json_t *pn = json_object_get(props, key);
            if (!pn) {
                if (c->nunknown < MAX_UNKNOWN)
                    snprintf(c->unknown[c->nunknown], sizeof(c->unknown[0]), "%s", p2);
                c->nunknown++;
                if (!c->first_path[0])
                    snprintf(c->first_path, sizeof(c->first_path), "%s", p2);
                continue;
            }
            /* Go struct field paths restart at the nearest struct. */
            snprintf(g2, sizeof(g2), "%s%s%s", props && defname ? "" : gopath,
                     (props && defname) || !*gopath ? "" : ".", key);
            if (!(props && defname))
                snprintf(g2, sizeof(g2), "%s%s%s", gopath, *gopath ? "." : "", key);
            else
                snprintf(g2, sizeof(g2), "%s%s%s", gopath, *gopath ? "." : "", key);
            walk(c, pn, NULL, sname_copy, p2, g2, child, depth + 1);
        } else if (ap && json_is_object(ap)) {
            snprintf(g2, sizeof(g2), "%s", gopath);
            walk(c, ap, NULL, sname_copy, p2, g2, child, depth + 1);
        }
    }
}

static void walk(struct vctx *c, json_t *node, const char *defname, const char *structname,
                 const char *path, const char *gopath, json_t *v, int depth)
{
    if (depth > MAX_DEPTH || json_is_null(v))
        return;
    node = resolve(c->s, node, &defname);
    if (!node)
        return;
    const char *type = json_string_value(json_object_get(node, "type"));
    const char *fmt = json_string_value(json_object_get(node, "format"));
    if (defname && strstr(defname, "pkg.api.resource.Quantity")) {
        int64_t q;
        if (json_is_integer(v) || json_is_real(v))
            return;
        if (!json_is_string(v)) {
            type_error(c, node, defname, structname, gopath, path, v);
            return;
        }
        if (ksim_qty_parse(json_string_value(v), &q) && !c->type_err[0]) {
            snprintf(c->type_err, sizeof(c->type_err),
                     "quantities must match the regular expression "
                     "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
            if (!c->first_path[0])
                snprintf(c->first_path, sizeof(c->first_path), "%s", path);
        }
        return;
    }
    if (fmt && !strcmp(fmt, "int-or-string")) {
        if (!json_is_string(v) && !json_is_integer(v))
            type_error(c, node, defname, structname, gopath, path, v);
        return;
    }
    if (!type)
        return; /* free-form (RawExtension, JSON) */
    if (!strcmp(type, "string")) {
        if (!json_is_string(v))
            type_error(c, node, defname, structname, gopath, path, v);
    } else if (!strcmp(type, "integer")) {
        if (!json_is_integer(v) &&
            !(json_is_real(v) && json_real_value(v) == (double)(long long)json_real_value(v)))
            type_error(c, node, defname, structname, gopath, path, v);
    } else if (!strcmp(type, "number")) {
        if (!json_is_number(v))
            type_error(c, node, defname, structname, gopath, path, v);
    } else if (!strcmp(type, "boolean")) {
        if (!json_is_boolean(v))
            type_error(c, node, defname, structname, gopath, path, v);
    } else if (!strcmp(type, "array")) {
        if (!json_is_array(v)) {
            type_error(c, node, defname, structname, gopath, path, v);
            return;
        }
        json_t *items = json_object_get(node, "items");
        size_t i;
        json_t *it;
        if (items)
            json_array_foreach(v, i, it)
            {
                char p2[512];
                snprintf(p2, sizeof(p2), "%s[%zu]", path, i);
                walk(c, items, NULL, structname, p2, gopath, it, depth + 1);
            }
    } else if (!strcmp(type, "object")) {
        if (!json_is_object(v)) {
            type_error(c, node, defname, structname, gopath, path, v);
            return;
        }
        if (!json_object_get(node, "properties") && !json_object_get(node, "additionalProperties"))
            return; /* free-form object */
        walk_object(c, node, defname, structname, path,
                    json_object_get(node, "properties") && defname ? "" : gopath, v, depth);
    }
}

int ksim_schema_validate(const struct ksim_schema *s, const char *defname, json_t *obj,
                         struct error *err)
{
    json_t *root = json_object_get(s->defs, defname);
    if (!root)
        return error_set(err, ERR_NOT_FOUND, "", "no schema for %s", defname);
    struct vctx *c = calloc(1, sizeof(*c));
    if (!c)
        return -ERR_NOMEM;
    c->s = s;
    walk(c, root, defname, NULL, "", "", obj, 0);
    int rc = 0;
    if (c->type_err[0]) {
        rc = error_set(err, ERR_INVALID, c->first_path, "%s", c->type_err);
    } else if (c->nunknown) {
        char msg[512] = "strict decoding error: ";
        size_t n = strlen(msg);
        for (int i = 0; i < c->nunknown && i < MAX_UNKNOWN && n < sizeof(msg) - 1; i++)
            n += (size_t)snprintf(msg + n, sizeof(msg) - n, "%sunknown field \"%s\"", i ? ", " : "",
                                  c->unknown[i]);
        rc = error_set(err, ERR_INVALID, c->first_path, "%s", msg);
    }
    free(c);
    return rc;
}
