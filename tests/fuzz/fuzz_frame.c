/*
 * Stream framing fuzzer (core/frame.c), driven the way io/front/tcp.c drives
 * it: an input buffer of twice the longest message, filled by reads of
 * some size, framed, consumed from the front. Input: byte 0 picks the
 * longest message, byte 1 the read sizes, the rest is what a client sends.
 *
 * Checks: every verdict stays inside the bytes it was given; a full buffer
 * always makes progress (a client cannot stall its connection with a
 * header); a framed message is one the parser does not call "not STUN" or
 * "wrong length" (io/front/tcp.c would close the connection for that); an
 * over-long request's answer parses as a 400; and what is framed does not
 * depend on how the stream was cut into reads (whole buffers against a
 * pseudo-random cut).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/attr.h"
#include "core/frame.h"
#include "core/msg.h"
#include "core/wire.h"
#include "tests/fuzz/fuzz.h"

void fuzz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
    abort();
}

enum {
    MAX_INPUT = 1 << 16,    /* bytes of stream looked at */
    MAX_EVENTS = MAX_INPUT, /* at most one event per byte: each consumes >= 1, or ends */
    LONGEST = 2048,         /* io/front/tcp.c's TCP_MAX_MESSAGE */
    BUF_CAP = 2 * LONGEST,  /* io/front/tcp.c's TCP_IN_SIZE, for the largest max_len */
};

/* What a framing pass saw, at which offset of the stream. */
struct event {
    enum stun_frame_kind kind; /* MESSAGE, TOO_LONG or GARBAGE; SKIPs are not logged */
    size_t offset, len;        /* MESSAGE: its length; TOO_LONG: its total; GARBAGE: why */
};

struct pass {
    struct event ev[MAX_EVENTS];
    size_t n_ev;
    size_t consumed; /* stream bytes consumed in all */
};

static struct pass whole, cut;

static void check_answer_400(const uint8_t *hdr)
{
    uint8_t out[128];
    size_t n = stun_frame_write_too_long(hdr, out, sizeof(out));
    if (stun_type_class(wire_get16(hdr)) != STUN_CLASS_REQUEST) {
        FUZZ_CHECK(n == 0);
        return;
    }
    struct stun_msg m;
    int code = 0;
    const char *reason;
    uint16_t reason_len;
    FUZZ_CHECK(n > 0 && stun_msg_parse(&m, out, n) == STUN_OK);
    FUZZ_CHECK(m.cls == STUN_CLASS_ERROR && stun_msg_get_error(&m, &code, &reason, &reason_len));
    FUZZ_CHECK(code == 400 && memcmp(out + 4, hdr + 4, 16) == 0);
}

/* Checks one verdict on have bytes at p and logs it; false: stop. */
static bool judge(struct pass *ps, const struct stun_framer *fr, const uint8_t *p, size_t have,
                  struct stun_frame v)
{
    FUZZ_CHECK(v.len <= have);
    struct event *e = &ps->ev[ps->n_ev];
    e->kind = v.kind;
    e->offset = ps->consumed;
    switch (v.kind) {
    case STUN_FRAME_NEED_MORE:
        /* No stall: a buffer holding a whole longest message always moves. */
        FUZZ_CHECK(v.len == 0 && have < fr->max_len);
        return false;
    case STUN_FRAME_MESSAGE: {
        FUZZ_CHECK(v.len >= STUN_HEADER_LEN && v.len <= fr->max_len);
        FUZZ_CHECK(v.len == (size_t)STUN_HEADER_LEN + wire_get16(p + 2));
        struct stun_msg m;
        enum stun_status s = stun_msg_parse(&m, p, v.len);
        FUZZ_CHECK(s != STUN_DROP_SHORT && s != STUN_DROP_NOT_STUN && s != STUN_DROP_LENGTH);
        e->len = v.len;
        break;
    }
    case STUN_FRAME_TOO_LONG:
        FUZZ_CHECK(v.len >= STUN_HEADER_LEN && v.total > fr->max_len);
        FUZZ_CHECK(v.total == (size_t)STUN_HEADER_LEN + wire_get16(p + 2));
        FUZZ_CHECK(v.len + fr->skip == v.total);
        check_answer_400(p);
        e->len = v.total;
        break;
    case STUN_FRAME_SKIP:
        FUZZ_CHECK(v.len > 0);
        ps->consumed += v.len;
        return true;
    case STUN_FRAME_GARBAGE:
        FUZZ_CHECK(v.len == 0 && (v.why == STUN_DROP_NOT_STUN || v.why == STUN_DROP_LENGTH));
        e->len = v.why;
        ps->n_ev++;
        return false;
    }
    ps->n_ev++;
    ps->consumed += v.len;
    return true;
}

/* Next read size: 0 reads as much as fits; otherwise 1 to 64 bytes. */
static size_t read_size(uint32_t *state)
{
    if (*state == 0)
        return SIZE_MAX;
    *state = *state * 1103515245u + 12345u;
    return 1 + (*state >> 16) % 64;
}

/* Frames data as io/front/tcp.c does; seed 0: reads as large as the buffer. */
static void run(struct pass *ps, const uint8_t *data, size_t n, size_t max_len, uint32_t seed)
{
    static uint8_t buf[BUF_CAP];
    size_t cap = 2 * max_len, in_len = 0, fed = 0;
    struct stun_framer fr;
    stun_framer_init(&fr, max_len);
    ps->n_ev = ps->consumed = 0;
    for (;;) {
        size_t want = read_size(&seed), room = cap - in_len, left = n - fed;
        size_t got = want < room ? want : room;
        got = got < left ? got : left;
        memcpy(buf + in_len, data + fed, got);
        in_len += got;
        fed += got;
        size_t pos = 0;
        bool going = true;
        while (going) {
            struct stun_frame v = stun_frame_next(&fr, buf + pos, in_len - pos);
            going = judge(ps, &fr, buf + pos, in_len - pos, v);
            pos += going ? v.len : 0;
            if (v.kind == STUN_FRAME_GARBAGE)
                return;
        }
        memmove(buf, buf + pos, in_len - pos);
        in_len -= pos;
        FUZZ_CHECK(in_len < cap); /* the same as judge's no-stall check, from outside */
        if (fed == n)
            return;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    /* Mostly small limits, so over-long messages are common; 255: io/front/tcp.c's. */
    size_t max_len = data[0] == 255 ? LONGEST : STUN_HEADER_LEN + (size_t)(data[0] % 64) * 8;
    uint32_t seed = data[1] | 1u;
    const uint8_t *stream = data + 2;
    size_t n = size - 2 < MAX_INPUT ? size - 2 : MAX_INPUT;
    run(&whole, stream, n, max_len, 0);
    run(&cut, stream, n, max_len, seed);
    FUZZ_CHECK(whole.n_ev == cut.n_ev && whole.consumed == cut.consumed);
    for (size_t i = 0; i < whole.n_ev; i++) {
        const struct event *a = &whole.ev[i], *b = &cut.ev[i];
        FUZZ_CHECK(a->kind == b->kind && a->offset == b->offset && a->len == b->len);
    }
    return 0;
}
