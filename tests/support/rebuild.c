#include "tests/support/rebuild.h"

#include <string.h>

#include "core/attr.h"
#include "core/wire.h"
#include "core/writer.h"

/* Copies an attribute as it stands, padding bytes included. */
static void copy_raw(struct stun_writer *w, const struct stun_msg *m,
                     const struct stun_attr_view *a)
{
    uint32_t at = w->len;
    stun_write_bytes(w, a->type, m->buf + a->off, a->len);
    uint32_t pad = wire_pad4(a->len) - a->len;
    if (!w->failed && pad > 0)
        memcpy(w->buf + at + 4 + a->len, m->buf + a->off + a->len, pad);
}

static void rewrite_one(struct stun_writer *w, const struct stun_msg *m,
                        const struct stun_attr_view *a, const struct crypto_hmac_key *sha1,
                        const struct crypto_hmac_key *sha256)
{
    enum stun_attr_id id = stun_attr_id_of(a->type);
    if (!stun_attr_is_counted(m, a, id)) {
        copy_raw(w, m, a);
        return;
    }
    struct stun_addr addr;
    if (stun_attr_is_address(id) && stun_msg_get_addr(m, id, &addr)) {
        if (id == STUN_A_XOR_MAPPED_ADDRESS)
            stun_write_xor_addr(w, a->type, &addr);
        else
            stun_write_addr(w, a->type, &addr);
    } else if (id == STUN_A_MESSAGE_INTEGRITY && sha1 != NULL) {
        stun_write_integrity(w, sha1);
    } else if (id == STUN_A_MESSAGE_INTEGRITY_SHA256 && sha256 != NULL) {
        stun_write_integrity_sha256(w, sha256);
    } else if (id == STUN_A_FINGERPRINT) {
        stun_write_fingerprint(w);
    } else {
        copy_raw(w, m, a);
    }
}

size_t rebuild(const struct stun_msg *m, uint8_t *out, size_t cap,
               const struct crypto_hmac_key *sha1, const struct crypto_hmac_key *sha256)
{
    struct stun_writer w;
    stun_writer_start(&w, out, cap, m->type, stun_msg_id16(m));
    struct stun_attr_iter it;
    struct stun_attr_view a;
    stun_attr_iter_init(&it, m);
    while (stun_attr_iter_next(&it, &a))
        rewrite_one(&w, m, &a, sha1, sha256);
    return stun_writer_finish(&w);
}

static bool compared_by_value(enum stun_attr_id id)
{
    return id != STUN_A_MESSAGE_INTEGRITY && id != STUN_A_MESSAGE_INTEGRITY_SHA256 &&
           id != STUN_A_FINGERPRINT;
}

static const char *same_attribute(const struct stun_msg *a, const struct stun_msg *b,
                                  enum stun_attr_id id)
{
    struct stun_addr x, y;
    if (stun_attr_is_address(id)) {
        if (!stun_msg_get_addr(a, id, &x) || !stun_msg_get_addr(b, id, &y))
            return "address did not decode";
        return stun_addr_equal(&x, &y) ? NULL : "address differs";
    }
    if (!compared_by_value(id))
        return NULL;
    uint16_t la = 0, lb = 0;
    const uint8_t *va = stun_msg_attr(a, id, &la), *vb = stun_msg_attr(b, id, &lb);
    if (va == NULL || vb == NULL || la != lb || memcmp(va, vb, la) != 0)
        return "attribute value differs";
    return NULL;
}

const char *same_meaning(const struct stun_msg *a, const struct stun_msg *b)
{
    if (a->type != b->type || a->classic != b->classic)
        return "header differs";
    if (memcmp(stun_msg_id16(a), stun_msg_id16(b), 16) != 0)
        return "transaction id differs";
    if (a->present != b->present)
        return "set of counted attributes differs";
    if (a->n_unknown != b->n_unknown ||
        memcmp(a->unknown, b->unknown, a->n_unknown * sizeof(a->unknown[0])) != 0)
        return "unknown attributes differ";
    for (int id = 0; id < STUN_A_COUNT; id++) {
        if (!stun_msg_has(a, (enum stun_attr_id)id))
            continue;
        const char *why = same_attribute(a, b, (enum stun_attr_id)id);
        if (why != NULL)
            return why;
    }
    return NULL;
}
