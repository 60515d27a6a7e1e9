/* Walking a libyaml document: loading text into one, reading scalars, looking keys up and
 * iterating mappings and sequences. Shared by the configuration, kubeconfig and MIG layout
 * readers; each keeps its own error sentences. Pure, in memory.
 *
 * Nodes belong to their yaml_document_t: every pointer returned here is valid until
 * yaml_document_delete(). */
#ifndef GPUAAS_COMMON_YAML_WALK_H
#define GPUAAS_COMMON_YAML_WALK_H

#include <stddef.h>
#include <yaml.h>

/* Where and why yw_load() refused a text. */
struct yw_problem {
    size_t line;        /* 1-based line of the problem, 0 when unknown */
    const char *reason; /* libyaml's description (static), NULL when it gave none */
};

/* Parses the first document of text[0..len) into *ret (the caller yaml_document_delete()s
 * it). Returns 0; -ERR_INVALID with *ret_problem filled (NULL allowed) and nothing to
 * delete, for any parse failure; or -ERR_NOMEM when no parser could be made. */
int yw_load(const char *text, size_t len, yaml_document_t *ret, struct yw_problem *ret_problem);

/* The text of a scalar node; NULL for NULL or any other kind of node. */
const char *yw_scalar(const yaml_node_t *n);

/* In mapping m, the value of the first pair whose key is the scalar `key`; NULL when m is
 * NULL, not a mapping, or has no such key. */
yaml_node_t *yw_get(yaml_document_t *doc, const yaml_node_t *m, const char *key);

/* True when n is a mapping / a sequence (false for NULL). */
static inline int yw_is_map(const yaml_node_t *n)
{
    return n && n->type == YAML_MAPPING_NODE;
}
static inline int yw_is_seq(const yaml_node_t *n)
{
    return n && n->type == YAML_SEQUENCE_NODE;
}

/* for (yaml_node_pair_t *p ...) over the pairs of mapping node m (which must be a mapping);
 * yw_key()/yw_value() give each pair's nodes. */
#define YW_FOR_PAIRS(p, m)                                                                         \
    for (yaml_node_pair_t *p = (m)->data.mapping.pairs.start; p < (m)->data.mapping.pairs.top; p++)
#define yw_key(doc, p) yaml_document_get_node((doc), (p)->key)
#define yw_value(doc, p) yaml_document_get_node((doc), (p)->value)

/* for (yaml_node_item_t *it ...) over the items of sequence node s (which must be a
 * sequence); yw_item() gives each item's node. */
#define YW_FOR_ITEMS(it, s)                                                                        \
    for (yaml_node_item_t *it = (s)->data.sequence.items.start; it < (s)->data.sequence.items.top; \
         it++)
#define yw_item(doc, it) yaml_document_get_node((doc), *(it))

#endif
