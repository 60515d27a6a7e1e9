/* Small helpers every module may use: ARRAY_SIZE() and ARRAY_GROW(). */
#ifndef GPUAAS_COMMON_UTIL_H
#define GPUAAS_COMMON_UTIL_H

#include <stddef.h>

/* 0, or a compile error when a is a pointer rather than an array (GCC and Clang). */
#if defined(__GNUC__)
#define ARRAY_SIZE_CHECK_(a)                                                                       \
    (sizeof(char[1 - 2 * __builtin_types_compatible_p(__typeof__(a), __typeof__(&(a)[0]))]) - 1)
#else
#define ARRAY_SIZE_CHECK_(a) 0
#endif

/* The number of elements of an array; a constant expression. */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]) + ARRAY_SIZE_CHECK_(a))

/* Makes room for at least `need` elements of elem_size bytes in the array whose address
 * is ptr_addr (a T ** passed as void *; the array may be NULL) with capacity *cap elements:
 * the capacity doubles (at least to min_cap, at least to need) and the array is realloc'ed.
 * Returns 0, or -ERR_NOMEM when the allocation fails or its byte size would overflow; then
 * the array and *cap are left as they were (the caller still owns and frees the array). */
int array_grow(void *ptr_addr, size_t *cap, size_t need, size_t elem_size, size_t min_cap);

/* ARRAY_GROW(v, cap, need, min): array_grow() for an array pointer v and a size_t cap. */
#define ARRAY_GROW(v, cap, need, min) array_grow(&(v), &(cap), (need), sizeof(*(v)), (min))

#endif
