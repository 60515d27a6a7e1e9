/* Aligned text tables: collect rows, measure, print. */
#include "cli/table.h"
#include "common/util.h"

#include "common/error.h"

#include <stdlib.h>
#include <string.h>

struct table {
    int ncols;
    size_t nrows, cap;
    char **cells; /* (nrows + 1) * ncols, row 0 = header */
};

static char *cell_dup(const char *s)
{
    if (!s || !*s)
        s = "-";
    size_t n = strnlen(s, TABLE_CELL_MAX - 1);
    char *d = malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (d[i] == '\n' || d[i] == '\t' || d[i] == '\r')
            d[i] = ' ';
    return d;
}

static int add(struct table *t, const char *const *cells)
{
    /* rows of ncols cells; one row more than needed, as before */
    if (array_grow(&t->cells, &t->cap, (size_t)t->nrows + 2, (size_t)t->ncols * sizeof(*t->cells),
                   8) < 0)
        return -ERR_NOMEM;
    size_t base = (t->nrows) * (size_t)t->ncols;
    for (int i = 0; i < t->ncols; i++) {
        t->cells[base + (size_t)i] = cell_dup(cells[i]);
        if (!t->cells[base + (size_t)i]) {
            for (int j = 0; j < i; j++)
                free(t->cells[base + (size_t)j]);
            return -ERR_NOMEM;
        }
    }
    t->nrows++;
    return 0;
}

struct table *table_new(int ncols, const char *const *headers)
{
    if (ncols < 1 || ncols > TABLE_MAX_COLS || !headers)
        return NULL;
    struct table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->ncols = ncols;
    if (add(t, headers) < 0) {
        table_free(t);
        return NULL;
    }
    return t;
}

void table_free(struct table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

int table_add_row(struct table *t, const char *const *cells)
{
    if (!t || !cells)
        return -ERR_INVALID;
    return add(t, cells);
}

void table_print(const struct table *t, FILE *out)
{
    if (!t)
        return;
    size_t width[TABLE_MAX_COLS] = {0};
    for (size_t r = 0; r < t->nrows; r++)
        for (int c = 0; c < t->ncols; c++) {
            size_t n = strlen(t->cells[r * (size_t)t->ncols + (size_t)c]);
            if (n > width[c])
                width[c] = n;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (int c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];
            if (c == t->ncols - 1)
                fprintf(out, "%s", s);
            else
                fprintf(out, "%-*s  ", (int)width[c], s);
        }
        fputc('\n', out);
    }
}
