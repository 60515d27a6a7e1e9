/* Aligned text tables for human-readable CLI output. */
#ifndef GPUAAS_CLI_TABLE_H
#define GPUAAS_CLI_TABLE_H

#include <stdio.h>

#define TABLE_MAX_COLS 12
#define TABLE_CELL_MAX 128

/* A table owns copies of its cells (heap). Create with table_new, free with table_free. */
struct table;

/* ncols 1..TABLE_MAX_COLS header names (copied). NULL on bad arguments or no memory. */
struct table *table_new(int ncols, const char *const *headers);
void table_free(struct table *t);
/* Adds a row of ncols cells (NULL prints as "-"); cells longer than TABLE_CELL_MAX-1 bytes are
 * cut. 0 or -ERR_NOMEM. */
int table_add_row(struct table *t, const char *const *cells);
/* Prints header and rows, columns padded to their widest cell and separated by two
 * spaces, trailing spaces trimmed. */
void table_print(const struct table *t, FILE *out);

#endif
