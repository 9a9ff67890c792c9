/* RFC 3489 classic messages: requests and responses without the magic cookie. */
#include <criterion/criterion.h>

#include "core/attr.h"
#include "core/integrity.h"
#include "core/writer.h"
#include "tests/unit/craft.h"

Test(classic, binding_request_with_change_request)
{
    /* What Debian's stun-client (RFC 3489) sends: CHANGE-REQUEST with flags. */
    struct craft c;
    struct stun_msg m;
    uint32_t flags;
    craft_binding_request(&c, true);
    craft_attr(&c, STUN_ATTR_CHANGE_REQUEST, (uint8_t[]){0, 0, 0, STUN_CHANGE_IP}, 4);
    cr_assert_eq(stun_msg_parse(&m, c.buf, c.len), STUN_OK);
    cr_assert(m.classic);
    cr_assert_eq(m.method, STUN_METHOD_BINDING);
    cr_assert(stun_msg_get_u32(&m, STUN_A_CHANGE_REQUEST, &flags));
    cr_assert_eq(flags, STUN_CHANGE_IP);
    cr_assert_arr_eq(stun_msg_id16(&m), c.buf + 4, STUN_CLASSIC_TID_LEN);
}

Test(classic, response_address_is_decoded)
{
    struct craft c;
    struct stun_msg m;
    struct stun_addr a;
    craft_binding_request(&c, true);
    craft_attr(&c, STUN_ATTR_RESPONSE_ADDRESS, (uint8_t[]){0, 1, 0x13, 0x88, 10, 0, 0, 9}, 8);
    cr_assert_eq(stun_msg_parse(&m, c.buf, c.len), STUN_OK);
    cr_assert(stun_msg_get_addr(&m, STUN_A_RESPONSE_ADDRESS, &a));
    cr_assert_eq(a.port, 5000);
    cr_assert_arr_eq(a.ip, ((uint8_t[]){10, 0, 0, 9}), 4);
}

Test(classic, binding_response_round_trip)
{
    struct craft req;
    struct stun_msg m, r;
    uint8_t buf[128];
    struct stun_writer w;
    const struct stun_addr mapped = {STUN_FAMILY_IPV4, 40000, {192, 0, 2, 7}};
    const struct stun_addr source = {STUN_FAMILY_IPV4, 3478, {127, 0, 0, 1}};
    const struct stun_addr changed = {STUN_FAMILY_IPV4, 3479, {127, 0, 0, 2}};
    struct stun_addr got;

    craft_binding_request(&req, true);
    cr_assert_eq(stun_msg_parse(&m, req.buf, req.len), STUN_OK);
    stun_writer_start_reply(&w, buf, sizeof(buf), 0x0101, &m);
    cr_assert(w.classic);
    stun_write_addr(&w, STUN_ATTR_MAPPED_ADDRESS, &mapped);
    stun_write_addr(&w, STUN_ATTR_SOURCE_ADDRESS, &source);
    stun_write_addr(&w, STUN_ATTR_CHANGED_ADDRESS, &changed);
    size_t len = stun_writer_finish(&w);
    cr_assert_eq(len, 20 + 3 * 12);

    cr_assert_eq(stun_msg_parse(&r, buf, len), STUN_OK);
    cr_assert(r.classic);
    cr_assert_eq(r.cls, STUN_CLASS_SUCCESS);
    cr_assert_arr_eq(buf + 4, req.buf + 4, 16, "the 128-bit id is echoed");
    cr_assert(stun_msg_get_addr(&r, STUN_A_MAPPED_ADDRESS, &got));
    cr_assert(stun_addr_equal(&got, &mapped));
    cr_assert(stun_msg_get_addr(&r, STUN_A_SOURCE_ADDRESS, &got));
    cr_assert(stun_addr_equal(&got, &source));
    cr_assert(stun_msg_get_addr(&r, STUN_A_CHANGED_ADDRESS, &got));
    cr_assert(stun_addr_equal(&got, &changed));
    cr_assert_not(stun_msg_has(&r, STUN_A_XOR_MAPPED_ADDRESS));
}

Test(classic, error_response_with_unknown_attributes)
{
    struct craft req;
    struct stun_msg m, r;
    uint8_t buf[128];
    struct stun_writer w;
    int code;
    const char *reason;
    uint16_t reason_len, types[4];

    craft_binding_request(&req, true);
    craft_attr(&req, 0x0033, "abcd", 4);
    cr_assert_eq(stun_msg_parse(&m, req.buf, req.len), STUN_REJECT_UNKNOWN_ATTR);
    stun_writer_start_reply(&w, buf, sizeof(buf), 0x0111, &m);
    stun_write_error(&w, stun_status_error_code(STUN_REJECT_UNKNOWN_ATTR, true), NULL);
    stun_write_unknown(&w, m.unknown, m.n_unknown);
    size_t len = stun_writer_finish(&w);
    cr_assert_neq(len, 0);
    cr_assert_eq(len % 4, 0);

    cr_assert_eq(stun_msg_parse(&r, buf, len), STUN_OK);
    cr_assert(stun_msg_get_error(&r, &code, &reason, &reason_len));
    cr_assert_eq(code, 420);
    cr_assert_eq(reason_len % 4, 0, "RFC 3489 §11.2.9");
    cr_assert_eq(stun_msg_get_unknown_list(&r, types, 4), 2, "RFC 3489 §11.2.10 repeats");
    cr_assert_eq(types[0], 0x0033);
    cr_assert_eq(types[1], 0x0033);
}

Test(classic, shared_secret_request_and_response)
{
    struct craft req;
    struct stun_msg m, r;
    uint8_t buf[128];
    struct stun_writer w;
    uint16_t len16;

    craft_start(&req, stun_type(STUN_METHOD_SHARED_SECRET, STUN_CLASS_REQUEST), true);
    cr_assert_eq(stun_msg_parse(&m, req.buf, req.len), STUN_OK);
    cr_assert_eq(m.method, STUN_METHOD_SHARED_SECRET);
    cr_assert_eq(m.cls, STUN_CLASS_REQUEST);

    stun_writer_start_reply(&w, buf, sizeof(buf), 0x0102, &m);
    stun_write_bytes(&w, STUN_ATTR_USERNAME, "user0001", 8);
    stun_write_bytes(&w, STUN_ATTR_PASSWORD, "0123456789abcdef", 16);
    size_t len = stun_writer_finish(&w);
    cr_assert_eq(stun_msg_parse(&r, buf, len), STUN_OK);
    cr_assert_eq(r.method, STUN_METHOD_SHARED_SECRET);
    cr_assert_eq(r.cls, STUN_CLASS_SUCCESS);
    const uint8_t *pw = stun_msg_attr(&r, STUN_A_PASSWORD, &len16);
    cr_assert_eq(len16, 16);
    cr_assert_arr_eq(pw, "0123456789abcdef", 16);
}

Test(classic, integrity_forms_differ)
{
    /* A classic MI is the RFC 3489 form; the RFC 5389 form must not pass for it. */
    struct craft c;
    struct stun_msg m;
    struct crypto_hmac_key key;
    uint8_t mac[20] = {0};
    crypto_hmac_key_init(&key, CRYPTO_HMAC_SHA1, "pass", 4);
    craft_binding_request(&c, true);
    craft_attr(&c, STUN_ATTR_USERNAME, "user", 4);
    uint32_t mi_off = (uint32_t)c.len;
    craft_attr(&c, STUN_ATTR_MESSAGE_INTEGRITY, mac, 20);
    stun_integrity_compute(c.buf, mi_off, 20, &key, false, mac);
    memcpy(c.buf + mi_off + 4, mac, 20);
    cr_assert_eq(stun_msg_parse(&m, c.buf, c.len), STUN_OK);
    cr_assert_eq(stun_msg_verify_integrity(&m, &key), STUN_REJECT_BAD_INTEGRITY);
    stun_integrity_compute(c.buf, mi_off, 20, &key, true, mac);
    memcpy(c.buf + mi_off + 4, mac, 20);
    cr_assert_eq(stun_msg_verify_integrity(&m, &key), STUN_OK);
}
