/* Small macros every module may use. */
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

#endif
