/* Protobuf request bodies of kubectl's typed commands (see protobuf.h). */
#include "kubesim/protobuf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum pb_type { PB_STR, PB_INT, PB_BOOL, PB_MSG, PB_STRS, PB_MSGS, PB_MAP, PB_BYTES_MAP };

struct pb_field {
    int num;
    const char *json;
    enum pb_type type;
    const struct pb_field *sub; /* PB_MSG, PB_MSGS */
};

#define END                                                                                        \
    {                                                                                              \
        0, NULL, PB_STR, NULL                                                                      \
    }

static const struct pb_field object_meta[] = {{1, "name", PB_STR, NULL},
                                              {2, "generateName", PB_STR, NULL},
                                              {3, "namespace", PB_STR, NULL},
                                              {11, "labels", PB_MAP, NULL},
                                              {12, "annotations", PB_MAP, NULL},
                                              {14, "finalizers", PB_STRS, NULL},
                                              END};
static const struct pb_field resource_attributes[] = {
    {1, "namespace", PB_STR, NULL}, {2, "verb", PB_STR, NULL},
    {3, "group", PB_STR, NULL},     {4, "version", PB_STR, NULL},
    {5, "resource", PB_STR, NULL},  {6, "subresource", PB_STR, NULL},
    {7, "name", PB_STR, NULL},      END};
static const struct pb_field non_resource_attributes[] = {
    {1, "path", PB_STR, NULL}, {2, "verb", PB_STR, NULL}, END};
static const struct pb_field ssar_spec[] = {
    {1, "resourceAttributes", PB_MSG, resource_attributes},
    {2, "nonResourceAttributes", PB_MSG, non_resource_attributes},
    END};
static const struct pb_field sar_spec[] = {
    {1, "resourceAttributes", PB_MSG, resource_attributes},
    {2, "nonResourceAttributes", PB_MSG, non_resource_attributes},
    {3, "user", PB_STR, NULL},
    {4, "groups", PB_STRS, NULL},
    {6, "uid", PB_STR, NULL},
    END};
static const struct pb_field ssar[] = {
    {1, "metadata", PB_MSG, object_meta}, {2, "spec", PB_MSG, ssar_spec}, END};
static const struct pb_field sar[] = {
    {1, "metadata", PB_MSG, object_meta}, {2, "spec", PB_MSG, sar_spec}, END};
static const struct pb_field ssrr_spec[] = {{1, "namespace", PB_STR, NULL}, END};
static const struct pb_field ssrr[] = {
    {1, "metadata", PB_MSG, object_meta}, {2, "spec", PB_MSG, ssrr_spec}, END};
static const struct pb_field meta_only[] = {{1, "metadata", PB_MSG, object_meta}, END};
static const struct pb_field bound_ref[] = {{1, "kind", PB_STR, NULL},
                                            {2, "apiVersion", PB_STR, NULL},
                                            {3, "name", PB_STR, NULL},
                                            {4, "uid", PB_STR, NULL},
                                            END};
static const struct pb_field token_spec[] = {{1, "audiences", PB_STRS, NULL},
                                             {3, "boundObjectRef", PB_MSG, bound_ref},
                                             {4, "expirationSeconds", PB_INT, NULL},
                                             END};
static const struct pb_field token_request[] = {
    {1, "metadata", PB_MSG, object_meta}, {2, "spec", PB_MSG, token_spec}, END};
static const struct pb_field ns_spec[] = {{1, "finalizers", PB_STRS, NULL}, END};
static const struct pb_field namespace_[] = {
    {1, "metadata", PB_MSG, object_meta}, {2, "spec", PB_MSG, ns_spec}, END};
static const struct pb_field policy_rule[] = {
    {1, "verbs", PB_STRS, NULL},           {2, "apiGroups", PB_STRS, NULL},
    {3, "resources", PB_STRS, NULL},       {4, "resourceNames", PB_STRS, NULL},
    {5, "nonResourceURLs", PB_STRS, NULL}, END};
static const struct pb_field role[] = {
    {1, "metadata", PB_MSG, object_meta}, {2, "rules", PB_MSGS, policy_rule}, END};
static const struct pb_field subject[] = {{1, "kind", PB_STR, NULL},
                                          {2, "apiGroup", PB_STR, NULL},
                                          {3, "name", PB_STR, NULL},
                                          {4, "namespace", PB_STR, NULL},
                                          END};
static const struct pb_field role_ref[] = {
    {1, "apiGroup", PB_STR, NULL}, {2, "kind", PB_STR, NULL}, {3, "name", PB_STR, NULL}, END};
static const struct pb_field binding[] = {{1, "metadata", PB_MSG, object_meta},
                                          {2, "subjects", PB_MSGS, subject},
                                          {3, "roleRef", PB_MSG, role_ref},
                                          END};
static const struct pb_field config_map[] = {{1, "metadata", PB_MSG, object_meta},
                                             {2, "data", PB_MAP, NULL},
                                             {4, "immutable", PB_BOOL, NULL},
                                             END};

static const struct pb_field secret[] = {{1, "metadata", PB_MSG, object_meta},
                                         {2, "data", PB_BYTES_MAP, NULL},
                                         {3, "type", PB_STR, NULL},
                                         {4, "stringData", PB_MAP, NULL},
                                         {5, "immutable", PB_BOOL, NULL},
                                         END};

static const struct {
    const char *kind;
    const struct pb_field *fields;
} kinds[] = {
    {"SelfSubjectAccessReview", ssar},
    {"SubjectAccessReview", sar},
    {"LocalSubjectAccessReview", sar},
    {"SelfSubjectRulesReview", ssrr},
    {"SelfSubjectReview", meta_only},
    {"TokenRequest", token_request},
    {"Namespace", namespace_},
    {"ServiceAccount", meta_only},
    {"Role", role},
    {"ClusterRole", role},
    {"RoleBinding", binding},
    {"ClusterRoleBinding", binding},
    {"ConfigMap", config_map},
    {"Secret", secret},
};

struct buf {
    const unsigned char *p, *end;
};

static int varint(struct buf *b, uint64_t *ret)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (b->p >= b->end)
            return -1;
        unsigned char c = *b->p++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *ret = v;
            return 0;
        }
    }
    return -1;
}

/* Reads one field's key and, for length-delimited ones, its bytes. */
static int next_field(struct buf *b, int *num, int *wire, uint64_t *v, struct buf *bytes)
{
    uint64_t key;
    if (varint(b, &key) || key >> 3 == 0 || key >> 3 > 536870911)
        return -1;
    *num = (int)(key >> 3);
    *wire = (int)(key & 7);
    switch (*wire) {
    case 0:
        return varint(b, v);
    case 1:
        if (b->end - b->p < 8)
            return -1;
        b->p += 8;
        return 0;
    case 5:
        if (b->end - b->p < 4)
            return -1;
        b->p += 4;
        return 0;
    case 2:
        if (varint(b, v) || *v > (uint64_t)(b->end - b->p))
            return -1;
        bytes->p = b->p;
        bytes->end = b->p + *v;
        b->p += *v;
        return 0;
    default:
        return -1;
    }
}

static json_t *decode(struct buf b, const struct pb_field *fields, int depth);

static json_t *base64(const unsigned char *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    out[o] = '\0';
    json_t *s = json_string(out);
    free(out);
    return s;
}

/* One entry {key = 1, value = 2} of a map<string, string> (or of bytes, base64 in JSON). */
static json_t *decode_map_entry(struct buf b, json_t *into, int bytes)
{
    json_t *k = NULL, *v = NULL;
    while (b.p < b.end) {
        int num, wire;
        uint64_t iv;
        struct buf s;
        if (next_field(&b, &num, &wire, &iv, &s))
            goto fail;
        if (wire == 2 && num == 1) {
            json_decref(k);
            k = json_stringn((const char *)s.p, (size_t)(s.end - s.p));
        } else if (wire == 2 && num == 2) {
            json_decref(v);
            v = bytes ? base64(s.p, (size_t)(s.end - s.p))
                      : json_stringn((const char *)s.p, (size_t)(s.end - s.p));
        }
    }
    if (!k)
        goto fail;
    json_object_set_new(into, json_string_value(k), v ? v : json_string(""));
    json_decref(k);
    return into;
fail:
    json_decref(k);
    json_decref(v);
    return NULL;
}

static json_t *decode(struct buf b, const struct pb_field *fields, int depth)
{
    json_t *obj = json_object();
    if (depth > 8)
        goto fail;
    while (b.p < b.end) {
        int num, wire;
        uint64_t v = 0;
        struct buf s = {0};
        if (next_field(&b, &num, &wire, &v, &s))
            goto fail;
        const struct pb_field *f = fields;
        while (f->json && f->num != num)
            f++;
        if (!f->json)
            continue; /* unknown field: skipped */
        int want_bytes = f->type != PB_INT && f->type != PB_BOOL;
        if (want_bytes != (wire == 2) || (!want_bytes && wire != 0))
            goto fail;
        json_t *arr, *m, *sub;
        switch (f->type) {
        case PB_STR:
            json_object_set_new(obj, f->json,
                                json_stringn((const char *)s.p, (size_t)(s.end - s.p)));
            break;
        case PB_INT:
            json_object_set_new(obj, f->json, json_integer((json_int_t)v));
            break;
        case PB_BOOL:
            json_object_set_new(obj, f->json, json_boolean(v != 0));
            break;
        case PB_MSG:
            sub = decode(s, f->sub, depth + 1);
            if (!sub)
                goto fail;
            json_object_set_new(obj, f->json, sub);
            break;
        case PB_STRS:
        case PB_MSGS:
            arr = json_object_get(obj, f->json);
            if (!arr) {
                arr = json_array();
                json_object_set_new(obj, f->json, arr);
            }
            sub = f->type == PB_STRS ? json_stringn((const char *)s.p, (size_t)(s.end - s.p))
                                     : decode(s, f->sub, depth + 1);
            if (!sub)
                goto fail;
            json_array_append_new(arr, sub);
            break;
        case PB_MAP:
        case PB_BYTES_MAP:
            m = json_object_get(obj, f->json);
            if (!m) {
                m = json_object();
                json_object_set_new(obj, f->json, m);
            }
            if (!decode_map_entry(s, m, f->type == PB_BYTES_MAP))
                goto fail;
            break;
        }
    }
    return obj;
fail:
    json_decref(obj);
    return NULL;
}

json_t *ksim_pb_decode(const unsigned char *body, size_t len, char *msg, size_t msglen)
{
    static const unsigned char magic[4] = {'k', '8', 's', 0};
    if (len < 4 || memcmp(body, magic, 4)) {
        snprintf(msg, msglen, "the protobuf body does not start with the Kubernetes magic");
        return NULL;
    }
    struct buf b = {body + 4, body + len}, raw = {0}, tm = {0};
    int have_raw = 0, have_tm = 0;
    while (b.p < b.end) {
        int num, wire;
        uint64_t v;
        struct buf s;
        if (next_field(&b, &num, &wire, &v, &s))
            goto bad;
        if (num == 1 && wire == 2)
            tm = s, have_tm = 1;
        else if (num == 2 && wire == 2)
            raw = s, have_raw = 1;
    }
    if (!have_tm || !have_raw)
        goto bad;
    char av[128] = "", kind[128] = "";
    while (tm.p < tm.end) {
        int num, wire;
        uint64_t v;
        struct buf s;
        if (next_field(&tm, &num, &wire, &v, &s))
            goto bad;
        if (wire == 2 && (num == 1 || num == 2) && (size_t)(s.end - s.p) < sizeof(av))
            snprintf(num == 1 ? av : kind, sizeof(av), "%.*s", (int)(s.end - s.p),
                     (const char *)s.p);
    }
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(kinds[i].kind, kind))
            continue;
        json_t *obj = decode(raw, kinds[i].fields, 0);
        if (!obj)
            goto bad;
        json_object_set_new(obj, "apiVersion", json_string(av));
        json_object_set_new(obj, "kind", json_string(kind));
        return obj;
    }
    snprintf(msg, msglen,
             "the body of the request was in an unknown format - the API server double decodes "
             "protobuf only for kubectl's typed commands, not for kind \"%s\": send "
             "application/json or application/yaml",
             kind);
    return NULL;
bad:
    snprintf(msg, msglen, "the protobuf body of the request is malformed");
    return NULL;
}
