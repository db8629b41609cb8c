/*
 * le.h - little-endian fields, as every SGX structure stores them.
 */
#ifndef CL_SGX_LE_H
#define CL_SGX_LE_H

#include <stdint.h>

static inline void cl_le_put(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t cl_le_get(const uint8_t *p, int bytes)
{
    uint64_t v = 0;

    for (int i = bytes - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

#endif
