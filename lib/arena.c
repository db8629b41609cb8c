/*
 * arena.c - chunked bump allocator with destructors.
 *
 * Chunks are linked newest first.  A request that needs more than a chunk
 * gets a chunk of its own size, so large allocations do not waste the tail of
 * the current chunk.  Destructors are kept in a singly linked list, newest
 * first, which is exactly the order they run; their nodes are allocated
 * outside the budget so that registering a cleanup never fails for lack of
 * budget.
 */
#include "arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_SIZE 8192
#define ALIGN      (_Alignof(max_align_t))

typedef struct chunk {
    struct chunk *next;
    size_t size;
    size_t used;
    _Alignas(max_align_t) unsigned char data[];
} chunk;

typedef struct dtor_node {
    struct dtor_node *next;
    cl_arena_dtor fn;
    void *ptr;
} dtor_node;

struct cl_arena {
    chunk *chunks;
    dtor_node *dtors;
    size_t budget;
    size_t handed_out;
};

cl_arena *cl_arena_new(size_t budget)
{
    cl_arena *a = calloc(1, sizeof(*a));

    if (a != NULL)
        a->budget = budget;
    return a;
}

void cl_arena_free(cl_arena *a)
{
    if (a == NULL)
        return;
    for (dtor_node *d = a->dtors, *next; d != NULL; d = next) {
        next = d->next;
        d->fn(d->ptr);
        free(d);
    }
    for (chunk *c = a->chunks, *next; c != NULL; c = next) {
        next = c->next;
        free(c);
    }
    free(a);
}

void *cl_arena_alloc(cl_arena *a, size_t size)
{
    size_t need;
    chunk *c;

    if (size == 0)
        size = 1;
    if (size > SIZE_MAX - ALIGN)
        return NULL;
    need = (size + ALIGN - 1) & ~(ALIGN - 1);
    if (a->budget != 0 && need > a->budget - a->handed_out)
        return NULL;

    c = a->chunks;
    if (c == NULL || c->size - c->used < need) {
        size_t csize = need > CHUNK_SIZE ? need : CHUNK_SIZE;

        c = malloc(sizeof(*c) + csize);
        if (c == NULL)
            return NULL;
        c->size = csize;
        c->used = 0;
        if (need > CHUNK_SIZE && a->chunks != NULL) {
            /* keep filling the current chunk; put the big one behind it */
            c->next = a->chunks->next;
            a->chunks->next = c;
        } else {
            c->next = a->chunks;
            a->chunks = c;
        }
    }
    void *p = c->data + c->used;
    c->used += need;
    a->handed_out += need;
    memset(p, 0, size);
    return p;
}

void *cl_arena_memdup(cl_arena *a, const void *p, size_t n)
{
    void *q;

    if (p == NULL)
        return NULL;
    q = cl_arena_alloc(a, n);
    if (q != NULL && n > 0)
        memcpy(q, p, n);
    return q;
}

char *cl_arena_strndup(cl_arena *a, const char *s, size_t n)
{
    char *q;

    if (s == NULL)
        return NULL;
    n = strnlen(s, n);
    if (n == SIZE_MAX)
        return NULL;
    q = cl_arena_alloc(a, n + 1);
    if (q != NULL)
        memcpy(q, s, n);
    return q;
}

char *cl_arena_strdup(cl_arena *a, const char *s)
{
    return s == NULL ? NULL : cl_arena_strndup(a, s, strlen(s));
}

char *cl_arena_vprintf(cl_arena *a, const char *fmt, va_list ap)
{
    va_list copy;
    int n;
    char *s;

    va_copy(copy, ap);
    n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0)
        return NULL;
    s = cl_arena_alloc(a, (size_t)n + 1);
    if (s != NULL)
        vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

char *cl_arena_printf(cl_arena *a, const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    s = cl_arena_vprintf(a, fmt, ap);
    va_end(ap);
    return s;
}

void *cl_arena_defer(cl_arena *a, cl_arena_dtor dtor, void *ptr)
{
    dtor_node *d;

    if (ptr == NULL)
        return NULL;
    /* destructor nodes do not count against the budget: they must not fail
     * merely because a request used its memory */
    d = malloc(sizeof(*d));
    if (d == NULL) {
        dtor(ptr);
        return NULL;
    }
    d->fn = dtor;
    d->ptr = ptr;
    d->next = a->dtors;
    a->dtors = d;
    return ptr;
}

size_t cl_arena_used(const cl_arena *a)
{
    return a->handed_out;
}
