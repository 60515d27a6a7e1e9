/* gpuaas-openapi-check FILE...: validates every Kubernetes object in JSON files (one object,
 * a JSON array of objects, or a kind: List) against the OpenAPI definitions, strictly.
 * --openapi DIR names the definitions folder (default third_party/openapi of the source tree).
 * Prints one line per invalid object; exit 0 when all are valid, 1 otherwise. */
#include "openapi_check.h"

#include <stdio.h>
#include <string.h>

static int check_value(const struct oapi *o, json_t *v, const char *file, int *count)
{
    char msg[2048];
    size_t i;
    json_t *e;
    int bad = 0;
    if (json_is_array(v)) {
        json_array_foreach(v, i, e) bad |= check_value(o, e, file, count);
        return bad;
    }
    const char *kind = json_string_value(json_object_get(v, "kind"));
    if (kind && !strcmp(kind, "List"))
        return check_value(o, json_object_get(v, "items"), file, count);
    (*count)++;
    if (oapi_validate(o, v, msg, sizeof(msg))) {
        printf("%s: %s\n", file, msg);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = GPUAAS_OPENAPI_SRC_DIR;
    struct oapi *o = NULL;
    char msg[1024];
    int bad = 0, count = 0, i = 1;
    if (argc > 2 && !strcmp(argv[1], "--openapi")) {
        dir = argv[2];
        i = 3;
    }
    if (i >= argc) {
        fprintf(stderr, "usage: gpuaas-openapi-check [--openapi DIR] FILE.json...\n");
        return 2;
    }
    if (oapi_load_dir(dir, &o, msg, sizeof(msg))) {
        fprintf(stderr, "gpuaas-openapi-check: %s\n", msg);
        return 2;
    }
    for (; i < argc; i++) {
        json_error_t je;
        json_t *v = json_load_file(argv[i], 0, &je);
        if (!v) {
            printf("%s:%d: %s\n", argv[i], je.line, je.text);
            bad = 1;
            continue;
        }
        bad |= check_value(o, v, argv[i], &count);
        json_decref(v);
    }
    oapi_free(o);
    printf("%d objects checked, %s\n", count, bad ? "some invalid" : "all valid");
    return bad;
}
