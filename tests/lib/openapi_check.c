/* Strict OpenAPI validation of Kubernetes objects for tests; see openapi_check.h. */
#include "openapi_check.h"

#include <stdarg.h>
#include <stdlib.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define QUANTITY_REF "io.k8s.apimachinery.pkg.api.resource.Quantity"
#define MAX_DEPTH 64

struct oapi {
    json_t *defs; /* name -> schema, merged over every file */
    json_t *gvk;  /* "group/version/Kind" -> definition name */
};

static void setmsg(char *msg, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void setmsg(char *msg, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, n, fmt, ap);
    va_end(ap);
}

void oapi_free(struct oapi *o)
{
    if (!o)
        return;
    json_decref(o->defs);
    json_decref(o->gvk);
    free(o);
}

/* The OpenShift definitions carry no x-kubernetes-group-version-kind: derive it from the name
 * com.github.openshift.api.<group>.<version>.<Kind> of a type with apiVersion and kind. */
static int index_openshift(struct oapi *o, const char *name, json_t *schema)
{
    static const char prefix[] = "com.github.openshift.api.";
    char group[64], version[16], kind[96], key[256];
    json_t *props = json_object_get(schema, "properties");
    if (strncmp(name, prefix, sizeof(prefix) - 1) || !json_object_get(props, "apiVersion") ||
        !json_object_get(props, "kind"))
        return 0;
    if (sscanf(name + sizeof(prefix) - 1, "%63[^.].%15[^.].%95s", group, version, kind) != 3 ||
        strchr(kind, '.'))
        return 0;
    snprintf(key, sizeof(key), "%s.openshift.io/%s/%s", group, version, kind);
    if (!json_object_get(o->gvk, key) && json_object_set_new(o->gvk, key, json_string(name)))
        return -1;
    return 0;
}

static int index_gvk(struct oapi *o, const char *name, json_t *schema)
{
    json_t *list = json_object_get(schema, "x-kubernetes-group-version-kind");
    if (!list)
        return index_openshift(o, name, schema);
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        char key[256];
        snprintf(key, sizeof(key), "%s/%s/%s", json_string_value(json_object_get(e, "group")),
                 json_string_value(json_object_get(e, "version")),
                 json_string_value(json_object_get(e, "kind")));
        /* the first definition wins; later ones are aliases (e.g. DeleteOptions) */
        if (!json_object_get(o->gvk, key) && json_object_set_new(o->gvk, key, json_string(name)))
            return -1;
    }
    return 0;
}

int oapi_load(const char *const *paths, int n, struct oapi **ret, char *msg, size_t msg_len)
{
    struct oapi *o = calloc(1, sizeof(*o));
    int rc = -1;
    if (!o)
        return -1;
    o->defs = json_object();
    o->gvk = json_object();
    for (int i = 0; i < n; i++) {
        json_error_t je;
        json_t *doc = json_load_file(paths[i], 0, &je);
        if (!doc) {
            setmsg(msg, msg_len, "%s:%d: %s", paths[i], je.line, je.text);
            goto out;
        }
        json_t *defs = json_object_get(doc, "definitions");
        const char *name;
        json_t *schema;
        json_object_foreach(defs, name, schema)
        {
            if (json_object_get(o->defs, name))
                continue;
            json_object_set(o->defs, name, schema);
            if (index_gvk(o, name, schema)) {
                json_decref(doc);
                goto out;
            }
        }
        json_decref(doc);
    }
    *ret = o;
    o = NULL;
    rc = 0;
out:
    oapi_free(o);
    return rc;
}

int oapi_load_dir(const char *dir, struct oapi **ret, char *msg, size_t msg_len)
{
    char a[1024], b[1024], g[1024], gw[1024];
    snprintf(a, sizeof(a), "%s/kubernetes-1.36-swagger.json", dir);
    snprintf(b, sizeof(b), "%s/openshift-route-security-build-image-project.json", dir);
    snprintf(g, sizeof(g), "%s/gateway-api-httproute-v1.json", dir);
    snprintf(gw, sizeof(gw), "%s/gateway-api-gateway-v1.json", dir);
    const char *paths[] = {a, b, g, gw};
    return oapi_load(paths, 4, ret, msg, msg_len);
}

struct ctx {
    const struct oapi *o;
    char *msg;
    size_t msg_len;
    char path[1024];
};

static int fail(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct ctx *c, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    setmsg(c->msg, c->msg_len, "%s: %s", c->path[0] ? c->path : ".", why);
    return -1;
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    default:
        return "null";
    }
}

static int check(struct ctx *c, const json_t *schema, json_t *v, int depth);

static int check_child(struct ctx *c, const json_t *schema, json_t *v, int depth, const char *fmt,
                       ...) __attribute__((format(printf, 5, 6)));
static int check_child(struct ctx *c, const json_t *schema, json_t *v, int depth, const char *fmt,
                       ...)
{
    size_t len = strlen(c->path);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->path + len, sizeof(c->path) - len, fmt, ap);
    va_end(ap);
    int rc = check(c, schema, v, depth + 1);
    if (rc == 0)
        c->path[len] = '\0';
    return rc;
}

static int check_enum(struct ctx *c, const json_t *schema, json_t *v)
{
    json_t *en = json_object_get(schema, "enum");
    size_t i;
    json_t *e;
    if (!en)
        return 0;
    json_array_foreach(en, i, e) if (json_equal(e, v)) return 0;
    return fail(c, "value %s is not one of the allowed values",
                json_is_string(v) ? json_string_value(v) : type_name(v));
}

static int check(struct ctx *c, const json_t *schema, json_t *v, int depth)
{
    if (depth > MAX_DEPTH)
        return fail(c, "nested too deep");
    const char *ref = json_string_value(json_object_get(schema, "$ref"));
    if (ref) {
        const char *name = strncmp(ref, "#/definitions/", 14) ? ref : ref + 14;
        if (!strcmp(name, QUANTITY_REF)) {
            if (json_is_string(v) || json_is_number(v) || json_is_null(v))
                return 0;
            return fail(c, "expected a quantity (string or number), got %s", type_name(v));
        }
        const json_t *target = json_object_get(c->o->defs, name);
        if (!target)
            return fail(c, "schema reference %s not found", ref);
        return check(c, target, v, depth + 1);
    }
    if (json_is_null(v))
        return 0; /* optional fields may be null */
    const char *format = json_string_value(json_object_get(schema, "format"));
    if (format && !strcmp(format, "int-or-string")) {
        if (json_is_string(v) || json_is_integer(v))
            return 0;
        return fail(c, "expected an integer or a string, got %s", type_name(v));
    }
    const char *type = json_string_value(json_object_get(schema, "type"));
    if (!type) {
        /* no type: either an object with properties or anything (RawExtension, JSON) */
        if (!json_object_get(schema, "properties"))
            return 0;
        type = "object";
    }
    if (!strcmp(type, "string")) {
        if (!json_is_string(v))
            return fail(c, "expected a string, got %s", type_name(v));
        if (format && !strcmp(format, "byte")) {
            /* base64 */
            for (const char *p = json_string_value(v); *p; p++)
                if (!(strchr("+/=\n", *p) || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                      (*p >= '0' && *p <= '9')))
                    return fail(c, "not base64");
        }
        return check_enum(c, schema, v);
    }
    if (!strcmp(type, "integer")) {
        if (!json_is_integer(v))
            return fail(c, "expected an integer, got %s", type_name(v));
        if (format && !strcmp(format, "int32") &&
            (json_integer_value(v) > 2147483647LL || json_integer_value(v) < -2147483648LL))
            return fail(c, "out of int32 range");
        return check_enum(c, schema, v);
    }
    if (!strcmp(type, "number")) {
        if (!json_is_number(v))
            return fail(c, "expected a number, got %s", type_name(v));
        return 0;
    }
    if (!strcmp(type, "boolean")) {
        if (!json_is_boolean(v))
            return fail(c, "expected a boolean, got %s", type_name(v));
        return 0;
    }
    if (!strcmp(type, "array")) {
        if (!json_is_array(v))
            return fail(c, "expected an array, got %s", type_name(v));
        const json_t *items = json_object_get(schema, "items");
        size_t i;
        json_t *e;
        if (items)
            json_array_foreach(v, i, e) if (check_child(c, items, e, depth, "[%zu]", i)) return -1;
        return 0;
    }
    if (strcmp(type, "object"))
        return fail(c, "schema type %s not understood", type);
    if (!json_is_object(v))
        return fail(c, "expected an object, got %s", type_name(v));
    const json_t *props = json_object_get(schema, "properties");
    const json_t *addl = json_object_get(schema, "additionalProperties");
    const char *key;
    json_t *val;
    json_object_foreach(v, key, val)
    {
        const json_t *ps = props ? json_object_get(props, key) : NULL;
        if (ps) {
            if (check_child(c, ps, val, depth, ".%s", key))
                return -1;
        } else if (json_is_object(addl)) {
            if (check_child(c, addl, val, depth, "[%s]", key))
                return -1;
        } else if (props || json_is_false(addl)) {
            size_t len = strlen(c->path);
            snprintf(c->path + len, sizeof(c->path) - len, ".%s", key);
            return fail(c, "unknown field \"%s\"", key);
        }
    }
    const json_t *req = json_object_get(schema, "required");
    size_t i;
    json_t *r;
    json_array_foreach(req, i, r)
    {
        const char *name = json_string_value(r);
        if (name && !json_object_get(v, name))
            return fail(c, "missing required field \"%s\"", name);
    }
    return 0;
}

int oapi_validate(const struct oapi *o, json_t *obj, char *msg, size_t msg_len)
{
    const char *api = json_string_value(json_object_get(obj, "apiVersion"));
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
    char key[256], group[128] = "", version[64];
    if (!api || !kind) {
        setmsg(msg, msg_len, "object without apiVersion or kind");
        return -1;
    }
    const char *slash = strchr(api, '/');
    if (slash) {
        snprintf(group, sizeof(group), "%.*s", (int)(slash - api), api);
        snprintf(version, sizeof(version), "%s", slash + 1);
    } else {
        snprintf(version, sizeof(version), "%s", api);
    }
    snprintf(key, sizeof(key), "%s/%s/%s", group, version, kind);
    const char *def = json_string_value(json_object_get(o->gvk, key));
    if (!def) {
        setmsg(msg, msg_len, "%s %s: no OpenAPI definition for apiVersion %s kind %s", kind,
               name ? name : "?", api, kind);
        return -1;
    }
    struct ctx c = {.o = o, .msg = msg, .msg_len = msg_len, .path = ""};
    if (!name) {
        setmsg(msg, msg_len, "%s: metadata.name is missing", kind);
        return -1;
    }
    if (check(&c, json_object_get(o->defs, def), obj, 0)) {
        char inner[1024];
        snprintf(inner, sizeof(inner), "%s", msg);
        setmsg(msg, msg_len, "%s %s: %s", kind, name, inner);
        return -1;
    }
    return 0;
}
