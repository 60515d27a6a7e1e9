/* The array growth helper (see util.h). */
#include "common/util.h"

#include "common/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int array_grow(void *ptr_addr, size_t *cap, size_t need, size_t elem_size, size_t min_cap)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap > SIZE_MAX / 2 ? need : *cap * 2;
    if (n < need)
        n = need;
    if (n < min_cap)
        n = min_cap;
    if (elem_size && n > SIZE_MAX / elem_size)
        return -ERR_NOMEM;
    void *old;
    memcpy(&old, ptr_addr, sizeof(old));
    size_t bytes = n * elem_size;
    void *nv = realloc(old, bytes > 0 ? bytes : 1); /* never realloc(p, 0) */
    if (!nv)
        return -ERR_NOMEM;
    memcpy(ptr_addr, &nv, sizeof(nv));
    *cap = n;
    // cppcheck-suppress memleak ; the caller owns nv now, through ptr_addr
    return 0;
}
