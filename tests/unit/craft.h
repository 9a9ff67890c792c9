/*
 * Hand-made messages for tests, written byte by byte so that they can be
 * wrong in ways the writer refuses to be (lying lengths, bad families).
 */
#ifndef STUNRING_TESTS_CRAFT_H
#define STUNRING_TESTS_CRAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/stun.h"

struct craft {
    uint8_t buf[2048];
    size_t len;
};

static inline void craft_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* A header of type; classic leaves the cookie out (a 128-bit id instead). */
static inline void craft_start(struct craft *c, uint16_t type, bool classic)
{
    static const uint8_t cookie_id[16] = {0x21, 0x12, 0xA4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
                                          0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};
    static const uint8_t classic_id[16] = {0x5a, 0x5a, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
                                           0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e};
    memset(c->buf, 0, sizeof(c->buf));
    craft_put16(c->buf, type);
    memcpy(c->buf + 4, classic ? classic_id : cookie_id, 16);
    c->len = STUN_HEADER_LEN;
}

static inline void craft_binding_request(struct craft *c, bool classic)
{
    craft_start(c, stun_type(STUN_METHOD_BINDING, STUN_CLASS_REQUEST), classic);
}

/* Appends a TLV with zero padding and keeps the header length in step. */
static inline void craft_attr(struct craft *c, uint16_t type, const void *value, uint16_t len)
{
    craft_put16(c->buf + c->len, type);
    craft_put16(c->buf + c->len + 2, len);
    if (len > 0)
        memcpy(c->buf + c->len + 4, value, len);
    c->len += 4 + ((len + 3u) & ~3u);
    craft_put16(c->buf + 2, (uint16_t)(c->len - STUN_HEADER_LEN));
}

/* Overwrites the header length field with any value. */
static inline void craft_set_length(struct craft *c, uint16_t body_len)
{
    craft_put16(c->buf + 2, body_len);
}

#endif
