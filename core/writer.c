/* Bounds-checked message writer. */
#include "core/writer.h"

#include <string.h>

#include "core/integrity.h"
#include "core/status.h"
#include "core/wire.h"

void stun_writer_start(struct stun_writer *w, uint8_t *buf, size_t cap, uint16_t type,
                       const uint8_t id16[16])
{
    w->buf = buf;
    w->cap = cap > STUN_MAX_MESSAGE ? STUN_MAX_MESSAGE : (uint32_t)cap;
    w->len = 0;
    w->classic = wire_get32(id16) != STUN_MAGIC_COOKIE;
    w->failed = cap < STUN_HEADER_LEN;
    if (w->failed)
        return;
    wire_put16(buf, type);
    wire_put16(buf + 2, 0);
    memcpy(buf + 4, id16, 16);
    w->len = STUN_HEADER_LEN;
}

/*
 * Appends an attribute header for a value of len bytes and its zero
 * padding; returns where the value goes, or NULL after failing the writer.
 */
static uint8_t *reserve(struct stun_writer *w, uint16_t type, size_t len)
{
    if (w->failed)
        return NULL;
    uint32_t room = w->cap - w->len;
    if (len > UINT16_MAX || STUN_ATTR_HEADER_LEN + wire_pad4((uint32_t)len) > room) {
        w->failed = true;
        return NULL;
    }
    uint8_t *attr = w->buf + w->len;
    uint32_t padded = wire_pad4((uint32_t)len);
    wire_put16(attr, type);
    wire_put16(attr + 2, (uint16_t)len);
    if (padded != len)
        memset(attr + STUN_ATTR_HEADER_LEN + padded - 4, 0, 4);
    w->len += STUN_ATTR_HEADER_LEN + padded;
    wire_put16(w->buf + 2, (uint16_t)(w->len - STUN_HEADER_LEN));
    return attr + STUN_ATTR_HEADER_LEN;
}

static void put_addr(struct stun_writer *w, uint16_t type, const struct stun_addr *a, bool xor)
{
    size_t ip_len = stun_addr_ip_len(a);
    uint8_t *v = reserve(w, type, 4 + ip_len);
    if (v == NULL)
        return;
    v[0] = 0;
    v[1] = a->family == STUN_FAMILY_IPV6 ? STUN_FAMILY_IPV6 : STUN_FAMILY_IPV4;
    if (!xor) {
        wire_put16(v + 2, a->port);
        memcpy(v + 4, a->ip, ip_len);
        return;
    }
    /* RFC 8489 §14.2: port ^ cookie >> 16; address ^ (cookie || id), and
     * bytes 4..19 of the header hold cookie || id. */
    const uint8_t *mask = w->buf + 4;
    wire_put16(v + 2, a->port ^ (uint16_t)(STUN_MAGIC_COOKIE >> 16));
    wire_put32(v + 4, wire_get32(a->ip) ^ STUN_MAGIC_COOKIE);
    for (size_t i = 4; i < ip_len; i += 4)
        wire_put32(v + 4 + i, wire_get32(a->ip + i) ^ wire_get32(mask + i));
}

void stun_write_addr(struct stun_writer *w, uint16_t type, const struct stun_addr *a)
{
    put_addr(w, type, a, false);
}

void stun_write_xor_addr(struct stun_writer *w, uint16_t type, const struct stun_addr *a)
{
    put_addr(w, type, a, true);
}

void stun_write_u32(struct stun_writer *w, uint16_t type, uint32_t value)
{
    uint8_t *v = reserve(w, type, 4);
    if (v != NULL)
        wire_put32(v, value);
}

void stun_write_bytes(struct stun_writer *w, uint16_t type, const void *value, size_t len)
{
    uint8_t *v = reserve(w, type, len);
    if (v != NULL && len > 0)
        memcpy(v, value, len);
}

void stun_write_zeros(struct stun_writer *w, uint16_t type, size_t len)
{
    uint8_t *v = reserve(w, type, len);
    if (v != NULL && len > 0)
        memset(v, 0, len);
}

/* Writes prefix (0 or 4 bytes) then text; classic pads text with spaces. */
static void put_text(struct stun_writer *w, uint16_t type, const uint8_t *prefix, size_t prefix_len,
                     const char *text, size_t len)
{
    size_t total = prefix_len + len;
    size_t counted = w->classic ? wire_pad4((uint32_t)total) : total;
    uint8_t *v = reserve(w, type, counted);
    if (v == NULL)
        return;
    if (prefix_len > 0)
        memcpy(v, prefix, prefix_len);
    if (len > 0)
        memcpy(v + prefix_len, text, len);
    memset(v + total, ' ', counted - total);
}

void stun_write_text(struct stun_writer *w, uint16_t type, const char *text, size_t len)
{
    put_text(w, type, NULL, 0, text, len);
}

void stun_write_error(struct stun_writer *w, int code, const char *reason)
{
    if (code < 300 || code > 699) {
        w->failed = true; /* RFC 8489 §14.8: class 3..6 */
        return;
    }
    if (reason == NULL)
        reason = stun_error_reason(code);
    const uint8_t head[4] = {0, 0, (uint8_t)(code / 100), (uint8_t)(code % 100)};
    put_text(w, STUN_ATTR_ERROR_CODE, head, sizeof(head), reason, strlen(reason));
}

void stun_write_unknown(struct stun_writer *w, const uint16_t *types, size_t n)
{
    /* RFC 3489 §11.2.10: an odd count repeats an entry to fill 4 bytes. */
    size_t entries = w->classic && n % 2 == 1 ? n + 1 : n;
    if (n == 0) {
        w->failed = true;
        return;
    }
    uint8_t *v = reserve(w, STUN_ATTR_UNKNOWN_ATTRIBUTES, 2 * entries);
    if (v == NULL)
        return;
    for (size_t i = 0; i < entries; i++)
        wire_put16(v + 2 * i, types[i < n ? i : 0]);
}

static void put_integrity(struct stun_writer *w, uint16_t type, const struct crypto_hmac_key *key,
                          enum crypto_hmac_alg alg)
{
    if (key->alg != alg) {
        w->failed = true;
        return;
    }
    uint32_t attr_off = w->len;
    uint16_t mac_len = (uint16_t)crypto_hmac_len(key);
    uint8_t *v = reserve(w, type, mac_len);
    if (v == NULL)
        return;
    bool classic = w->classic && alg == CRYPTO_HMAC_SHA1;
    stun_integrity_compute(w->buf, attr_off, mac_len, key, classic, v);
}

void stun_write_integrity(struct stun_writer *w, const struct crypto_hmac_key *key)
{
    put_integrity(w, STUN_ATTR_MESSAGE_INTEGRITY, key, CRYPTO_HMAC_SHA1);
}

void stun_write_integrity_sha256(struct stun_writer *w, const struct crypto_hmac_key *key)
{
    put_integrity(w, STUN_ATTR_MESSAGE_INTEGRITY_SHA256, key, CRYPTO_HMAC_SHA256);
}

void stun_write_fingerprint(struct stun_writer *w)
{
    uint32_t attr_off = w->len;
    uint8_t *v = reserve(w, STUN_ATTR_FINGERPRINT, 4);
    if (v != NULL)
        wire_put32(v, stun_fingerprint_compute(w->buf, attr_off));
}
