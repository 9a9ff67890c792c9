/*
 * Hostile input: every input sits flush against an unreadable page, so a
 * read past its end faults. Each gets the right verdict, never a crash.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "core/attr.h"
#include "core/integrity.h"
#include "tests/support/guard.h"
#include "tests/unit/craft.h"
#include "tests/unit/vectors.h"

struct sample {
    const uint8_t *bytes;
    size_t len;
};

static const struct sample samples[] = {
    {rfc5769_request, sizeof(rfc5769_request)},
    {rfc5769_response_v4, sizeof(rfc5769_response_v4)},
    {rfc5769_response_v6, sizeof(rfc5769_response_v6)},
    {rfc5769_request_lt, sizeof(rfc5769_request_lt)},
    {rfc8489_b1_request, sizeof(rfc8489_b1_request)},
};
enum { N_SAMPLES = sizeof(samples) / sizeof(samples[0]) };

static struct guard guard;

static void setup(void) { guard_init(&guard, STUN_MAX_MESSAGE + 64); }
static void teardown(void) { guard_fini(&guard); }

TestSuite(hostile, .init = setup, .fini = teardown);

/* Whatever the verdict, a usable view points only inside the message. */
static void assert_view_in_bounds(const struct stun_msg *m)
{
    for (int id = 0; id < STUN_A_COUNT; id++) {
        if (!stun_msg_has(m, (enum stun_attr_id)id))
            continue;
        cr_assert_geq(m->at[id].off, STUN_HEADER_LEN + STUN_ATTR_HEADER_LEN);
        cr_assert_leq(m->at[id].off + m->at[id].len, m->len);
    }
}

/* Parses at the guard page and exercises everything that reads the view. */
static enum stun_status parse_guarded(struct stun_msg *m, const void *bytes, size_t len)
{
    static const struct crypto_hmac_key *key;
    static struct crypto_hmac_key k1;
    if (key == NULL) {
        crypto_hmac_key_init(&k1, CRYPTO_HMAC_SHA1, "k", 1);
        key = &k1;
    }
    const uint8_t *at = guard_place(&guard, bytes, len);
    enum stun_status s = stun_msg_parse(m, at, len);
    if (s == STUN_OK || s == STUN_REJECT_UNKNOWN_ATTR) {
        struct stun_addr a;
        assert_view_in_bounds(m);
        stun_msg_check_fingerprint(m);
        stun_msg_verify_integrity(m, key);
        for (int id = 0; id < STUN_A_COUNT; id++)
            stun_msg_get_addr(m, (enum stun_attr_id)id, &a);
    }
    return s;
}

Test(hostile, every_prefix_of_every_sample)
{
    struct stun_msg m;
    for (size_t i = 0; i < N_SAMPLES; i++) {
        for (size_t len = 0; len < samples[i].len; len++) {
            enum stun_status want = len < STUN_HEADER_LEN ? STUN_DROP_SHORT : STUN_DROP_LENGTH;
            cr_assert_eq(parse_guarded(&m, samples[i].bytes, len), want, "sample %zu len %zu", i,
                         len);
        }
        enum stun_status full = parse_guarded(&m, samples[i].bytes, samples[i].len);
        cr_assert(full == STUN_OK || full == STUN_REJECT_UNKNOWN_ATTR);
    }
}

Test(hostile, header_length_lies)
{
    struct stun_msg m;
    uint8_t copy[256];
    for (size_t i = 0; i < N_SAMPLES; i++) {
        size_t len = samples[i].len;
        memcpy(copy, samples[i].bytes, len);
        for (uint32_t lie = 0; lie <= 0xFFFF; lie++) {
            if (lie == len - STUN_HEADER_LEN)
                continue;
            craft_put16(copy + 2, (uint16_t)lie);
            cr_assert_eq(parse_guarded(&m, copy, len), STUN_DROP_LENGTH);
        }
    }
}

Test(hostile, attribute_length_lies)
{
    /* Every value of the first attribute's length field, in every sample. */
    struct stun_msg m;
    uint8_t copy[256];
    for (size_t i = 0; i < N_SAMPLES; i++) {
        size_t len = samples[i].len;
        memcpy(copy, samples[i].bytes, len);
        for (uint32_t lie = 0; lie <= 0xFFFF; lie++) {
            craft_put16(copy + 22, (uint16_t)lie);
            enum stun_status s = parse_guarded(&m, copy, len);
            if (lie > len - 24)
                cr_assert_eq(s, STUN_REJECT_ATTR_OVERRUN, "sample %zu lie %u", i, lie);
            else
                cr_assert_neq(s, STUN_DROP_LENGTH);
        }
    }
}

Test(hostile, every_family_byte_of_every_address_type)
{
    static const uint16_t types[] = {
        STUN_ATTR_MAPPED_ADDRESS,   STUN_ATTR_RESPONSE_ADDRESS, STUN_ATTR_SOURCE_ADDRESS,
        STUN_ATTR_CHANGED_ADDRESS,  STUN_ATTR_REFLECTED_FROM,   STUN_ATTR_XOR_MAPPED_ADDRESS,
        STUN_ATTR_ALTERNATE_SERVER, STUN_ATTR_RESPONSE_ORIGIN,  STUN_ATTR_OTHER_ADDRESS};
    struct craft c;
    struct stun_msg m;
    uint8_t value[20] = {0};
    for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
        for (int family = 0; family < 256; family++) {
            for (uint16_t len = 8; len <= 20; len += 12) {
                value[1] = (uint8_t)family;
                craft_binding_request(&c, false);
                craft_attr(&c, types[t], value, len);
                bool ok = (family == 1 && len == 8) || (family == 2 && len == 20);
                cr_assert_eq(parse_guarded(&m, c.buf, c.len),
                             ok ? STUN_OK : STUN_REJECT_ATTR_INVALID);
            }
        }
    }
}

Test(hostile, zero_bytes)
{
    static const uint8_t zeros[256];
    struct stun_msg m;
    for (size_t len = 0; len < sizeof(zeros); len++) {
        enum stun_status s = parse_guarded(&m, zeros, len);
        if (len < STUN_HEADER_LEN)
            cr_assert_eq(s, STUN_DROP_SHORT);
        else if (len == STUN_HEADER_LEN)
            cr_assert_eq(s, STUN_OK, "a classic header of method 0: the handler's to refuse");
        else
            cr_assert_eq(s, STUN_DROP_LENGTH);
    }
    /* A correct length over zeroed attributes: type 0 is unknown and required. */
    uint8_t msg[64] = {0};
    craft_put16(msg + 2, 44);
    cr_assert_eq(parse_guarded(&m, msg, 64), STUN_REJECT_UNKNOWN_ATTR);
}

/* xorshift64: a fixed seed, so a failure is reproducible. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

Test(hostile, random_bytes)
{
    struct stun_msg m;
    uint8_t buf[600];
    uint64_t state = 0x9E3779B97F4A7C15u;
    int counts[STUN_STATUS_COUNT] = {0};
    for (int round = 0; round < 200000; round++) {
        size_t len = next_random(&state) % sizeof(buf);
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)next_random(&state);
        if (round % 2 == 1 && len >= STUN_HEADER_LEN) {
            /* Half get a plausible header so the attribute walk runs. */
            len &= ~(size_t)3;
            buf[0] &= 0x3F;
            craft_put16(buf + 2, (uint16_t)(len - STUN_HEADER_LEN));
            if (round % 4 == 1)
                memcpy(buf + 4, "\x21\x12\xA4\x42", 4);
        }
        enum stun_status s = parse_guarded(&m, buf, len);
        cr_assert_lt(s, STUN_STATUS_COUNT);
        counts[s]++;
    }
    /* The generator must actually reach the interesting verdicts. */
    cr_assert_gt(counts[STUN_DROP_NOT_STUN], 0);
    cr_assert_gt(counts[STUN_REJECT_ATTR_OVERRUN], 0);
    cr_assert_gt(counts[STUN_REJECT_UNKNOWN_ATTR] + counts[STUN_OK], 0);
}

Test(hostile, sixty_four_kib)
{
    static uint8_t big[STUN_MAX_MESSAGE + 1];
    struct stun_msg m;
    memset(big, 0, sizeof(big));
    craft_put16(big, 0x0001);
    /* 65536 bytes cannot carry a matching 16-bit length. */
    craft_put16(big + 2, 0xFFFF);
    cr_assert_eq(parse_guarded(&m, big, 65536), STUN_DROP_LENGTH);
    /* The largest legal message: one PADDING attribute of 65528 bytes. */
    craft_put16(big + 2, 65532);
    craft_put16(big + 20, STUN_ATTR_PADDING);
    craft_put16(big + 22, 65528);
    cr_assert_eq(parse_guarded(&m, big, 20 + 65532), STUN_OK);
    cr_assert_eq(m.at[STUN_A_PADDING].len, 65528);
    /* The same with one byte more claimed by the attribute. */
    craft_put16(big + 22, 65529);
    cr_assert_eq(parse_guarded(&m, big, 20 + 65532), STUN_REJECT_ATTR_OVERRUN);
    /* A 16-bit length of 65535 is never a multiple of 4. */
    cr_assert_eq(parse_guarded(&m, big, sizeof(big)), STUN_DROP_LENGTH);
}
