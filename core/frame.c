/* Stream framing: where one STUN message ends on a TCP or TLS stream. */
#include "core/frame.h"

#include "core/stun.h"
#include "core/wire.h"
#include "core/writer.h"

static struct stun_frame verdict(enum stun_frame_kind kind, size_t len)
{
    struct stun_frame v = {.kind = kind, .len = len, .total = 0, .why = STUN_OK};
    return v;
}

static struct stun_frame garbage(enum stun_status why)
{
    struct stun_frame v = verdict(STUN_FRAME_GARBAGE, 0);
    v.why = why;
    return v;
}

/* The rest of an over-long message: as much of it as is here. */
static struct stun_frame skip(struct stun_framer *fr, size_t have)
{
    size_t n = have < fr->skip ? have : fr->skip;
    if (n == 0)
        return verdict(STUN_FRAME_NEED_MORE, 0);
    fr->skip -= n;
    return verdict(STUN_FRAME_SKIP, n);
}

struct stun_frame stun_frame_next(struct stun_framer *fr, const uint8_t *p, size_t have)
{
    if (fr->skip > 0)
        return skip(fr, have);
    if (have < 1)
        return verdict(STUN_FRAME_NEED_MORE, 0);
    if (p[0] & 0xC0) /* RFC 8489 §5: the two leading bits are zero */
        return garbage(STUN_DROP_NOT_STUN);
    if (have < 4)
        return verdict(STUN_FRAME_NEED_MORE, 0);
    size_t total = STUN_HEADER_LEN + wire_get16(p + 2);
    if ((total - STUN_HEADER_LEN) % 4 != 0) /* RFC 8489 §5: attributes pad to 4 */
        return garbage(STUN_DROP_LENGTH);
    if (total > fr->max_len) {
        if (have < STUN_HEADER_LEN) /* the answer needs the transaction id */
            return verdict(STUN_FRAME_NEED_MORE, 0);
        size_t here = have < total ? have : total;
        fr->skip = total - here;
        struct stun_frame v = verdict(STUN_FRAME_TOO_LONG, here);
        v.total = total;
        return v;
    }
    if (have < total)
        return verdict(STUN_FRAME_NEED_MORE, 0);
    return verdict(STUN_FRAME_MESSAGE, total);
}

size_t stun_frame_write_too_long(const uint8_t *hdr, uint8_t *out, size_t cap)
{
    uint16_t type = wire_get16(hdr);
    if (stun_type_class(type) != STUN_CLASS_REQUEST)
        return 0;
    struct stun_writer w;
    stun_writer_start(&w, out, cap, stun_type(stun_type_method(type), STUN_CLASS_ERROR), hdr + 4);
    stun_write_error(&w, 400, "Message too long");
    return stun_writer_finish(&w);
}
