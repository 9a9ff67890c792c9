#include "io/main/heap.h"

#include <stddef.h>

/* Weak: sanitizer builds run without jemalloc, and then this is NULL. */
extern int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen)
    __attribute__((weak));

static bool read_u64(const char *name, uint64_t *out)
{
    size_t len = sizeof(*out);
    return mallctl(name, out, &len, NULL, 0) == 0;
}

bool heap_mallocs(uint64_t *out)
{
    if (mallctl == NULL)
        return false;
    /* Statistics are a snapshot refreshed by writing "epoch". */
    uint64_t epoch = 1;
    size_t len = sizeof(epoch);
    if (mallctl("epoch", &epoch, &len, &epoch, len) != 0)
        return false;
    /* 4096 is MALLCTL_ARENAS_ALL: the sum over every arena. */
    uint64_t small, large;
    if (!read_u64("stats.arenas.4096.small.nmalloc", &small) ||
        !read_u64("stats.arenas.4096.large.nmalloc", &large))
        return false;
    *out = small + large;
    return true;
}
