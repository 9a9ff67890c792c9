/* Header checks of stun_msg_parse (RFC 8489 §5, §6.3) and the type bits. */
#include <criterion/criterion.h>

#include "core/msg.h"
#include "tests/unit/craft.h"

Test(header, modern_binding_request)
{
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, false);
    cr_assert_eq(stun_msg_parse(&m, c.buf, c.len), STUN_OK);
    cr_assert_eq(m.method, STUN_METHOD_BINDING);
    cr_assert_eq(m.cls, STUN_CLASS_REQUEST);
    cr_assert_not(m.classic);
    cr_assert_eq(m.present, 0);
    cr_assert_eq(m.len, 20);
    cr_assert_eq(stun_msg_id16(&m), c.buf + 4);
}

Test(header, missing_cookie_means_classic)
{
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, true);
    cr_assert_eq(stun_msg_parse(&m, c.buf, c.len), STUN_OK);
    cr_assert(m.classic);
}

Test(header, shorter_than_a_header_is_dropped)
{
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, false);
    for (size_t len = 0; len < STUN_HEADER_LEN; len++)
        cr_assert_eq(stun_msg_parse(&m, c.buf, len), STUN_DROP_SHORT, "len %zu", len);
}

Test(header, leading_bits_must_be_zero)
{
    struct craft c;
    struct stun_msg m;
    for (unsigned bits = 1; bits < 4; bits++) {
        craft_binding_request(&c, false);
        c.buf[0] |= (uint8_t)(bits << 6);
        cr_assert_eq(stun_msg_parse(&m, c.buf, c.len), STUN_DROP_NOT_STUN);
    }
}

Test(header, length_must_match_the_datagram)
{
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, false);
    craft_attr(&c, STUN_ATTR_SOFTWARE, "abcd", 4);
    cr_assert_eq(stun_msg_parse(&m, c.buf, c.len), STUN_OK);
    cr_assert_eq(stun_msg_parse(&m, c.buf, c.len - 4), STUN_DROP_LENGTH, "datagram shorter");
    cr_assert_eq(stun_msg_parse(&m, c.buf, c.len + 4), STUN_DROP_LENGTH, "datagram longer");
    craft_set_length(&c, 0xFFFC);
    cr_assert_eq(stun_msg_parse(&m, c.buf, c.len), STUN_DROP_LENGTH, "length lies high");
}

Test(header, length_must_be_a_multiple_of_four)
{
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, false);
    craft_set_length(&c, 2);
    cr_assert_eq(stun_msg_parse(&m, c.buf, 22), STUN_DROP_LENGTH);
}

Test(header, every_class_decodes)
{
    struct craft c;
    struct stun_msg m;
    for (int cls = 0; cls < 4; cls++) {
        craft_start(&c, stun_type(STUN_METHOD_BINDING, (enum stun_class)cls), false);
        cr_assert_eq(stun_msg_parse(&m, c.buf, c.len), STUN_OK);
        cr_assert_eq(m.cls, cls);
        cr_assert_eq(m.method, STUN_METHOD_BINDING);
    }
}

Test(header, type_bits_round_trip_for_every_method)
{
    for (uint16_t method = 0; method < 0x1000; method++) {
        for (int cls = 0; cls < 4; cls++) {
            uint16_t type = stun_type(method, (enum stun_class)cls);
            cr_assert_eq(type & 0xC000, 0);
            cr_assert_eq(stun_type_method(type), method);
            cr_assert_eq(stun_type_class(type), cls);
        }
    }
}

Test(header, known_type_values)
{
    /* RFC 8489 §6: Binding request 0x0001, success 0x0101, error 0x0111. */
    cr_assert_eq(stun_type(STUN_METHOD_BINDING, STUN_CLASS_REQUEST), 0x0001);
    cr_assert_eq(stun_type(STUN_METHOD_BINDING, STUN_CLASS_INDICATION), 0x0011);
    cr_assert_eq(stun_type(STUN_METHOD_BINDING, STUN_CLASS_SUCCESS), 0x0101);
    cr_assert_eq(stun_type(STUN_METHOD_BINDING, STUN_CLASS_ERROR), 0x0111);
    /* RFC 3489 §11.1: Shared Secret request 0x0002, response 0x0102, error 0x0112. */
    cr_assert_eq(stun_type(STUN_METHOD_SHARED_SECRET, STUN_CLASS_REQUEST), 0x0002);
    cr_assert_eq(stun_type(STUN_METHOD_SHARED_SECRET, STUN_CLASS_SUCCESS), 0x0102);
    cr_assert_eq(stun_type(STUN_METHOD_SHARED_SECRET, STUN_CLASS_ERROR), 0x0112);
}

Test(status, drops_and_error_codes)
{
    cr_assert_eq(stun_status_error_code(STUN_OK, false), 0);
    for (int s = STUN_DROP_SHORT; s <= STUN_DROP_METHOD; s++) {
        cr_assert(stun_status_is_drop((enum stun_status)s));
        cr_assert_eq(stun_status_error_code((enum stun_status)s, false), 0);
    }
    cr_assert_eq(stun_status_error_code(STUN_REJECT_ATTR_OVERRUN, false), 400);
    cr_assert_eq(stun_status_error_code(STUN_REJECT_ATTR_INVALID, true), 400);
    cr_assert_eq(stun_status_error_code(STUN_REJECT_UNKNOWN_ATTR, true), 420);
    cr_assert_eq(stun_status_error_code(STUN_REJECT_NO_INTEGRITY, false), 400);
    cr_assert_eq(stun_status_error_code(STUN_REJECT_NO_INTEGRITY, true), 401);
    cr_assert_eq(stun_status_error_code(STUN_REJECT_BAD_INTEGRITY, true), 431);
    cr_assert_eq(stun_status_error_code(STUN_REJECT_BAD_INTEGRITY, false), 401);
}

Test(status, every_status_has_a_distinct_name)
{
    for (int a = 0; a < STUN_STATUS_COUNT; a++) {
        cr_assert_not_null(stun_status_name((enum stun_status)a));
        for (int b = 0; b < a; b++)
            cr_assert_str_neq(stun_status_name((enum stun_status)a),
                              stun_status_name((enum stun_status)b));
    }
    cr_assert_str_eq(stun_status_name(STUN_STATUS_COUNT), "invalid");
}

Test(status, reason_phrases)
{
    cr_assert_str_eq(stun_error_reason(420), "Unknown Attribute");
    cr_assert_str_eq(stun_error_reason(433), "Use TLS");
    cr_assert_str_eq(stun_error_reason(499), "Error");
}
