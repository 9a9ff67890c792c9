/* Hex strings to bytes, for expected values written as in the RFCs. */
#ifndef STUNRING_TESTS_HEX_H
#define STUNRING_TESTS_HEX_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* Decodes the hex digits of s (spaces skipped) into out; returns bytes written. */
static inline size_t hex_decode(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    char pair[3] = {0};
    int have = 0;
    for (; *s != '\0' && n < cap; s++) {
        if (*s == ' ')
            continue;
        pair[have++] = *s;
        if (have == 2) {
            out[n++] = (uint8_t)strtoul(pair, NULL, 16);
            have = 0;
        }
    }
    return n;
}

#endif
