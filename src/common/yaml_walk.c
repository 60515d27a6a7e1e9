/* libyaml document helpers shared by the YAML readers (see yaml_walk.h). */
#include "common/yaml_walk.h"

#include "common/error.h"

#include <string.h>

int yw_load(const char *text, size_t len, yaml_document_t *ret, struct yw_problem *ret_problem)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return -ERR_NOMEM;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int ok = yaml_parser_load(&parser, ret);
    if (!ok && ret_problem) {
        ret_problem->line = parser.problem_mark.line + 1;
        ret_problem->reason = parser.problem;
    }
    yaml_parser_delete(&parser);
    return ok ? 0 : -ERR_INVALID;
}

const char *yw_scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

yaml_node_t *yw_get(yaml_document_t *doc, const yaml_node_t *m, const char *key)
{
    if (!yw_is_map(m))
        return NULL;
    YW_FOR_PAIRS(p, m)
    {
        const char *k = yw_scalar(yw_key(doc, p));
        if (k && !strcmp(k, key))
            return yw_value(doc, p);
    }
    return NULL;
}
