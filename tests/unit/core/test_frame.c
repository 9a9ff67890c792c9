/* Stream framing (core/frame.c): RFC 8489 §6.2.2 message boundaries. */
#include <criterion/criterion.h>
#include <string.h>

#include "core/attr.h"
#include "core/frame.h"
#include "core/msg.h"
#include "core/wire.h"
#include "tests/unit/craft.h"

enum { MAX = 2048 };

static struct stun_frame next(struct stun_framer *fr, const void *p, size_t have)
{
    return stun_frame_next(fr, p, have);
}

static struct stun_framer framer(void)
{
    struct stun_framer fr;
    stun_framer_init(&fr, MAX);
    return fr;
}

Test(frame, a_whole_message_and_nothing_before)
{
    struct craft c;
    craft_binding_request(&c, false);
    craft_attr(&c, STUN_ATTR_SOFTWARE, "abcde", 5);
    struct stun_framer fr = framer();
    for (size_t have = 0; have < c.len; have++)
        cr_assert_eq(next(&fr, c.buf, have).kind, STUN_FRAME_NEED_MORE, "%zu bytes", have);
    struct stun_frame v = next(&fr, c.buf, c.len);
    cr_assert_eq(v.kind, STUN_FRAME_MESSAGE);
    cr_assert_eq(v.len, c.len);
}

Test(frame, pipelined_messages_one_at_a_time)
{
    struct craft a, b;
    craft_binding_request(&a, false);
    craft_binding_request(&b, true);
    craft_attr(&b, STUN_ATTR_CHANGE_REQUEST, (uint8_t[]){0, 0, 0, 0}, 4);
    uint8_t stream[128];
    memcpy(stream, a.buf, a.len);
    memcpy(stream + a.len, b.buf, b.len);
    struct stun_framer fr = framer();
    struct stun_frame v = next(&fr, stream, a.len + b.len);
    cr_assert_eq(v.kind, STUN_FRAME_MESSAGE);
    cr_assert_eq(v.len, a.len, "only the first");
    v = next(&fr, stream + a.len, b.len);
    cr_assert_eq(v.kind, STUN_FRAME_MESSAGE);
    cr_assert_eq(v.len, b.len);
}

/* Judged on the first byte that tells: an HTTP client is not kept waiting. */
Test(frame, not_stun_on_the_first_byte)
{
    struct stun_framer fr = framer();
    struct stun_frame v = next(&fr, "G", 1);
    cr_assert_eq(v.kind, STUN_FRAME_GARBAGE);
    cr_assert_eq(v.why, STUN_DROP_NOT_STUN);
    cr_assert_eq(v.len, 0);
}

Test(frame, a_length_not_a_multiple_of_4_is_garbage)
{
    struct craft c;
    craft_binding_request(&c, false);
    craft_set_length(&c, 6);
    struct stun_framer fr = framer();
    cr_assert_eq(next(&fr, c.buf, 3).kind, STUN_FRAME_NEED_MORE);
    struct stun_frame v = next(&fr, c.buf, 4);
    cr_assert_eq(v.kind, STUN_FRAME_GARBAGE);
    cr_assert_eq(v.why, STUN_DROP_LENGTH);
}

Test(frame, the_longest_accepted_is_max_len)
{
    static uint8_t buf[MAX + 4];
    struct craft c;
    craft_binding_request(&c, false);
    memcpy(buf, c.buf, STUN_HEADER_LEN);
    wire_put16(buf + 2, MAX - STUN_HEADER_LEN);
    struct stun_framer fr = framer();
    struct stun_frame v = next(&fr, buf, MAX);
    cr_assert_eq(v.kind, STUN_FRAME_MESSAGE);
    cr_assert_eq(v.len, MAX);
    wire_put16(buf + 2, MAX + 4 - STUN_HEADER_LEN);
    v = next(&fr, buf, sizeof(buf));
    cr_assert_eq(v.kind, STUN_FRAME_TOO_LONG, "4 bytes more");
}

/* An over-long message: its header, then its body in pieces, then the next
 * message in step; the header waits for its 20 bytes (the answer needs the
 * transaction id). */
Test(frame, an_over_long_message_is_skipped_in_step)
{
    static uint8_t stream[5000];
    struct craft big, small;
    craft_binding_request(&big, false);
    size_t total = STUN_HEADER_LEN + 4000;
    memcpy(stream, big.buf, STUN_HEADER_LEN);
    wire_put16(stream + 2, (uint16_t)(total - STUN_HEADER_LEN));
    memset(stream + STUN_HEADER_LEN, 0xFF, total - STUN_HEADER_LEN); /* not STUN if misread */
    craft_binding_request(&small, true);
    memcpy(stream + total, small.buf, small.len);

    struct stun_framer fr = framer();
    cr_assert_eq(next(&fr, stream, 19).kind, STUN_FRAME_NEED_MORE);
    struct stun_frame v = next(&fr, stream, 100);
    cr_assert_eq(v.kind, STUN_FRAME_TOO_LONG);
    cr_assert_eq(v.len, 100, "the header and what is here of the body");
    cr_assert_eq(v.total, total);
    size_t pos = 100;
    cr_assert_eq(next(&fr, stream + pos, 0).kind, STUN_FRAME_NEED_MORE);
    v = next(&fr, stream + pos, 1000);
    cr_assert_eq(v.kind, STUN_FRAME_SKIP);
    cr_assert_eq(v.len, 1000);
    pos += v.len;
    v = next(&fr, stream + pos, total + small.len - pos);
    cr_assert_eq(v.kind, STUN_FRAME_SKIP);
    cr_assert_eq(v.len, total - pos, "up to the end of the message, not beyond");
    pos += v.len;
    v = next(&fr, stream + pos, small.len);
    cr_assert_eq(v.kind, STUN_FRAME_MESSAGE, "the next message is framed in step");
    cr_assert_eq(v.len, small.len);
}

Test(frame, an_over_long_message_all_here_leaves_nothing_to_skip)
{
    static uint8_t stream[MAX + 64];
    struct craft c;
    craft_binding_request(&c, false);
    memcpy(stream, c.buf, STUN_HEADER_LEN);
    wire_put16(stream + 2, MAX + 8 - STUN_HEADER_LEN);
    struct stun_framer fr = framer();
    struct stun_frame v = next(&fr, stream, sizeof(stream));
    cr_assert_eq(v.kind, STUN_FRAME_TOO_LONG);
    cr_assert_eq(v.len, MAX + 8);
    cr_assert_eq(fr.skip, 0);
}

static void check_400(bool classic, uint16_t method)
{
    struct craft c;
    craft_start(&c, stun_type(method, STUN_CLASS_REQUEST), classic);
    uint8_t out[256];
    size_t n = stun_frame_write_too_long(c.buf, out, sizeof(out));
    cr_assert_gt(n, 0);
    struct stun_msg m;
    cr_assert_eq(stun_msg_parse(&m, out, n), STUN_OK);
    cr_assert_eq(m.type, stun_type(method, STUN_CLASS_ERROR));
    cr_assert_eq(memcmp(out + 4, c.buf + 4, 16), 0, "the transaction id (and cookie) echoed");
    int code;
    const char *reason;
    uint16_t reason_len;
    cr_assert(stun_msg_get_error(&m, &code, &reason, &reason_len));
    cr_assert_eq(code, 400);
    cr_assert_eq(memcmp(reason, "Message too long", 16), 0);
}

Test(frame, an_over_long_request_gets_400_in_its_style)
{
    check_400(false, STUN_METHOD_BINDING);
    check_400(true, STUN_METHOD_BINDING);
    check_400(true, STUN_METHOD_SHARED_SECRET);
}

Test(frame, an_over_long_indication_or_response_gets_nothing)
{
    struct craft c;
    uint8_t out[256];
    craft_start(&c, stun_type(STUN_METHOD_BINDING, STUN_CLASS_INDICATION), false);
    cr_assert_eq(stun_frame_write_too_long(c.buf, out, sizeof(out)), 0);
    craft_start(&c, stun_type(STUN_METHOD_BINDING, STUN_CLASS_SUCCESS), false);
    cr_assert_eq(stun_frame_write_too_long(c.buf, out, sizeof(out)), 0);
    craft_start(&c, stun_type(STUN_METHOD_BINDING, STUN_CLASS_REQUEST), false);
    cr_assert_eq(stun_frame_write_too_long(c.buf, out, 30), 0, "no room: nothing half-written");
}
