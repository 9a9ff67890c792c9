/*
 * Inputs placed flush against an unreadable page, so a parser that reads
 * one byte past the end faults at once (as picohttpparser's tests do).
 */
#ifndef STUNRING_TESTS_GUARD_H
#define STUNRING_TESTS_GUARD_H

#include <stddef.h>
#include <stdint.h>

struct guard {
    uint8_t *map;  /* readable pages followed by one PROT_NONE page */
    size_t usable; /* bytes of readable space */
    size_t map_len;
};

/* Maps room for inputs up to max_len bytes; aborts the test on failure. */
void guard_init(struct guard *g, size_t max_len);
void guard_fini(struct guard *g);

/* Copies len bytes so that the last one sits just before the guard page. */
const uint8_t *guard_place(struct guard *g, const void *data, size_t len);

#endif
