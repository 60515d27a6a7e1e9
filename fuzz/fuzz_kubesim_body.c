/* Fuzzes what the API double parses from clients: YAML/JSON bodies, label selectors,
 * quantities, strict schema validation of the parsed body, and protobuf bodies (protobuf.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kubesim/protobuf.h"
#include "kubesim/quantity.h"
#include "kubesim/schema.h"
#include "kubesim/selector.h"
#include "common/yaml_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ksim_schema *schema(void)
{
    static struct ksim_schema *s;
    if (!s) {
        json_t *defs = json_loads(
            "{\"t.Obj\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"},"
            "\"b\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/definitions/t.Obj\"}},"
            "\"q\":{\"$ref\":\"#/definitions/io.k8s.apimachinery.pkg.api.resource.Quantity\"},"
            "\"m\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}}}},"
            "\"io.k8s.apimachinery.pkg.api.resource.Quantity\":{\"type\":\"string\"}}",
            0, NULL);
        s = ksim_schema_from_definitions(defs);
        json_decref(defs);
    }
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct error err = {0};
    char pbmsg[400];
    json_decref(ksim_pb_decode(data, size, pbmsg, sizeof(pbmsg)));
    json_t *v = NULL;
    if (yaml_to_json((const char *)data, size, "body", &v, &err) == 0) {
        ksim_schema_validate(schema(), "t.Obj", v, &err);
        json_decref(v);
    }
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    struct ksim_selector sel;
    if (ksim_selector_parse(s, &sel, &err) == 0) {
        json_t *labels = json_pack("{s:s}", "a", "b");
        ksim_selector_match(&sel, labels);
        json_decref(labels);
    }
    int64_t m;
    char buf[48];
    if (ksim_qty_parse(s, &m) == 0)
        ksim_qty_format(m, buf, sizeof(buf));
    free(s);
    return 0;
}
