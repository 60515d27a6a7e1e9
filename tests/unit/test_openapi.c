/* The OpenAPI description (src/server/openapi.json, served at /api/v1/openapi.json) against
 * the route table: every route has an operation and every operation a route, with the
 * route's summary, security and the error answers its authentication, path and body imply;
 * the document is OpenAPI 3.1 and every $ref resolves. A route added without a description
 * fails here. The request body schemas of the decoders outside api.c (bookings, extensions,
 * tokenomics) are probed field by field: every documented field is known to the decoder,
 * null is accepted exactly where the schema allows it, and the required fields are
 * required. tests/it/test_api.sh validates real answers against the document. */
#include "common/timeutil.h"
#include "core/config.h"
#include "core/pool.h"
#include "core/tokenomics.h"
#include "server/openapi.h"
#include "server/resreq.h"
#include "server/server.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const methods[] = {"get",  "put",   "post",  "delete", "options",
                                      "head", "patch", "trace", NULL};

static json_t *load_doc(void)
{
    json_error_t je;
    json_t *doc = json_loadb(api_openapi_json, api_openapi_json_len, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        fprintf(stderr, "openapi.json line %d: %s\n", je.line, je.text);
    assert_non_null(doc);
    return doc;
}

/* A JSON string's value, "" for anything else. */
static const char *str(const json_t *v)
{
    return json_is_string(v) ? json_string_value(v) : "";
}

/* The value at JSON pointer ref ("#/a/b") in doc, or NULL. */
static json_t *resolve(json_t *doc, const char *ref)
{
    if (strncmp(ref, "#/", 2))
        return NULL;
    json_t *cur = doc;
    const char *p = ref + 2;
    while (cur && *p) {
        char key[128];
        size_t k = 0;
        for (; *p && *p != '/' && k < sizeof(key) - 1; p++) {
            if (*p == '~' && (p[1] == '0' || p[1] == '1')) {
                key[k++] = p[1] == '0' ? '~' : '/';
                p++;
            } else {
                key[k++] = *p;
            }
        }
        key[k] = 0;
        if (*p == '/')
            p++;
        cur = json_object_get(cur, key);
    }
    return cur;
}

/* Follows one $ref of a parameter or response object. */
static json_t *deref(json_t *doc, json_t *o)
{
    const char *ref = json_string_value(json_object_get(o, "$ref"));
    return ref ? resolve(doc, ref) : o;
}

/* Every "$ref" under v resolves in doc: 0, or -1 with msg. */
static int check_refs(json_t *doc, json_t *v, char *msg, size_t len)
{
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x)
        {
            if (!strcmp(k, "$ref") && (!json_is_string(x) || !resolve(doc, json_string_value(x)))) {
                snprintf(msg, len, "$ref %s does not resolve",
                         json_is_string(x) ? json_string_value(x) : "(not a string)");
                return -1;
            }
            if (check_refs(doc, x, msg, len) < 0)
                return -1;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) if (check_refs(doc, x, msg, len) < 0) return -1;
    }
    return 0;
}

static bool has_status(json_t *responses, const char *status)
{
    return json_object_get(responses, status) != NULL;
}

/* The (dereferenced) parameter named name in op, or NULL. */
static json_t *find_param(json_t *doc, json_t *op, const char *name, const char *in)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(op, "parameters"), i, p)
    {
        p = deref(doc, p);
        if (p && !strcmp(str(json_object_get(p, "name")), name) &&
            !strcmp(str(json_object_get(p, "in")), in))
            return p;
    }
    return NULL;
}

static bool has_query_param(json_t *doc, json_t *op)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(op, "parameters"), i, p)
    {
        p = deref(doc, p);
        if (p && !strcmp(str(json_object_get(p, "in")), "query"))
            return true;
    }
    return false;
}

/* Checks one operation against its route. */
static int check_op(json_t *doc, const struct srv_route *rt, json_t *op, json_t *op_ids, char *msg,
                    size_t len)
{
    const char *where = rt->pattern;
    json_t *responses = json_object_get(op, "responses");
    const char *id = json_string_value(json_object_get(op, "operationId"));
    if (!id || !*id || json_object_get(op_ids, id)) {
        snprintf(msg, len, "%s %s: operationId missing or not unique", rt->method, where);
        return -1;
    }
    json_object_set_new(op_ids, id, json_true());
    const char *summary = json_string_value(json_object_get(op, "summary"));
    if (!summary || strcmp(summary, rt->summary)) {
        snprintf(msg, len, "%s %s: summary \"%s\", the route table says \"%s\"", rt->method, where,
                 summary ? summary : "", rt->summary);
        return -1;
    }
    if (!json_is_array(json_object_get(op, "tags")) ||
        !json_array_size(json_object_get(op, "tags"))) {
        snprintf(msg, len, "%s %s: no tags", rt->method, where);
        return -1;
    }
    json_t *sec = json_object_get(op, "security");
    const char *role = json_string_value(json_object_get(op, "x-required-role"));
    bool public_ok = json_is_array(sec) && json_array_size(sec) == 0 && !role;
    bool bearer_ok = json_is_array(sec) && json_array_size(sec) == 1 &&
                     json_is_array(json_object_get(json_array_get(sec, 0), "bearer"));
    const char *want_role = rt->auth == SRV_ADMIN || rt->auth == SRV_METRICS ? "admin" : "user";
    if (rt->auth == SRV_PUBLIC ? !public_ok : !bearer_ok || !role || strcmp(role, want_role)) {
        snprintf(msg, len, "%s %s: security does not match the route's authentication", rt->method,
                 where);
        return -1;
    }
    const char *k;
    json_t *resp;
    bool success = false;
    json_object_foreach(responses, k, resp)
    {
        success |= (k[0] == '2' || k[0] == '3') && strlen(k) == 3; /* 303: a sign-in redirect */
        resp = deref(doc, resp);
        json_t *content = json_object_get(resp, "content");
        if (!resp || !json_is_string(json_object_get(resp, "description"))) {
            snprintf(msg, len, "%s %s: response %s without a description", rt->method, where, k);
            return -1;
        }
        /* every error answer carries the shared Error schema */
        const char *schema_ref = json_string_value(json_object_get(
            json_object_get(json_object_get(content, "application/json"), "schema"), "$ref"));
        if (k[0] >= '4' && (!schema_ref || strcmp(schema_ref, "#/components/schemas/Error"))) {
            snprintf(msg, len, "%s %s: error response %s is not an Error", rt->method, where, k);
            return -1;
        }
    }
    struct {
        bool need;
        const char *status;
        const char *why;
    } need[] = {
        {!success, "2xx", "a success answer"},
        {rt->auth != SRV_PUBLIC, "401", "needs a token"},
        {rt->auth == SRV_ADMIN || rt->auth == SRV_METRICS, "403", "is admin-only"},
        {strstr(rt->pattern, "{id}") != NULL, "404", "has an {id}"},
        {json_object_get(op, "requestBody") != NULL, "400", "takes a body"},
        {json_object_get(op, "requestBody") != NULL, "413", "takes a body"},
        {json_object_get(op, "requestBody") != NULL, "415", "takes a body"},
        {has_query_param(doc, op), "400", "takes query parameters"},
    };
    for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
        if (need[i].need && (i == 0 || !has_status(responses, need[i].status))) {
            snprintf(msg, len, "%s %s: no %s response, but it %s", rt->method, where,
                     need[i].status, need[i].why);
            return -1;
        }
    if (strstr(rt->pattern, "{id}") && !find_param(doc, op, "id", "path")) {
        snprintf(msg, len, "%s %s: no path parameter id", rt->method, where);
        return -1;
    }
    return 0;
}

/* The whole check: 0, or -1 with msg. */
static int check_doc(json_t *doc, const struct srv_route *routes, size_t n, char *msg, size_t len)
{
    const char *v = json_string_value(json_object_get(doc, "openapi"));
    json_t *info = json_object_get(doc, "info"), *paths = json_object_get(doc, "paths");
    if (!v || strncmp(v, "3.1.", 4) || !json_is_string(json_object_get(info, "title")) ||
        !json_is_string(json_object_get(info, "version")) || !json_is_object(paths) ||
        !json_is_object(json_object_get(json_object_get(doc, "components"), "schemas"))) {
        snprintf(msg, len, "not an OpenAPI 3.1 document (openapi, info, paths, components)");
        return -1;
    }
    if (check_refs(doc, doc, msg, len) < 0)
        return -1;
    json_t *op_ids = json_object();
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char m[16];
        size_t k;
        for (k = 0; k < sizeof(m) - 1 && routes[i].method[k]; k++)
            m[k] = (char)tolower((unsigned char)routes[i].method[k]);
        m[k] = 0;
        json_t *op = json_object_get(json_object_get(paths, routes[i].pattern), m);
        if (!op) {
            snprintf(msg, len, "%s %s is served but not described", routes[i].method,
                     routes[i].pattern);
            rc = -1;
        } else {
            rc = check_op(doc, &routes[i], op, op_ids, msg, len);
        }
    }
    /* and every operation described is served */
    const char *path;
    json_t *item;
    json_object_foreach(paths, path, item)
    {
        for (const char *const *m = methods; *m && rc == 0; m++) {
            if (!json_object_get(item, *m))
                continue;
            bool served = false;
            for (size_t i = 0; i < n; i++)
                served |= !strcmp(routes[i].pattern, path) && !strcasecmp(routes[i].method, *m);
            if (!served) {
                snprintf(msg, len, "%s %s is described but not served", *m, path);
                rc = -1;
            }
        }
    }
    json_decref(op_ids);
    return rc;
}

static void test_document_matches_routes(void **state)
{
    char msg[512] = "";
    json_t *doc = load_doc();
    int rc = check_doc(doc, api_routes, api_n_routes, msg, sizeof(msg));
    if (rc < 0)
        fprintf(stderr, "openapi.json: %s\n", msg);
    assert_int_equal(rc, 0);
    json_decref(doc);
}

/* The check fails on each kind of drift (so that test_document_matches_routes means
 * something). */
static void expect_failure(json_t *doc, const struct srv_route *routes, size_t n, const char *want)
{
    char msg[512] = "";
    assert_int_equal(check_doc(doc, routes, n, msg, sizeof(msg)), -1);
    if (!strstr(msg, want))
        fprintf(stderr, "message \"%s\" lacks \"%s\"\n", msg, want);
    assert_non_null(strstr(msg, want));
}

static void test_drift_is_caught(void **state)
{
    struct srv_route *routes = calloc(api_n_routes + 1, sizeof(*routes));
    assert_non_null(routes);
    memcpy(routes, api_routes, api_n_routes * sizeof(*routes));

    /* a new route without a description */
    routes[api_n_routes] = (struct srv_route){"GET", "/api/v1/new", NULL, SRV_USER, true, "New"};
    json_t *doc = load_doc();
    expect_failure(doc, routes, api_n_routes + 1, "GET /api/v1/new is served but not described");
    json_decref(doc);

    /* an operation whose route went away */
    expect_failure(doc = load_doc(), routes, api_n_routes - 1, "described but not served");
    json_decref(doc);

    /* an admin route whose description forgot the 403 */
    doc = load_doc();
    json_object_del(
        json_object_get(
            json_object_get(json_object_get(json_object_get(doc, "paths"), "/api/v1/users"), "get"),
            "responses"),
        "403");
    expect_failure(doc, api_routes, api_n_routes, "no 403 response");
    json_decref(doc);

    /* a route that became admin-only */
    for (size_t i = 0; i < api_n_routes; i++)
        if (!strcmp(routes[i].pattern, "/api/v1/pool"))
            routes[i].auth = SRV_ADMIN;
    expect_failure(doc = load_doc(), routes, api_n_routes, "security does not match");
    json_decref(doc);

    /* a dangling $ref */
    doc = load_doc();
    json_object_del(json_object_get(json_object_get(doc, "components"), "schemas"), "Window");
    expect_failure(doc, api_routes, api_n_routes, "#/components/schemas/Window does not resolve");
    json_decref(doc);
    free(routes);
}

/* ---- request body schemas against the decoders ---- */

/* Decodes a whole request document: 0, or -1 with err. */
typedef int (*decode_fn)(json_t *body, struct error *err);

static struct config *cfg;
static struct pool pool;
static int64_t now;

static int decode_booking(json_t *body, struct error *err)
{
    struct reservation r;
    char *text = json_dumps(body, JSON_COMPACT);
    int rc = resreq_decode(text, strlen(text), cfg, &pool, now, &r, err);
    free(text);
    return rc < 0 ? -1 : 0;
}

static int decode_extend(json_t *body, struct error *err)
{
    struct reservation r = {.starts_at = now + 3600, .ends_at = now + 7200};
    int64_t end;
    char *text = json_dumps(body, JSON_COMPACT);
    int rc = resreq_decode_extend(text, strlen(text), cfg, &r, now, &end, err);
    free(text);
    return rc < 0 ? -1 : 0;
}

static int decode_tokenomics(json_t *body, struct error *err)
{
    struct tok_input *in = calloc(1, sizeof(*in));
    assert_non_null(in);
    int rc = tok_parse(body, in, err);
    free(in);
    return rc < 0 ? -1 : 0;
}

/* True when schema s (after one $ref) admits null. */
static bool admits_null(json_t *doc, json_t *s)
{
    s = deref(doc, s);
    json_t *t = json_object_get(s, "type");
    if (json_is_string(t))
        return !strcmp(json_string_value(t), "null");
    size_t i;
    json_t *x;
    json_array_foreach(t, i, x) if (!strcmp(str(x), "null")) return true;
    json_array_foreach(json_object_get(s, "oneOf"), i, x) if (admits_null(doc, x)) return true;
    return false;
}

/* Probes the object `at` inside the valid request `body` against `schema`: each property
 * set to null is accepted iff the schema admits null and is never an unknown field; each
 * required property, removed, is refused. A null `cross` property may still be refused by a
 * rule across fields (a workload's share: null counts as 0, and the shares must add up to 1). */
static void probe(json_t *doc, json_t *schema, json_t *body, json_t *at, decode_fn decode,
                  const char *what, const char *cross)
{
    struct error err = {0};
    schema = deref(doc, schema);
    assert_non_null(schema);
    assert_true(json_is_false(json_object_get(schema, "additionalProperties")));
    if (decode(body, &err) < 0)
        fprintf(stderr, "%s: the base body is refused: %s\n", what, err.message);
    assert_int_equal(decode(body, &err), 0);
    const char *name;
    json_t *ps;
    json_object_foreach(json_object_get(schema, "properties"), name, ps)
    {
        json_t *saved = json_incref(json_object_get(at, name));
        json_object_set_new(at, name, json_null());
        memset(&err, 0, sizeof(err));
        int rc = decode(body, &err);
        bool want_ok = admits_null(doc, ps);
        if (cross && !strcmp(name, cross) && want_ok && rc < 0 && strcmp(err.field, name))
            rc = 0;
        if ((rc == 0) != want_ok || strstr(err.message, "unknown field"))
            fprintf(stderr, "%s.%s = null: decoder says \"%s\", the schema %s null\n", what, name,
                    rc == 0 ? "ok" : err.message, want_ok ? "admits" : "refuses");
        assert_int_equal(rc == 0, want_ok);
        assert_null(strstr(err.message, "unknown field"));
        if (saved)
            json_object_set_new(at, name, saved);
        else
            json_object_del(at, name);
    }
    size_t i;
    json_t *req;
    json_array_foreach(json_object_get(schema, "required"), i, req)
    {
        json_t *saved = json_incref(json_object_get(at, str(req)));
        assert_non_null(saved); /* the base body holds every required field */
        json_object_del(at, str(req));
        if (decode(body, &err) == 0)
            fprintf(stderr, "%s.%s is required by the schema, not by the decoder\n", what,
                    str(req));
        assert_int_equal(decode(body, &err), -1);
        json_object_set_new(at, str(req), saved);
    }
    /* and the others are optional */
    json_t *v;
    json_t *copy = json_copy(at);
    json_object_foreach(copy, name, v)
    {
        bool required = false;
        json_array_foreach(json_object_get(schema, "required"), i, req) required |=
            !strcmp(str(req), name);
        if (required || (cross && !strcmp(name, cross)))
            continue;
        json_incref(v);
        json_object_del(at, name);
        if (decode(body, &err) < 0)
            fprintf(stderr, "%s.%s: the decoder requires it, the schema does not\n", what, name);
        assert_int_equal(decode(body, &err), 0);
        json_object_set_new(at, name, v);
    }
    json_decref(copy);
    /* a field the schema does not know is refused by the decoder too (and by the schema) */
    json_object_set_new(at, "no_such_field", json_integer(1));
    memset(&err, 0, sizeof(err));
    assert_int_equal(decode(body, &err), -1);
    json_object_del(at, "no_such_field");
}

static json_t *schema_of(json_t *doc, const char *name)
{
    json_t *s =
        json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"), name);
    assert_non_null(s);
    return s;
}

static void test_booking_bodies(void **state)
{
    json_t *doc = load_doc();
    json_t *b = json_pack("{s:s,s:i,s:s,s:s}", "gpu_type", "nvidia.com/gpu", "gpu_count", 1,
                          "starts_at", "2026-12-01T10:00:00Z", "ends_at", "2026-12-01T12:00:00Z");
    probe(doc, schema_of(doc, "ReservationRequest"), b, b, decode_booking, "ReservationRequest",
          NULL);
    json_decref(b);
    b = json_pack("{s:s}", "ends_at", "2026-12-01T12:00:00Z");
    probe(doc, schema_of(doc, "ExtendRequest"), b, b, decode_extend, "ExtendRequest", NULL);
    json_decref(b);
    json_decref(doc);
}

static void test_tokenomics_body(void **state)
{
    json_t *doc = load_doc();
    json_error_t je;
    json_t *b = json_loads(
        "{\"servers\":[{\"name\":\"s\",\"capex\":1000,\"gpus\":2,\"power_load_kw\":1,"
        "\"power_idle_kw\":0.5}],\"finance\":{},\"facility\":{},\"planning\":{},"
        "\"workloads\":[{\"name\":\"w\",\"tokens_per_second_per_gpu\":100,\"share\":1,"
        "\"cloud_prices\":[{\"name\":\"p\",\"input_per_million\":1,\"output_per_million\":2}]}]}",
        0, &je);
    assert_non_null(b);
    json_t *top = schema_of(doc, "TokenomicsRequest"), *props = json_object_get(top, "properties");
    json_t *server = json_array_get(json_object_get(b, "servers"), 0);
    json_t *wl = json_array_get(json_object_get(b, "workloads"), 0);
    probe(doc, top, b, b, decode_tokenomics, "TokenomicsRequest", NULL);
    probe(doc, schema_of(doc, "TokenomicsServer"), b, server, decode_tokenomics, "servers[0]",
          NULL);
    probe(doc, schema_of(doc, "TokenomicsWorkload"), b, wl, decode_tokenomics, "workloads[0]",
          "share");
    probe(doc, schema_of(doc, "TokenomicsPrice"), b,
          json_array_get(json_object_get(wl, "cloud_prices"), 0), decode_tokenomics,
          "cloud_prices[0]", NULL);
    const char *const nested[] = {"finance", "facility", "planning"};
    for (size_t i = 0; i < 3; i++)
        probe(doc, json_object_get(props, nested[i]), b, json_object_get(b, nested[i]),
              decode_tokenomics, nested[i], NULL);
    json_decref(b);
    json_decref(doc);
}

static int setup(void **state)
{
    struct error err = {0};
    if (config_load_file("config/gpuaas.example.yaml", &cfg, &err) < 0 ||
        pool_derive(cfg, &pool, &err) < 0) {
        fprintf(stderr, "setup: %s\n", err.message);
        return -1;
    }
    time_parse_rfc3339("2026-12-01T09:00:00Z", &now);
    return 0;
}

static int teardown(void **state)
{
    config_free(cfg);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_document_matches_routes),
        cmocka_unit_test(test_drift_is_caught),
        cmocka_unit_test(test_booking_bodies),
        cmocka_unit_test(test_tokenomics_body),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
