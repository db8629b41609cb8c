/*
 * arena.h - memory owned by one request or one job.
 *
 * An arena hands out memory from chunks and keeps a list of destructors
 * (PQclear, json_decref, X509_free, ...) registered on it.  cl_arena_free()
 * runs the destructors in reverse order of registration, then frees the
 * chunks.  Nothing is freed individually; handlers never free by hand.
 *
 * An arena has a byte budget: an allocation that would take it past the
 * budget fails (returns NULL) instead of growing without bound.
 *
 * An arena is not thread-safe: it belongs to one thread at a time.
 */
#ifndef CL_ARENA_H
#define CL_ARENA_H

#include <stdarg.h>
#include <stddef.h>

typedef struct cl_arena cl_arena;

typedef void (*cl_arena_dtor)(void *ptr);

/* A new arena that may hand out at most `budget` bytes (0: no budget). */
cl_arena *cl_arena_new(size_t budget);

/* Run the destructors, free every chunk and the arena.  NULL is a no-op. */
void cl_arena_free(cl_arena *a);

/* Zeroed memory, aligned for any type; NULL when out of memory or budget. */
void *cl_arena_alloc(cl_arena *a, size_t size);

/* Copies owned by the arena; NULL in, NULL out. */
char *cl_arena_strdup(cl_arena *a, const char *s);
char *cl_arena_strndup(cl_arena *a, const char *s, size_t n);
void *cl_arena_memdup(cl_arena *a, const void *p, size_t n);

/* A formatted string owned by the arena. */
char *cl_arena_printf(cl_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
char *cl_arena_vprintf(cl_arena *a, const char *fmt, va_list ap);

/*
 * Register dtor(ptr) to run when the arena is freed; returns ptr, or NULL
 * (after running dtor(ptr) at once) when the registration itself cannot be
 * allocated, so that callers can write
 *     res = cl_arena_defer(a, (cl_arena_dtor)PQclear, PQexecParams(...));
 * without leaking on failure.  A NULL ptr is not registered.
 */
void *cl_arena_defer(cl_arena *a, cl_arena_dtor dtor, void *ptr);

/* Bytes handed out so far (for tests and metrics). */
size_t cl_arena_used(const cl_arena *a);

#endif
