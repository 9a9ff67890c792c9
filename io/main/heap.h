/*
 * How many allocations the process has made, from jemalloc's statistics,
 * to show the packet path allocates nothing: read it before and after a
 * million requests (SIGUSR1 prints it as "stats heap_mallocs").
 */
#ifndef STUNRING_IO_HEAP_H
#define STUNRING_IO_HEAP_H

#include <stdbool.h>
#include <stdint.h>

/* Total malloc-family calls so far; false when jemalloc is not linked in. */
bool heap_mallocs(uint64_t *out);

#endif
