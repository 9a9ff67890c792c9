/* The attribute walk: validation, unknown attributes, ordering rules, getters. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "core/attr.h"
#include "core/msg.h"
#include "tests/unit/craft.h"

struct value_case {
    uint16_t type;
    uint16_t len;
    uint8_t fill[4]; /* first bytes of the value; the rest is zero */
    enum stun_status expect;
};

// clang-format off
#define V4 {0, STUN_FAMILY_IPV4}
#define V6 {0, STUN_FAMILY_IPV6}
// clang-format on

static struct value_case value_cases[] = {
    {STUN_ATTR_MAPPED_ADDRESS, 8, V4, STUN_OK},
    {STUN_ATTR_MAPPED_ADDRESS, 20, V6, STUN_OK},
    {STUN_ATTR_MAPPED_ADDRESS, 8, V6, STUN_REJECT_ATTR_INVALID},
    {STUN_ATTR_MAPPED_ADDRESS, 20, V4, STUN_REJECT_ATTR_INVALID},
    {STUN_ATTR_MAPPED_ADDRESS, 8, {0, 3}, STUN_REJECT_ATTR_INVALID},
    {STUN_ATTR_MAPPED_ADDRESS, 8, {0, 0}, STUN_REJECT_ATTR_INVALID},
    {STUN_ATTR_MAPPED_ADDRESS, 4, V4, STUN_REJECT_ATTR_INVALID},
    {STUN_ATTR_MAPPED_ADDRESS, 12, V4, STUN_REJECT_ATTR_INVALID},
    {STUN_ATTR_XOR_MAPPED_ADDRESS, 20, V6, STUN_OK},
    {STUN_ATTR_XOR_MAPPED_ADDRESS, 16, V6, STUN_REJECT_ATTR_INVALID},
    {STUN_ATTR_RESPONSE_ADDRESS, 8, V4, STUN_OK},
    {STUN_ATTR_RESPONSE_ADDRESS, 7, V4, STUN_REJECT_ATTR_INVALID},
    {STUN_ATTR_SOURCE_ADDRESS, 8, {0, 2}, STUN_REJECT_ATTR_INVALID},
    {STUN_ATTR_CHANGED_ADDRESS, 0, {0}, STUN_REJECT_ATTR_INVALID},
    {STUN_ATTR_REFLECTED_FROM, 20, V6, STUN_OK},
    {STUN_ATTR_ALTERNATE_SERVER, 8, {0, 9}, STUN_REJECT_ATTR_INVALID},
    {STUN_ATTR_RESPONSE_ORIGIN, 8, V4, STUN_OK},
    {STUN_ATTR_OTHER_ADDRESS, 21, V6, STUN_REJECT_ATTR_INVALID},
    {STUN_ATTR_CHANGE_REQUEST, 4, {0, 0, 0, 6}, STUN_OK},
    {STUN_ATTR_CHANGE_REQUEST, 2, {0}, STUN_REJECT_ATTR_INVALID},
    {STUN_ATTR_CHANGE_REQUEST, 8, {0}, STUN_REJECT_ATTR_INVALID},
    {STUN_ATTR_RESPONSE_PORT, 4, {0x12, 0x34}, STUN_OK},
    {STUN_ATTR_RESPONSE_PORT, 2, {0x12, 0x34}, STUN_REJECT_ATTR_INVALID},
    {STUN_ATTR_MESSAGE_INTEGRITY, 20, {0}, STUN_OK},
    {STUN_ATTR_MESSAGE_INTEGRITY, 16, {0}, STUN_REJECT_ATTR_INVALID},
    {STUN_ATTR_MESSAGE_INTEGRITY_SHA256, 16, {0}, STUN_OK},
    {STUN_ATTR_MESSAGE_INTEGRITY_SHA256, 32, {0}, STUN_OK},
    {STUN_ATTR_MESSAGE_INTEGRITY_SHA256, 12, {0}, STUN_REJECT_ATTR_INVALID},
    {STUN_ATTR_MESSAGE_INTEGRITY_SHA256, 18, {0}, STUN_REJECT_ATTR_INVALID},
    {STUN_ATTR_MESSAGE_INTEGRITY_SHA256, 36, {0}, STUN_REJECT_ATTR_INVALID},
    {STUN_ATTR_FINGERPRINT, 8, {0}, STUN_REJECT_ATTR_INVALID},
    {STUN_ATTR_USERHASH, 32, {0}, STUN_OK},
    {STUN_ATTR_USERHASH, 31, {0}, STUN_REJECT_ATTR_INVALID},
    {STUN_ATTR_USERNAME, 512, {'u'}, STUN_OK},
    {STUN_ATTR_USERNAME, 513, {'u'}, STUN_REJECT_ATTR_INVALID},
    {STUN_ATTR_REALM, 763, {'r'}, STUN_OK},
    {STUN_ATTR_REALM, 764, {'r'}, STUN_REJECT_ATTR_INVALID},
    {STUN_ATTR_NONCE, 764, {'n'}, STUN_REJECT_ATTR_INVALID},
    {STUN_ATTR_SOFTWARE, 764, {'s'}, STUN_REJECT_ATTR_INVALID},
    {STUN_ATTR_ALTERNATE_DOMAIN, 256, {'d'}, STUN_REJECT_ATTR_INVALID},
    {STUN_ATTR_ERROR_CODE, 4, {0, 0, 4, 20}, STUN_OK},
    {STUN_ATTR_ERROR_CODE, 3, {0, 0, 4}, STUN_REJECT_ATTR_INVALID},
    {STUN_ATTR_ERROR_CODE, 4, {0, 0, 2, 0}, STUN_REJECT_ATTR_INVALID},
    {STUN_ATTR_ERROR_CODE, 4, {0, 0, 7, 0}, STUN_REJECT_ATTR_INVALID},
    {STUN_ATTR_ERROR_CODE, 4, {0, 0, 4, 100}, STUN_REJECT_ATTR_INVALID},
    {STUN_ATTR_UNKNOWN_ATTRIBUTES, 2, {0}, STUN_OK},
    {STUN_ATTR_UNKNOWN_ATTRIBUTES, 3, {0}, STUN_REJECT_ATTR_INVALID},
    {STUN_ATTR_PASSWORD_ALGORITHM, 4, {0, 1, 0, 0}, STUN_OK},
    {STUN_ATTR_PASSWORD_ALGORITHM, 2, {0, 1}, STUN_REJECT_ATTR_INVALID},
    {STUN_ATTR_PASSWORD_ALGORITHM, 4, {0, 1, 0, 1}, STUN_REJECT_ATTR_INVALID},
    {STUN_ATTR_PASSWORD_ALGORITHM, 8, {0, 1, 0, 0}, STUN_REJECT_ATTR_INVALID}, /* two entries */
    {STUN_ATTR_PASSWORD_ALGORITHMS, 8, {0, 1, 0, 0}, STUN_OK},
    {STUN_ATTR_PASSWORD_ALGORITHMS, 0, {0}, STUN_REJECT_ATTR_INVALID},
    {STUN_ATTR_PASSWORD_ALGORITHMS, 6, {0, 1, 0, 0}, STUN_REJECT_ATTR_INVALID},
    {STUN_ATTR_PADDING, 13, {0}, STUN_OK},
    {STUN_ATTR_PASSWORD, 5, {'p'}, STUN_OK},
};

ParameterizedTestParameters(attrs, value_validation)
{
    return cr_make_param_array(struct value_case, value_cases,
                               sizeof(value_cases) / sizeof(value_cases[0]));
}

ParameterizedTest(struct value_case *vc, attrs, value_validation)
{
    struct craft c;
    struct stun_msg m;
    uint8_t value[1024] = {0};
    memcpy(value, vc->fill, sizeof(vc->fill));
    craft_binding_request(&c, false);
    craft_attr(&c, vc->type, value, vc->len);
    enum stun_status got = stun_msg_parse(&m, c.buf, c.len);
    cr_assert_eq(got, vc->expect, "type 0x%04x len %u: got %s", vc->type, vc->len,
                 stun_status_name(got));
    if (got == STUN_OK) {
        enum stun_attr_id id = stun_attr_id_of(vc->type);
        uint16_t len;
        cr_assert_eq(stun_msg_attr(&m, id, &len), c.buf + 24);
        cr_assert_eq(len, vc->len);
    }
}

Test(attrs, overrun_past_the_message)
{
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, false);
    craft_attr(&c, STUN_ATTR_SOFTWARE, "abcdefgh", 8);
    craft_put16(c.buf + 22, 9); /* claims 9 bytes, 8 are there */
    cr_assert_eq(stun_msg_parse(&m, c.buf, c.len), STUN_REJECT_ATTR_OVERRUN);
    cr_assert_eq(m.type, 0x0001, "header fields stay valid for a 400");
}

Test(attrs, padding_is_skipped)
{
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, false);
    craft_attr(&c, STUN_ATTR_USERNAME, "abcde", 5);
    craft_attr(&c, STUN_ATTR_REALM, "r", 1);
    cr_assert_eq(stun_msg_parse(&m, c.buf, c.len), STUN_OK);
    cr_assert_eq(m.at[STUN_A_USERNAME].off, 24);
    cr_assert_eq(m.at[STUN_A_USERNAME].len, 5);
    cr_assert_eq(m.at[STUN_A_REALM].off, 36);
}

Test(attrs, unknown_required_are_listed)
{
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, false);
    craft_attr(&c, 0x0024, "prio", 4);       /* PRIORITY (ICE): required, unknown here */
    craft_attr(&c, 0x8029, "controlled", 8); /* ICE-CONTROLLED: optional, ignored */
    craft_attr(&c, 0x7777, NULL, 0);
    cr_assert_eq(stun_msg_parse(&m, c.buf, c.len), STUN_REJECT_UNKNOWN_ATTR);
    cr_assert_eq(m.n_unknown, 2);
    cr_assert_eq(m.unknown[0], 0x0024);
    cr_assert_eq(m.unknown[1], 0x7777);
    cr_assert_not(m.unknown_overflow);
}

Test(attrs, unknown_optional_only_is_ok)
{
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, false);
    craft_attr(&c, 0x8029, "controlled", 8);
    cr_assert_eq(stun_msg_parse(&m, c.buf, c.len), STUN_OK);
    cr_assert_eq(m.n_unknown, 0);
}

Test(attrs, many_unknown_are_capped)
{
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, false);
    for (uint16_t t = 0x7000; t < 0x7000 + STUN_MAX_UNKNOWN + 3; t++)
        craft_attr(&c, t, NULL, 0);
    cr_assert_eq(stun_msg_parse(&m, c.buf, c.len), STUN_REJECT_UNKNOWN_ATTR);
    cr_assert_eq(m.n_unknown, STUN_MAX_UNKNOWN);
    cr_assert(m.unknown_overflow);
}

Test(attrs, first_occurrence_counts)
{
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, false);
    craft_attr(&c, STUN_ATTR_USERNAME, "first", 5);
    craft_attr(&c, STUN_ATTR_USERNAME, "second", 6);
    cr_assert_eq(stun_msg_parse(&m, c.buf, c.len), STUN_OK);
    uint16_t len;
    const uint8_t *v = stun_msg_attr(&m, STUN_A_USERNAME, &len);
    cr_assert_eq(len, 5);
    cr_assert_arr_eq(v, "first", 5);
}

Test(attrs, after_integrity_only_sha256_and_fingerprint_count)
{
    /* RFC 8489 §14.5: everything else after MESSAGE-INTEGRITY is ignored. */
    struct craft c;
    struct stun_msg m;
    uint8_t zero[32] = {0};
    craft_binding_request(&c, false);
    craft_attr(&c, STUN_ATTR_MESSAGE_INTEGRITY, zero, 20);
    craft_attr(&c, STUN_ATTR_USERNAME, "late", 4);
    craft_attr(&c, 0x7001, NULL, 0);                   /* unknown but ignored */
    craft_attr(&c, STUN_ATTR_MAPPED_ADDRESS, zero, 3); /* invalid but ignored */
    craft_attr(&c, STUN_ATTR_MESSAGE_INTEGRITY_SHA256, zero, 32);
    craft_attr(&c, STUN_ATTR_MESSAGE_INTEGRITY, zero, 20); /* ignored after SHA256 */
    craft_attr(&c, STUN_ATTR_REALM, "r", 1);
    craft_attr(&c, STUN_ATTR_FINGERPRINT, zero, 4);
    cr_assert_eq(stun_msg_parse(&m, c.buf, c.len), STUN_OK);
    uint32_t expected = 1u << STUN_A_MESSAGE_INTEGRITY | 1u << STUN_A_MESSAGE_INTEGRITY_SHA256 |
                        1u << STUN_A_FINGERPRINT;
    cr_assert_eq(m.present, expected);
    cr_assert_eq(m.at[STUN_A_MESSAGE_INTEGRITY].off, 24);
}

Test(attrs, nothing_may_follow_fingerprint)
{
    struct craft c;
    struct stun_msg m;
    uint8_t zero[4] = {0};
    craft_binding_request(&c, false);
    craft_attr(&c, STUN_ATTR_FINGERPRINT, zero, 4);
    craft_attr(&c, STUN_ATTR_SOFTWARE, "x", 1);
    cr_assert_eq(stun_msg_parse(&m, c.buf, c.len), STUN_DROP_AFTER_FINGERPRINT);
    craft_binding_request(&c, false);
    craft_attr(&c, STUN_ATTR_FINGERPRINT, zero, 4);
    craft_attr(&c, STUN_ATTR_FINGERPRINT, zero, 4);
    cr_assert_eq(stun_msg_parse(&m, c.buf, c.len), STUN_DROP_AFTER_FINGERPRINT);
}

Test(attrs, iterator_visits_every_attribute)
{
    struct craft c;
    struct stun_msg m;
    uint8_t zero[20] = {0};
    craft_binding_request(&c, false);
    craft_attr(&c, STUN_ATTR_USERNAME, "abcde", 5);
    craft_attr(&c, STUN_ATTR_MESSAGE_INTEGRITY, zero, 20);
    craft_attr(&c, STUN_ATTR_SOFTWARE, "ignored", 7);
    cr_assert_eq(stun_msg_parse(&m, c.buf, c.len), STUN_OK);
    struct stun_attr_iter it;
    struct stun_attr_view a;
    const uint16_t types[] = {STUN_ATTR_USERNAME, STUN_ATTR_MESSAGE_INTEGRITY, STUN_ATTR_SOFTWARE};
    int n = 0;
    stun_attr_iter_init(&it, &m);
    while (stun_attr_iter_next(&it, &a)) {
        cr_assert_lt(n, 3);
        cr_assert_eq(a.type, types[n]);
        n++;
    }
    cr_assert_eq(n, 3);
    cr_assert_not(stun_attr_is_counted(&m, &a, STUN_A_SOFTWARE), "ignored after MI");
}

Test(attrs, type_and_id_maps_agree)
{
    for (int id = 0; id < STUN_A_COUNT; id++)
        cr_assert_eq(stun_attr_id_of(stun_attr_type_of((enum stun_attr_id)id)), id);
    cr_assert_eq(stun_attr_id_of(0x0024), STUN_A_COUNT);
    cr_assert_eq(stun_attr_type_of(STUN_A_COUNT), 0);
}

static void parse_one(struct craft *c, struct stun_msg *m, uint16_t type, const void *v,
                      uint16_t len)
{
    craft_binding_request(c, false);
    craft_attr(c, type, v, len);
    cr_assert_eq(stun_msg_parse(m, c->buf, c->len), STUN_OK);
}

Test(getters, plain_ipv4_address)
{
    struct craft c;
    struct stun_msg m;
    struct stun_addr a;
    const uint8_t v[8] = {0, 1, 0x0d, 0x96, 192, 0, 2, 1};
    parse_one(&c, &m, STUN_ATTR_MAPPED_ADDRESS, v, 8);
    cr_assert(stun_msg_get_addr(&m, STUN_A_MAPPED_ADDRESS, &a));
    cr_assert_eq(a.family, STUN_FAMILY_IPV4);
    cr_assert_eq(a.port, 3478);
    cr_assert_arr_eq(a.ip, ((uint8_t[]){192, 0, 2, 1}), 4);
    cr_assert_not(stun_msg_get_addr(&m, STUN_A_SOURCE_ADDRESS, &a), "absent");
}

Test(getters, xor_ipv6_address)
{
    /* XOR-MAPPED-ADDRESS of RFC 5769 §2.3, under that vector's transaction id. */
    struct craft c;
    struct stun_msg m;
    struct stun_addr a;
    const uint8_t v[20] = {0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3,
                           0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9};
    parse_one(&c, &m, STUN_ATTR_XOR_MAPPED_ADDRESS, v, 20);
    cr_assert(stun_msg_get_addr(&m, STUN_A_XOR_MAPPED_ADDRESS, &a));
    const uint8_t ip[16] = {0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78,
                            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77};
    cr_assert_eq(a.family, STUN_FAMILY_IPV6);
    cr_assert_eq(a.port, 32853);
    cr_assert_arr_eq(a.ip, ip, 16);
}

Test(getters, change_request_and_response_port)
{
    struct craft c;
    struct stun_msg m;
    uint32_t flags;
    uint16_t port;
    parse_one(&c, &m, STUN_ATTR_CHANGE_REQUEST, (uint8_t[]){0, 0, 0, 6}, 4);
    cr_assert(stun_msg_get_u32(&m, STUN_A_CHANGE_REQUEST, &flags));
    cr_assert_eq(flags, STUN_CHANGE_IP | STUN_CHANGE_PORT);
    parse_one(&c, &m, STUN_ATTR_RESPONSE_PORT, (uint8_t[]){0xC3, 0x50, 0, 0}, 4);
    cr_assert(stun_msg_get_response_port(&m, &port));
    cr_assert_eq(port, 50000);
}

Test(getters, error_code_and_unknown_list)
{
    struct craft c;
    struct stun_msg m;
    int code;
    const char *reason;
    uint16_t reason_len, types[4];
    parse_one(&c, &m, STUN_ATTR_ERROR_CODE, "\0\0\x04\x14Unknown Attribute", 21);
    cr_assert(stun_msg_get_error(&m, &code, &reason, &reason_len));
    cr_assert_eq(code, 420);
    cr_assert_eq(reason_len, 17);
    cr_assert_arr_eq(reason, "Unknown Attribute", 17);
    parse_one(&c, &m, STUN_ATTR_UNKNOWN_ATTRIBUTES, (uint8_t[]){0x00, 0x24, 0x7f, 0x01}, 4);
    cr_assert_eq(stun_msg_get_unknown_list(&m, types, 4), 2);
    cr_assert_eq(types[0], 0x0024);
    cr_assert_eq(types[1], 0x7f01);
}

Test(getters, password_algorithms)
{
    struct craft c;
    struct stun_msg m;
    uint16_t algs[4], alg;
    /* MD5 with no parameters, SHA-256 with 3 bytes of parameters (padded). */
    const uint8_t list[] = {0, 1, 0, 0, 0, 2, 0, 3, 9, 9, 9, 0};
    parse_one(&c, &m, STUN_ATTR_PASSWORD_ALGORITHMS, list, sizeof(list));
    cr_assert_eq(stun_msg_get_password_algorithms(&m, algs, 4), 2);
    cr_assert_eq(algs[0], 1);
    cr_assert_eq(algs[1], 2);
    parse_one(&c, &m, STUN_ATTR_PASSWORD_ALGORITHM, (uint8_t[]){0, 2, 0, 0}, 4);
    cr_assert(stun_msg_get_password_algorithm(&m, &alg));
    cr_assert_eq(alg, 2);
}

Test(addr_prefix, keeps_the_prefix_bits_and_drops_the_port)
{
    struct stun_addr v4 = {.family = STUN_FAMILY_IPV4, .port = 4242, .ip = {198, 51, 100, 77}};
    struct stun_addr p = stun_addr_prefix(&v4, 24, 64);
    cr_assert_eq(p.family, STUN_FAMILY_IPV4);
    cr_assert_eq(p.port, 0);
    cr_assert_arr_eq(p.ip, ((uint8_t[16]){198, 51, 100, 0}), 16);
    p = stun_addr_prefix(&v4, 20, 64); /* a bit boundary inside a byte: 100 = 0110 0100 */
    cr_assert_arr_eq(p.ip, ((uint8_t[16]){198, 51, 96, 0}), 16);
    p = stun_addr_prefix(&v4, 32, 64);
    cr_assert_arr_eq(p.ip, v4.ip, 16, "a whole address stays whole");
    p = stun_addr_prefix(&v4, 0, 64);
    cr_assert_arr_eq(p.ip, ((uint8_t[16]){0}), 16, "/0: one client for every address");

    struct stun_addr v6 = {.family = STUN_FAMILY_IPV6,
                           .port = 9,
                           .ip = {0x20, 0x01, 0x0d, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}};
    p = stun_addr_prefix(&v6, 32, 64);
    cr_assert_eq(p.family, STUN_FAMILY_IPV6);
    cr_assert_arr_eq(p.ip, ((uint8_t[16]){0x20, 0x01, 0x0d, 0xb8, 1, 2, 3, 4}), 16);
    p = stun_addr_prefix(&v6, 32, 200);
    cr_assert_arr_eq(p.ip, v6.ip, 16, "bits past 128 keep it whole");
}
