/*
 * The request handler: which answer each request gets, from which local
 * endpoint and to where (RFC 3489, RFC 8489, RFC 5780). Every request sits
 * flush against an unreadable page; every answer is parsed back and checked
 * attribute by attribute.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "core/attr.h"
#include "core/handler.h"
#include "core/integrity.h"
#include "core/writer.h"
#include "tests/support/guard.h"
#include "tests/unit/craft.h"
#include "tests/unit/endpoints.h"

enum {
    OUT_CAP = 2048,
    GUARD_CAP = 4096,
    MIN_ANSWER = 20 + 12, /* header + XOR-MAPPED-ADDRESS (IPv4) */
};

#define BIT(id) (1u << (id))

static const struct stun_addr client = {STUN_FAMILY_IPV4, 40000, {192, 0, 2, 7}};

static const struct stun_endpoints single = {
    .addr = {[STUN_EP_A1P1] = {STUN_FAMILY_IPV4, P1, {127, 0, 0, 1}}},
    .alternate = false,
};

static const struct stun_handler_config plain = {.software = NULL};
static const struct stun_handler_config with_software = {.software = "stunring test",
                                                         .software_len = 13};

/* The endpoint differing in both address and port, written out (not XORed). */
static const enum stun_endpoint other_of[STUN_EP_COUNT] = {
    [STUN_EP_A1P1] = STUN_EP_A2P2,
    [STUN_EP_A1P2] = STUN_EP_A2P1,
    [STUN_EP_A2P1] = STUN_EP_A1P2,
    [STUN_EP_A2P2] = STUN_EP_A1P1,
};

/* CHANGE-REQUEST flag combinations, and RFC 3489 Table 1 for each arrival. */
static const uint8_t change_flags[4] = {0, STUN_CHANGE_PORT, STUN_CHANGE_IP,
                                        STUN_CHANGE_IP | STUN_CHANGE_PORT};
static const enum stun_endpoint table1[STUN_EP_COUNT][4] = {
    [STUN_EP_A1P1] = {STUN_EP_A1P1, STUN_EP_A1P2, STUN_EP_A2P1, STUN_EP_A2P2},
    [STUN_EP_A1P2] = {STUN_EP_A1P2, STUN_EP_A1P1, STUN_EP_A2P2, STUN_EP_A2P1},
    [STUN_EP_A2P1] = {STUN_EP_A2P1, STUN_EP_A2P2, STUN_EP_A1P1, STUN_EP_A1P2},
    [STUN_EP_A2P2] = {STUN_EP_A2P2, STUN_EP_A2P1, STUN_EP_A1P2, STUN_EP_A1P1},
};

static struct guard in_guard;
static uint8_t out[OUT_CAP];

static void setup(void) { guard_init(&in_guard, GUARD_CAP); }
static void teardown(void) { guard_fini(&in_guard); }

TestSuite(handler, .init = setup, .fini = teardown);

/* "a.b.c.d:port" or "[v6]:port", for assertion messages. */
static const char *show(const struct stun_addr *a, char *buf, size_t cap)
{
    char ip[INET6_ADDRSTRLEN];
    int af = a->family == STUN_FAMILY_IPV6 ? AF_INET6 : AF_INET;
    if (inet_ntop(af, a->ip, ip, sizeof(ip)) == NULL)
        snprintf(ip, sizeof(ip), "?");
    snprintf(buf, cap, af == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, a->port);
    return buf;
}

static void assert_addr_eq(const struct stun_addr *got, const struct stun_addr *want,
                           const char *what)
{
    char g[64], w[64];
    cr_assert(stun_addr_equal(got, want), "%s: got %s, want %s", what, show(got, g, sizeof(g)),
              show(want, w, sizeof(w)));
}

/* The address attribute id of m equals want. */
static void assert_attr_addr(const struct stun_msg *m, enum stun_attr_id id,
                             const struct stun_addr *want, const char *what)
{
    struct stun_addr got;
    cr_assert(stun_msg_get_addr(m, id, &got), "%s is present", what);
    assert_addr_eq(&got, want, what);
}

/* The answer carries exactly the attributes in mask (BIT(id) each), none unknown. */
static void assert_attrs(const struct stun_msg *m, uint32_t mask)
{
    cr_assert_eq(m->present, mask, "attributes 0x%08x, want 0x%08x", m->present, mask);
    cr_assert_eq(m->n_unknown, 0);
}

static void put32(uint8_t *p, uint32_t v)
{
    craft_put16(p, (uint16_t)(v >> 16));
    craft_put16(p + 2, (uint16_t)v);
}

/* Appends a correct FINGERPRINT (RFC 8489 §14.7) as the last attribute. */
static void craft_fingerprint(struct craft *c)
{
    uint32_t off = (uint32_t)c->len;
    craft_attr(c, STUN_ATTR_FINGERPRINT, (uint8_t[4]){0}, 4);
    put32(c->buf + off + STUN_ATTR_HEADER_LEN, stun_fingerprint_compute(c->buf, off));
}

static void craft_change(struct craft *c, uint8_t flags)
{
    craft_attr(c, STUN_ATTR_CHANGE_REQUEST, (uint8_t[]){0, 0, 0, flags}, 4);
}

static void craft_response_port(struct craft *c, uint16_t port)
{
    craft_attr(c, STUN_ATTR_RESPONSE_PORT, (uint8_t[]){(uint8_t)(port >> 8), (uint8_t)port, 0, 0},
               4);
}

static void craft_padding(struct craft *c, uint16_t len)
{
    static const uint8_t junk[1900];
    cr_assert_leq(len, sizeof(junk));
    craft_attr(c, STUN_ATTR_PADDING, junk, len);
}

/* The request io/ would hand over: c arriving on endpoint ep of eps from client. */
static struct stun_request request(const struct craft *c, const struct stun_endpoints *eps,
                                   enum stun_endpoint ep)
{
    return (struct stun_request){
        .data = guard_place(&in_guard, c->buf, c->len),
        .len = c->len,
        .source = &client,
        .local = &eps->addr[ep],
        .arrived = ep,
        .eps = eps,
        .stream = false,
    };
}

static struct stun_reply handle(const struct stun_handler_config *cfg,
                                const struct stun_request *req)
{
    struct stun_reply reply;
    memset(out, 0xA5, sizeof(out));
    memset(&reply, 0x5A, sizeof(reply)); /* every field must be written */
    stun_handle(cfg, req, out, sizeof(out), &reply);
    return reply;
}

/* Parses the answer; it must be a well-formed message. */
static void parse_answer(const struct stun_reply *r, struct stun_msg *m)
{
    cr_assert_gt(r->len, 0, "an answer was written (status %s)", stun_status_name(r->status));
    cr_assert_leq(r->len, OUT_CAP);
    cr_assert_eq(stun_msg_parse(m, out, r->len), STUN_OK, "the answer parses");
}

/* A success answer from from_ep to the client, echoing req's transaction id. */
static void assert_success(const struct stun_request *req, const struct stun_reply *r,
                           struct stun_msg *m, enum stun_endpoint from_ep)
{
    cr_assert_eq(r->status, STUN_OK, "status %s", stun_status_name(r->status));
    cr_assert_eq(r->code, 0, "a success has no code");
    parse_answer(r, m);
    cr_assert_eq(m->type, 0x0101, "Binding Success Response, got 0x%04x", m->type);
    cr_assert_arr_eq(out + 4, req->data + 4, 16, "transaction id (and cookie) echoed");
    cr_assert_eq(r->from, from_ep, "sent from endpoint %d, want %d", r->from, from_ep);
    assert_addr_eq(&r->dest, req->source, "dest");
}

/* An error answer of code to req, from its arrival endpoint to its source. */
static void assert_error(const struct stun_request *req, const struct stun_reply *r,
                         struct stun_msg *m, enum stun_status why, int code)
{
    int got;
    const char *reason;
    uint16_t reason_len;
    cr_assert_eq(r->status, why, "status %s, want %s", stun_status_name(r->status),
                 stun_status_name(why));
    parse_answer(r, m);
    cr_assert_eq(m->cls, STUN_CLASS_ERROR);
    cr_assert_eq(m->method, stun_type_method((uint16_t)(req->data[0] << 8 | req->data[1])));
    cr_assert_arr_eq(out + 4, req->data + 4, 16, "transaction id (and cookie) echoed");
    cr_assert(stun_msg_get_error(m, &got, &reason, &reason_len));
    cr_assert_eq(got, code);
    cr_assert_eq(r->code, code, "reply.code %u names the code sent", r->code);
    cr_assert_gt(reason_len, 0, "a reason phrase");
    cr_assert_eq(r->from, req->arrived);
    assert_addr_eq(&r->dest, req->source, "dest");
}

/* UNKNOWN-ATTRIBUTES lists exactly want[0..n). */
static void assert_unknown(const struct stun_msg *m, const uint16_t *want, size_t n)
{
    uint16_t types[16];
    size_t got = stun_msg_get_unknown_list(m, types, 16);
    cr_assert_eq(got, n, "UNKNOWN-ATTRIBUTES holds %zu types, want %zu", got, n);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(types[i], want[i], "entry %zu: 0x%04x, want 0x%04x", i, types[i], want[i]);
}

static void assert_dropped(const struct stun_request *req, enum stun_status why)
{
    struct stun_reply r = handle(&plain, req);
    cr_assert_eq(r.status, why, "status %s, want %s", stun_status_name(r.status),
                 stun_status_name(why));
    cr_assert(stun_status_is_drop(r.status));
    cr_assert_eq(r.len, 0, "nothing is sent");
}

/* Binding: the plain answer. */

Test(handler, binding_single_address_answers_xor_mapped_only)
{
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, false);
    struct stun_request req = request(&c, &single, STUN_EP_A1P1);
    struct stun_reply r = handle(&plain, &req);
    assert_success(&req, &r, &m, STUN_EP_A1P1);
    cr_assert_eq(r.len, MIN_ANSWER, "20 bytes in, 32 out: amplification 1.6");
    cr_assert_not(m.classic);
    assert_attrs(&m, BIT(STUN_A_XOR_MAPPED_ADDRESS));
    assert_attr_addr(&m, STUN_A_XOR_MAPPED_ADDRESS, &client, "XOR-MAPPED-ADDRESS");
}

Test(handler, binding_fingerprint_is_echoed)
{
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, false);
    craft_fingerprint(&c);
    struct stun_request req = request(&c, &single, STUN_EP_A1P1);
    struct stun_reply r = handle(&plain, &req);
    assert_success(&req, &r, &m, STUN_EP_A1P1);
    cr_assert_eq(r.len, MIN_ANSWER + 8);
    assert_attrs(&m, BIT(STUN_A_XOR_MAPPED_ADDRESS) | BIT(STUN_A_FINGERPRINT));
    cr_assert_eq(stun_msg_check_fingerprint(&m), STUN_OK);
    assert_attr_addr(&m, STUN_A_XOR_MAPPED_ADDRESS, &client, "XOR-MAPPED-ADDRESS");
}

Test(handler, binding_bad_fingerprint_is_dropped)
{
    /* RFC 8489 §7.3: a FINGERPRINT that does not match is silently discarded. */
    struct craft c;
    craft_binding_request(&c, false);
    craft_fingerprint(&c);
    c.buf[c.len - 1] ^= 0x01;
    struct stun_request req = request(&c, &single, STUN_EP_A1P1);
    assert_dropped(&req, STUN_DROP_BAD_FINGERPRINT);
}

Test(handler, software_is_added_when_configured)
{
    struct craft c;
    struct stun_msg m;
    uint16_t len;
    craft_binding_request(&c, false);
    struct stun_request req = request(&c, &single, STUN_EP_A1P1);
    struct stun_reply r = handle(&with_software, &req);
    assert_success(&req, &r, &m, STUN_EP_A1P1);
    assert_attrs(&m, BIT(STUN_A_XOR_MAPPED_ADDRESS) | BIT(STUN_A_SOFTWARE));
    const uint8_t *v = stun_msg_attr(&m, STUN_A_SOFTWARE, &len);
    cr_assert_eq(len, 13);
    cr_assert_arr_eq(v, "stunring test", 13);
    cr_assert_eq(r.len, MIN_ANSWER + 4 + 16);
}

/* RFC 5780 §6.1: a server with A2 and P2. */

/* RFC 5780 §6.1: MAPPED-ADDRESS beside XOR-MAPPED-ADDRESS, then OTHER-
 * ADDRESS and RESPONSE-ORIGIN. */
Test(handler, alternate_adds_mapped_other_address_and_response_origin)
{
    struct craft c;
    struct stun_msg m;
    for (int ep = 0; ep < STUN_EP_COUNT; ep++) {
        craft_binding_request(&c, false);
        struct stun_request req = request(&c, &four, (enum stun_endpoint)ep);
        struct stun_reply r = handle(&plain, &req);
        assert_success(&req, &r, &m, (enum stun_endpoint)ep);
        cr_assert_eq(r.len, MIN_ANSWER + 3 * 12, "arrived on %d", ep);
        assert_attrs(&m, BIT(STUN_A_XOR_MAPPED_ADDRESS) | BIT(STUN_A_MAPPED_ADDRESS) |
                             BIT(STUN_A_OTHER_ADDRESS) | BIT(STUN_A_RESPONSE_ORIGIN));
        assert_attr_addr(&m, STUN_A_XOR_MAPPED_ADDRESS, &client, "XOR-MAPPED-ADDRESS");
        assert_attr_addr(&m, STUN_A_MAPPED_ADDRESS, &client, "MAPPED-ADDRESS");
        assert_attr_addr(&m, STUN_A_OTHER_ADDRESS, &four.addr[other_of[ep]], "OTHER-ADDRESS");
        assert_attr_addr(&m, STUN_A_RESPONSE_ORIGIN, &four.addr[ep], "RESPONSE-ORIGIN");
    }
}

Test(handler, change_request_modern_follows_table_1)
{
    struct craft c;
    struct stun_msg m;
    for (int ep = 0; ep < STUN_EP_COUNT; ep++) {
        for (int f = 0; f < 4; f++) {
            enum stun_endpoint want = table1[ep][f];
            craft_binding_request(&c, false);
            craft_change(&c, change_flags[f]);
            struct stun_request req = request(&c, &four, (enum stun_endpoint)ep);
            struct stun_reply r = handle(&plain, &req);
            cr_assert_eq(r.from, want, "arrived %d flags 0x%x: from %d, want %d", ep,
                         change_flags[f], r.from, want);
            assert_success(&req, &r, &m, want);
            assert_attrs(&m, BIT(STUN_A_XOR_MAPPED_ADDRESS) | BIT(STUN_A_MAPPED_ADDRESS) |
                                 BIT(STUN_A_OTHER_ADDRESS) | BIT(STUN_A_RESPONSE_ORIGIN));
            assert_attr_addr(&m, STUN_A_XOR_MAPPED_ADDRESS, &client, "XOR-MAPPED-ADDRESS");
            assert_attr_addr(&m, STUN_A_RESPONSE_ORIGIN, &four.addr[want], "RESPONSE-ORIGIN");
            assert_attr_addr(&m, STUN_A_OTHER_ADDRESS, &four.addr[other_of[ep]], "OTHER-ADDRESS");
        }
    }
}

Test(handler, change_request_classic_follows_table_1)
{
    /* RFC 3489 §8.1, §11.2.3, §11.2.5: MAPPED-, SOURCE- and CHANGED-ADDRESS. */
    struct craft c;
    struct stun_msg m;
    for (int ep = 0; ep < STUN_EP_COUNT; ep++) {
        for (int f = 0; f < 4; f++) {
            enum stun_endpoint want = table1[ep][f];
            craft_binding_request(&c, true);
            craft_change(&c, change_flags[f]);
            struct stun_request req = request(&c, &four, (enum stun_endpoint)ep);
            struct stun_reply r = handle(&plain, &req);
            cr_assert_eq(r.from, want, "arrived %d flags 0x%x: from %d, want %d", ep,
                         change_flags[f], r.from, want);
            assert_success(&req, &r, &m, want);
            cr_assert(m.classic);
            cr_assert_arr_eq(out + 4, c.buf + 4, STUN_CLASSIC_TID_LEN, "128-bit id echoed");
            cr_assert_eq(r.len, 20 + 3 * 12);
            assert_attrs(&m, BIT(STUN_A_MAPPED_ADDRESS) | BIT(STUN_A_SOURCE_ADDRESS) |
                                 BIT(STUN_A_CHANGED_ADDRESS));
            assert_attr_addr(&m, STUN_A_MAPPED_ADDRESS, &client, "MAPPED-ADDRESS");
            assert_attr_addr(&m, STUN_A_SOURCE_ADDRESS, &four.addr[want], "SOURCE-ADDRESS");
            assert_attr_addr(&m, STUN_A_CHANGED_ADDRESS, &four.addr[other_of[ep]],
                             "CHANGED-ADDRESS");
        }
    }
}

Test(handler, change_request_without_alternate_is_420)
{
    /* RFC 5780 §6: no alternate address and port, so 420 to a CHANGE-
     * REQUEST asking for a change (no change: see the next test). */
    static const uint16_t listed[] = {STUN_ATTR_CHANGE_REQUEST};
    struct craft c;
    struct stun_msg m;
    for (int f = 1; f < 4; f++) {
        craft_binding_request(&c, false);
        craft_change(&c, change_flags[f]);
        struct stun_request req = request(&c, &single, STUN_EP_A1P1);
        struct stun_reply r = handle(&plain, &req);
        assert_error(&req, &r, &m, STUN_REJECT_NO_ALTERNATE, 420);
        cr_assert_eq(m.type, 0x0111);
        assert_attrs(&m, BIT(STUN_A_ERROR_CODE) | BIT(STUN_A_UNKNOWN_ATTRIBUTES));
        assert_unknown(&m, listed, 1);
    }
}

/* Issue 9 item 6: Debian's stun sends CHANGE-REQUEST 0 in test I, in both
 * styles; a single-address server answers it as a plain Binding. */
Test(handler, change_request_for_no_change_is_answered_without_alternate)
{
    struct craft c;
    struct stun_msg m;
    for (int classic = 0; classic < 2; classic++) {
        craft_binding_request(&c, classic);
        craft_change(&c, 0);
        struct stun_request req = request(&c, &single, STUN_EP_A1P1);
        struct stun_reply r = handle(&plain, &req);
        assert_success(&req, &r, &m, STUN_EP_A1P1);
        if (classic) {
            assert_attr_addr(&m, STUN_A_MAPPED_ADDRESS, &client, "MAPPED-ADDRESS");
        } else {
            assert_attrs(&m, BIT(STUN_A_XOR_MAPPED_ADDRESS));
            assert_attr_addr(&m, STUN_A_XOR_MAPPED_ADDRESS, &client, "XOR-MAPPED-ADDRESS");
        }
    }
}

Test(handler, change_request_over_stream_is_420)
{
    static const uint16_t listed[] = {STUN_ATTR_CHANGE_REQUEST};
    struct craft c;
    struct stun_msg m;
    for (int f = 1; f < 4; f++) {
        craft_binding_request(&c, false);
        craft_change(&c, change_flags[f]);
        struct stun_request req = request(&c, &four, STUN_EP_A1P1);
        req.stream = true;
        struct stun_reply r = handle(&plain, &req);
        assert_error(&req, &r, &m, STUN_REJECT_NO_ALTERNATE, 420);
        assert_unknown(&m, listed, 1);
    }
}

Test(handler, change_request_zero_over_stream_is_answered)
{
    /* Flags 0 ask for nothing a stream cannot do. */
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, false);
    craft_change(&c, 0);
    struct stun_request req = request(&c, &four, STUN_EP_A2P1);
    req.stream = true;
    struct stun_reply r = handle(&plain, &req);
    assert_success(&req, &r, &m, STUN_EP_A2P1);
    assert_attr_addr(&m, STUN_A_RESPONSE_ORIGIN, &four.addr[STUN_EP_A2P1], "RESPONSE-ORIGIN");
}

Test(handler, classic_single_address_names_itself)
{
    /* CHANGED-ADDRESS is mandatory in RFC 3489; with no alternate it is A1P1. */
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, true);
    struct stun_request req = request(&c, &single, STUN_EP_A1P1);
    struct stun_reply r = handle(&plain, &req);
    assert_success(&req, &r, &m, STUN_EP_A1P1);
    assert_attrs(&m, BIT(STUN_A_MAPPED_ADDRESS) | BIT(STUN_A_SOURCE_ADDRESS) |
                         BIT(STUN_A_CHANGED_ADDRESS));
    assert_attr_addr(&m, STUN_A_MAPPED_ADDRESS, &client, "MAPPED-ADDRESS");
    assert_attr_addr(&m, STUN_A_SOURCE_ADDRESS, &single.addr[0], "SOURCE-ADDRESS");
    assert_attr_addr(&m, STUN_A_CHANGED_ADDRESS, &single.addr[0], "CHANGED-ADDRESS");
}

/* RESPONSE-PORT (RFC 5780 §7.5). */

Test(handler, response_port_redirects_the_answer)
{
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, false);
    craft_response_port(&c, 5000);
    struct stun_request req = request(&c, &four, STUN_EP_A1P2);
    struct stun_reply r = handle(&plain, &req);
    cr_assert_eq(r.status, STUN_OK);
    cr_assert_eq(r.dest.port, 5000);
    cr_assert_eq(r.dest.family, STUN_FAMILY_IPV4);
    cr_assert_arr_eq(r.dest.ip, client.ip, 4, "same IP as the source");
    cr_assert_eq(r.from, STUN_EP_A1P2);
    parse_answer(&r, &m);
    cr_assert_eq(m.type, 0x0101);
    assert_attr_addr(&m, STUN_A_XOR_MAPPED_ADDRESS, &client, "XOR-MAPPED-ADDRESS (the source)");
    assert_attr_addr(&m, STUN_A_RESPONSE_ORIGIN, &four.addr[STUN_EP_A1P2], "RESPONSE-ORIGIN");
}

Test(handler, response_port_with_change_request)
{
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, false);
    craft_response_port(&c, 6000);
    craft_change(&c, STUN_CHANGE_IP);
    struct stun_request req = request(&c, &four, STUN_EP_A1P1);
    struct stun_reply r = handle(&plain, &req);
    cr_assert_eq(r.status, STUN_OK);
    cr_assert_eq(r.from, STUN_EP_A2P1);
    cr_assert_eq(r.dest.port, 6000);
    cr_assert_arr_eq(r.dest.ip, client.ip, 4);
    parse_answer(&r, &m);
    assert_attr_addr(&m, STUN_A_RESPONSE_ORIGIN, &four.addr[STUN_EP_A2P1], "RESPONSE-ORIGIN");
}

Test(handler, response_port_over_stream_is_420)
{
    static const uint16_t listed[] = {STUN_ATTR_RESPONSE_PORT};
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, false);
    craft_response_port(&c, 5000);
    struct stun_request req = request(&c, &four, STUN_EP_A1P1);
    req.stream = true;
    struct stun_reply r = handle(&plain, &req);
    assert_error(&req, &r, &m, STUN_REJECT_STREAM_ONLY_UDP, 420);
    assert_attrs(&m, BIT(STUN_A_ERROR_CODE) | BIT(STUN_A_UNKNOWN_ATTRIBUTES));
    assert_unknown(&m, listed, 1);
}

Test(handler, response_port_zero_is_400)
{
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, false);
    craft_response_port(&c, 0);
    struct stun_request req = request(&c, &four, STUN_EP_A1P1);
    struct stun_reply r = handle(&plain, &req);
    assert_error(&req, &r, &m, STUN_REJECT_BAD_PORT, 400);
    assert_attrs(&m, BIT(STUN_A_ERROR_CODE));
}

Test(handler, response_port_with_padding_is_400)
{
    /* RFC 5780 §6.1: PADDING and RESPONSE-PORT together get 400. */
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, false);
    craft_response_port(&c, 5000);
    craft_padding(&c, 64);
    struct stun_request req = request(&c, &four, STUN_EP_A1P1);
    struct stun_reply r = handle(&plain, &req);
    assert_error(&req, &r, &m, STUN_REJECT_PADDING_AND_PORT, 400);
    assert_attrs(&m, BIT(STUN_A_ERROR_CODE));
}

/* PADDING (RFC 5780 §7.6): the answer as large as the request, never larger. */

static void assert_padded_size(const struct stun_reply *r, const struct stun_msg *m, size_t req_len)
{
    cr_assert(stun_msg_has(m, STUN_A_PADDING), "the answer carries PADDING");
    cr_assert_leq(r->len, req_len, "answer %zu bytes for a %zu-byte request: amplifies", r->len,
                  req_len);
    cr_assert_geq(r->len + 8, req_len, "answer %zu bytes for a %zu-byte request: too small", r->len,
                  req_len);
}

Test(handler, padding_fills_answer_to_request_size)
{
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, false);
    craft_padding(&c, 200);
    struct stun_request req = request(&c, &single, STUN_EP_A1P1);
    struct stun_reply r = handle(&plain, &req);
    assert_success(&req, &r, &m, STUN_EP_A1P1);
    assert_attrs(&m, BIT(STUN_A_XOR_MAPPED_ADDRESS) | BIT(STUN_A_PADDING));
    assert_attr_addr(&m, STUN_A_XOR_MAPPED_ADDRESS, &client, "XOR-MAPPED-ADDRESS");
    assert_padded_size(&r, &m, c.len);
}

Test(handler, padding_with_alternate_and_fingerprint_fills_to_request_size)
{
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, false);
    craft_padding(&c, 301); /* odd: the request's attribute is padded to 304 */
    craft_fingerprint(&c);
    struct stun_request req = request(&c, &four, STUN_EP_A2P2);
    struct stun_reply r = handle(&plain, &req);
    assert_success(&req, &r, &m, STUN_EP_A2P2);
    assert_attrs(&m, BIT(STUN_A_XOR_MAPPED_ADDRESS) | BIT(STUN_A_MAPPED_ADDRESS) |
                         BIT(STUN_A_OTHER_ADDRESS) | BIT(STUN_A_RESPONSE_ORIGIN) |
                         BIT(STUN_A_PADDING) | BIT(STUN_A_FINGERPRINT));
    cr_assert_eq(stun_msg_check_fingerprint(&m), STUN_OK);
    assert_padded_size(&r, &m, c.len);
}

Test(handler, padding_with_software_does_not_amplify)
{
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, false);
    craft_padding(&c, 200);
    struct stun_request req = request(&c, &single, STUN_EP_A1P1);
    struct stun_reply r = handle(&with_software, &req);
    assert_success(&req, &r, &m, STUN_EP_A1P1);
    cr_assert(stun_msg_has(&m, STUN_A_SOFTWARE));
    assert_padded_size(&r, &m, c.len);
}

Test(handler, padding_of_a_full_mtu_request_is_matched)
{
    /* The point of PADDING is fragmentation: a 1500-byte IP datagram in, the same out. */
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, false);
    craft_padding(&c, 1500 - 20 - 8 - 20 - 4); /* IPv4 + UDP + STUN + PADDING headers */
    cr_assert_eq(c.len, 1472);
    struct stun_request req = request(&c, &single, STUN_EP_A1P1);
    struct stun_reply r = handle(&plain, &req);
    assert_success(&req, &r, &m, STUN_EP_A1P1);
    assert_padded_size(&r, &m, c.len);
}

Test(handler, padding_answer_fits_the_documented_minimum_buffer)
{
    /* handler.h: "a cap of 548 bytes ... always suffices". */
    struct craft c;
    struct stun_msg m;
    struct stun_reply r;
    craft_binding_request(&c, false);
    craft_padding(&c, 1000);
    struct stun_request req = request(&c, &single, STUN_EP_A1P1);
    memset(out, 0xA5, sizeof(out));
    stun_handle(&plain, &req, out, 548, &r);
    cr_assert_eq(r.status, STUN_OK);
    cr_assert_gt(r.len, 0, "a padded request gets no answer in a 548-byte buffer");
    cr_assert_leq(r.len, 548);
    parse_answer(&r, &m);
    cr_assert(stun_msg_has(&m, STUN_A_PADDING));
}

/* RESPONSE-ADDRESS (RFC 3489 §8.1, §12.1): never without authentication. */

Test(handler, response_address_is_401)
{
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, false);
    craft_attr(&c, STUN_ATTR_RESPONSE_ADDRESS, (uint8_t[]){0, 1, 0x13, 0x88, 10, 0, 0, 9}, 8);
    struct stun_request req = request(&c, &four, STUN_EP_A1P1);
    struct stun_reply r = handle(&plain, &req);
    assert_error(&req, &r, &m, STUN_REJECT_RESPONSE_ADDRESS, 401);
    cr_assert_eq(m.type, 0x0111);
    assert_attrs(&m, BIT(STUN_A_ERROR_CODE));
}

Test(handler, response_address_classic_is_401)
{
    struct craft c;
    struct stun_msg m;
    int code;
    const char *reason;
    uint16_t reason_len;
    craft_binding_request(&c, true);
    craft_attr(&c, STUN_ATTR_RESPONSE_ADDRESS, (uint8_t[]){0, 1, 0x13, 0x88, 10, 0, 0, 9}, 8);
    struct stun_request req = request(&c, &four, STUN_EP_A2P1);
    struct stun_reply r = handle(&plain, &req);
    assert_error(&req, &r, &m, STUN_REJECT_RESPONSE_ADDRESS, 401);
    cr_assert(m.classic);
    cr_assert_eq(m.type, 0x0111);
    cr_assert(stun_msg_get_error(&m, &code, &reason, &reason_len));
    cr_assert_eq(reason_len % 4, 0, "RFC 3489 §11.2.9: reason padded to 4");
}

/* Shared Secret Request (RFC 3489 §8.2): only over TLS, which we do not mint on. */

Test(handler, shared_secret_classic_is_433)
{
    struct craft c;
    struct stun_msg m;
    craft_start(&c, stun_type(STUN_METHOD_SHARED_SECRET, STUN_CLASS_REQUEST), true);
    cr_assert_eq(c.buf[1], 0x02);
    struct stun_request req = request(&c, &four, STUN_EP_A1P1);
    struct stun_reply r = handle(&plain, &req);
    assert_error(&req, &r, &m, STUN_REJECT_USE_TLS, 433);
    cr_assert(m.classic);
    cr_assert_eq(m.type, 0x0112);
    assert_attrs(&m, BIT(STUN_A_ERROR_CODE));
}

Test(handler, shared_secret_modern_is_433)
{
    struct craft c;
    struct stun_msg m;
    craft_start(&c, stun_type(STUN_METHOD_SHARED_SECRET, STUN_CLASS_REQUEST), false);
    struct stun_request req = request(&c, &single, STUN_EP_A1P1);
    struct stun_reply r = handle(&plain, &req);
    assert_error(&req, &r, &m, STUN_REJECT_USE_TLS, 433);
    cr_assert_not(m.classic);
    cr_assert_eq(m.type, 0x0112);
    assert_attrs(&m, BIT(STUN_A_ERROR_CODE));
}

/* Unknown attributes (RFC 8489 §7.3.1, RFC 3489 §8.2 / §11.2.10). */

Test(handler, unknown_required_attribute_is_420)
{
    static const uint16_t listed[] = {0x0033, 0x7001};
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, false);
    craft_attr(&c, 0x0033, "abcd", 4);
    craft_attr(&c, 0x8033, "opt", 3); /* comprehension-optional: not listed */
    craft_attr(&c, 0x7001, NULL, 0);
    struct stun_request req = request(&c, &four, STUN_EP_A1P2);
    struct stun_reply r = handle(&plain, &req);
    assert_error(&req, &r, &m, STUN_REJECT_UNKNOWN_ATTR, 420);
    cr_assert_eq(m.type, 0x0111);
    assert_attrs(&m, BIT(STUN_A_ERROR_CODE) | BIT(STUN_A_UNKNOWN_ATTRIBUTES));
    assert_unknown(&m, listed, 2);
}

Test(handler, unknown_required_attribute_classic_repeats_one)
{
    static const uint16_t listed[] = {0x0033, 0x0033};
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, true);
    craft_attr(&c, 0x0033, "abcd", 4);
    struct stun_request req = request(&c, &four, STUN_EP_A1P1);
    struct stun_reply r = handle(&plain, &req);
    assert_error(&req, &r, &m, STUN_REJECT_UNKNOWN_ATTR, 420);
    cr_assert(m.classic);
    assert_unknown(&m, listed, 2);
}

Test(handler, unknown_optional_attribute_is_ignored)
{
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, false);
    craft_attr(&c, 0x8033, "opt", 3);
    struct stun_request req = request(&c, &single, STUN_EP_A1P1);
    struct stun_reply r = handle(&plain, &req);
    assert_success(&req, &r, &m, STUN_EP_A1P1);
    assert_attrs(&m, BIT(STUN_A_XOR_MAPPED_ADDRESS));
}

Test(handler, error_answer_keeps_fingerprint_and_software)
{
    static const uint16_t listed[] = {0x0033};
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, false);
    craft_attr(&c, 0x0033, "abcd", 4);
    craft_fingerprint(&c);
    struct stun_request req = request(&c, &single, STUN_EP_A1P1);
    struct stun_reply r = handle(&with_software, &req);
    assert_error(&req, &r, &m, STUN_REJECT_UNKNOWN_ATTR, 420);
    assert_attrs(&m, BIT(STUN_A_ERROR_CODE) | BIT(STUN_A_UNKNOWN_ATTRIBUTES) |
                         BIT(STUN_A_SOFTWARE) | BIT(STUN_A_FINGERPRINT));
    assert_unknown(&m, listed, 1);
    cr_assert_eq(stun_msg_check_fingerprint(&m), STUN_OK);
}

/* Malformed attributes: 400 (RFC 8489 §6.3.1). */

Test(handler, overrunning_attribute_is_400)
{
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, false);
    craft_attr(&c, STUN_ATTR_SOFTWARE, "abcd", 4);
    craft_put16(c.buf + STUN_HEADER_LEN + 2, 5); /* one byte more than is there */
    struct stun_request req = request(&c, &single, STUN_EP_A1P1);
    struct stun_reply r = handle(&with_software, &req);
    assert_error(&req, &r, &m, STUN_REJECT_ATTR_OVERRUN, 400);
    cr_assert_eq(m.type, 0x0111);
    assert_attrs(&m, BIT(STUN_A_ERROR_CODE) | BIT(STUN_A_SOFTWARE));
}

Test(handler, invalid_address_family_is_400)
{
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, true);
    craft_attr(&c, STUN_ATTR_MAPPED_ADDRESS, (uint8_t[]){0, 3, 0x13, 0x88, 10, 0, 0, 9}, 8);
    struct stun_request req = request(&c, &single, STUN_EP_A1P1);
    struct stun_reply r = handle(&plain, &req);
    assert_error(&req, &r, &m, STUN_REJECT_ATTR_INVALID, 400);
    cr_assert(m.classic);
    assert_attrs(&m, BIT(STUN_A_ERROR_CODE));
}

/* Silently dropped: nothing is sent. */

Test(handler, binding_indication_is_dropped)
{
    struct craft c;
    craft_start(&c, stun_type(STUN_METHOD_BINDING, STUN_CLASS_INDICATION), false);
    cr_assert_eq(c.buf[1], 0x11);
    struct stun_request req = request(&c, &four, STUN_EP_A1P1);
    assert_dropped(&req, STUN_DROP_INDICATION);
}

Test(handler, success_response_is_dropped)
{
    struct craft c;
    craft_start(&c, 0x0101, false);
    craft_attr(&c, STUN_ATTR_XOR_MAPPED_ADDRESS, (uint8_t[]){0, 1, 0xa1, 0x47, 1, 2, 3, 4}, 8);
    struct stun_request req = request(&c, &four, STUN_EP_A1P1);
    assert_dropped(&req, STUN_DROP_RESPONSE);
}

Test(handler, error_response_is_dropped)
{
    struct craft c;
    craft_start(&c, 0x0111, true);
    craft_attr(&c, STUN_ATTR_ERROR_CODE, (uint8_t[]){0, 0, 4, 0}, 4);
    struct stun_request req = request(&c, &four, STUN_EP_A1P1);
    assert_dropped(&req, STUN_DROP_RESPONSE);
}

Test(handler, unknown_method_is_dropped)
{
    struct craft c;
    craft_start(&c, stun_type(0x003, STUN_CLASS_REQUEST), false); /* TURN Allocate */
    struct stun_request req = request(&c, &four, STUN_EP_A1P1);
    assert_dropped(&req, STUN_DROP_METHOD);
}

Test(handler, non_stun_is_dropped)
{
    struct craft c;
    craft_binding_request(&c, false);
    c.buf[0] |= 0x80; /* RFC 8489 §6.3: the two leading bits are zero */
    struct stun_request req = request(&c, &four, STUN_EP_A1P1);
    assert_dropped(&req, STUN_DROP_NOT_STUN);
}

Test(handler, short_datagram_is_dropped)
{
    struct craft c;
    craft_binding_request(&c, false);
    for (size_t len = 0; len < STUN_HEADER_LEN; len++) {
        c.len = len;
        struct stun_request req = request(&c, &four, STUN_EP_A1P1);
        assert_dropped(&req, STUN_DROP_SHORT);
    }
}

Test(handler, length_field_mismatch_is_dropped)
{
    struct craft c;
    craft_binding_request(&c, false);
    craft_attr(&c, STUN_ATTR_SOFTWARE, "abcd", 4);
    craft_set_length(&c, 4);
    struct stun_request req = request(&c, &four, STUN_EP_A1P1);
    assert_dropped(&req, STUN_DROP_LENGTH);
}

/* Wildcard binds: the address the request arrived at stands in. */

Test(handler, wildcard_response_origin_is_the_arrival_address)
{
    /* A1 bound to 0.0.0.0. stunringd refuses a wildcard beside --alt-address,
     * but handler.h allows one, so the handler must still name A1 right. */
    struct stun_endpoints eps = four;
    memset(eps.addr[STUN_EP_A1P1].ip, 0, 4);
    memset(eps.addr[STUN_EP_A1P2].ip, 0, 4);
    const struct stun_addr arrival = {STUN_FAMILY_IPV4, P1, {127, 0, 0, 5}};
    const struct stun_addr arrival_p2 = {STUN_FAMILY_IPV4, P2, {127, 0, 0, 5}};
    struct craft c;
    struct stun_msg m;

    craft_binding_request(&c, false);
    struct stun_request req = request(&c, &eps, STUN_EP_A1P1);
    req.local = &arrival;
    struct stun_reply r = handle(&plain, &req);
    assert_success(&req, &r, &m, STUN_EP_A1P1);
    assert_attr_addr(&m, STUN_A_RESPONSE_ORIGIN, &arrival, "RESPONSE-ORIGIN");
    assert_attr_addr(&m, STUN_A_OTHER_ADDRESS, &four.addr[STUN_EP_A2P2], "OTHER-ADDRESS");

    craft_binding_request(&c, false);
    craft_change(&c, STUN_CHANGE_PORT);
    req = request(&c, &eps, STUN_EP_A1P1);
    req.local = &arrival;
    r = handle(&plain, &req);
    assert_success(&req, &r, &m, STUN_EP_A1P2);
    assert_attr_addr(&m, STUN_A_RESPONSE_ORIGIN, &arrival_p2, "RESPONSE-ORIGIN after port change");
}

Test(handler, wildcard_classic_source_address_is_the_arrival_address)
{
    struct stun_endpoints eps = single;
    memset(eps.addr[STUN_EP_A1P1].ip, 0, 4);
    const struct stun_addr arrival = {STUN_FAMILY_IPV4, P1, {127, 0, 0, 5}};
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, true);
    struct stun_request req = request(&c, &eps, STUN_EP_A1P1);
    req.local = &arrival;
    struct stun_reply r = handle(&plain, &req);
    assert_success(&req, &r, &m, STUN_EP_A1P1);
    assert_attr_addr(&m, STUN_A_MAPPED_ADDRESS, &client, "MAPPED-ADDRESS");
    assert_attr_addr(&m, STUN_A_SOURCE_ADDRESS, &arrival, "SOURCE-ADDRESS");
    assert_attr_addr(&m, STUN_A_CHANGED_ADDRESS, &arrival, "CHANGED-ADDRESS");
}

/* IPv6. */

Test(handler, ipv6_xor_mapped_round_trips)
{
    const struct stun_addr loop6 = {STUN_FAMILY_IPV6, 50000, {[15] = 1}};
    const struct stun_addr client6 = {
        STUN_FAMILY_IPV6, 50001, {0x20, 0x01, 0x0d, 0xb8, [8] = 0xfe, [15] = 0x42}};
    struct stun_endpoints eps = {.addr = {[STUN_EP_A1P1] = loop6}, .alternate = false};
    struct craft c;
    struct stun_msg m;
    for (int i = 0; i < 2; i++) {
        const struct stun_addr *src = i == 0 ? &loop6 : &client6;
        craft_binding_request(&c, false);
        struct stun_request req = request(&c, &eps, STUN_EP_A1P1);
        req.source = src;
        struct stun_reply r = handle(&plain, &req);
        assert_success(&req, &r, &m, STUN_EP_A1P1);
        cr_assert_eq(r.len, 20 + 24);
        assert_attrs(&m, BIT(STUN_A_XOR_MAPPED_ADDRESS));
        assert_attr_addr(&m, STUN_A_XOR_MAPPED_ADDRESS, src, "XOR-MAPPED-ADDRESS");
        /* The IPv6 bytes are masked with cookie and transaction id, not sent plain. */
        cr_assert(memcmp(out + 20 + 8, src->ip, 16) != 0);
    }
}

/* A buffer too small for the answer: nothing, and no write past it. */

Test(handler, small_buffer_writes_nothing)
{
    struct guard og;
    struct craft c;
    struct stun_reply r;
    guard_init(&og, 64);
    craft_binding_request(&c, false);
    for (size_t cap = 0; cap <= MIN_ANSWER; cap++) {
        struct stun_request req = request(&c, &single, STUN_EP_A1P1);
        uint8_t *o = og.map + og.usable - cap; /* flush against the guard page */
        stun_handle(&plain, &req, o, cap, &r);
        cr_assert_eq(r.status, STUN_OK);
        cr_assert_eq(r.len, cap < MIN_ANSWER ? 0 : MIN_ANSWER, "cap %zu: len %zu", cap, r.len);
    }
    guard_fini(&og);
}

Test(handler, small_buffer_error_writes_nothing)
{
    struct guard og;
    struct craft c;
    struct stun_reply r;
    guard_init(&og, 64);
    craft_binding_request(&c, true);
    craft_attr(&c, 0x0033, "abcd", 4);
    /* ERROR-CODE 4 + 4 + "Unknown Attribute   ", UNKNOWN-ATTRIBUTES 4 + 2 * 2. */
    const size_t full = 20 + 28 + 8;
    for (size_t cap = 0; cap <= full; cap++) {
        struct stun_request req = request(&c, &single, STUN_EP_A1P1);
        stun_handle(&plain, &req, og.map + og.usable - cap, cap, &r);
        cr_assert_eq(r.status, STUN_REJECT_UNKNOWN_ATTR);
        cr_assert_eq(r.len, cap < full ? 0 : full, "cap %zu: len %zu", cap, r.len);
    }
    guard_fini(&og);
}

/* The bare 20-byte Binding Request has a fast path in stun_handle: its
 * bytes must be exactly what the writer makes of the same answer. */

static size_t writer_answer(const uint8_t *req16, const struct stun_addr *src, uint8_t *buf,
                            size_t cap)
{
    struct stun_writer w;
    stun_writer_start(&w, buf, cap, stun_type(STUN_METHOD_BINDING, STUN_CLASS_SUCCESS), req16);
    stun_write_xor_addr(&w, STUN_ATTR_XOR_MAPPED_ADDRESS, src);
    return stun_writer_finish(&w);
}

Test(handler, bare_binding_fast_path_equals_the_writer)
{
    static const struct stun_addr sources[] = {
        {STUN_FAMILY_IPV4, 40000, {192, 0, 2, 7}},
        {STUN_FAMILY_IPV4, 0, {0, 0, 0, 0}},
        {STUN_FAMILY_IPV4, 65535, {255, 255, 255, 255}},
        {STUN_FAMILY_IPV6, 1, {0x20, 0x01, 0x0d, 0xb8, [15] = 1}},
        {STUN_FAMILY_IPV6, 65535, {[0 ... 15] = 0xFF}},
    };
    for (unsigned id = 0; id < 64; id++) {
        for (size_t s = 0; s < sizeof(sources) / sizeof(sources[0]); s++) {
            struct craft c;
            craft_binding_request(&c, false);
            for (int i = 8; i < 20; i++)
                c.buf[i] = (uint8_t)(id * 37 + i * 11); /* many transaction ids */
            struct stun_request req = request(&c, &single, STUN_EP_A1P1);
            req.source = &sources[s];
            struct stun_reply r = handle(&plain, &req);
            uint8_t want[64];
            size_t want_len = writer_answer(c.buf + 4, &sources[s], want, sizeof(want));
            cr_assert_eq(r.status, STUN_OK);
            cr_assert_eq(r.len, want_len, "source %zu id %u: %zu bytes, want %zu", s, id, r.len,
                         want_len);
            cr_assert_arr_eq(out, want, want_len, "source %zu id %u: the writer's bytes", s, id);
            cr_assert_eq(r.from, STUN_EP_A1P1);
            assert_addr_eq(&r.dest, &sources[s], "dest");
        }
    }
}

/* The answer fits exactly, or nothing is written past the buffer. */
Test(handler, bare_binding_respects_the_output_capacity)
{
    struct craft c;
    craft_binding_request(&c, false);
    struct stun_request req = request(&c, &single, STUN_EP_A1P1);
    struct guard out_guard;
    guard_init(&out_guard, GUARD_CAP);
    for (size_t cap = 0; cap <= MIN_ANSWER; cap++) {
        uint8_t *buf = out_guard.map + out_guard.usable - cap; /* flush against the guard */
        struct stun_reply r;
        stun_handle(&plain, &req, buf, cap, &r);
        cr_assert_eq(r.len, cap == MIN_ANSWER ? MIN_ANSWER : 0, "cap %zu: %zu bytes", cap, r.len);
    }
    guard_fini(&out_guard);
}

/* Where the server has more to say, the general path answers. */
Test(handler, bare_binding_takes_the_general_path_when_there_is_more)
{
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, false);
    struct stun_request req = request(&c, &four, STUN_EP_A1P1);
    struct stun_reply r = handle(&plain, &req);
    assert_success(&req, &r, &m, STUN_EP_A1P1);
    assert_attrs(&m, BIT(STUN_A_XOR_MAPPED_ADDRESS) | BIT(STUN_A_MAPPED_ADDRESS) |
                         BIT(STUN_A_OTHER_ADDRESS) | BIT(STUN_A_RESPONSE_ORIGIN));
    req = request(&c, &single, STUN_EP_A1P1);
    r = handle(&with_software, &req);
    assert_success(&req, &r, &m, STUN_EP_A1P1);
    assert_attrs(&m, BIT(STUN_A_XOR_MAPPED_ADDRESS) | BIT(STUN_A_SOFTWARE));
    struct stun_handler_config required = {.auth = STUN_AUTH_REQUIRED};
    r = handle(&required, &req);
    assert_error(&req, &r, &m, STUN_REJECT_NO_INTEGRITY, 400);
}

/* README "Amplification": the budgets, for the requests they were sized on. */
Test(handler, answer_budgets_known_values)
{
    const struct stun_addr client6 = {STUN_FAMILY_IPV6, 40000, {0x20, 0x01, 0x0d, 0xb8, [15] = 7}};
    struct craft c;
    craft_binding_request(&c, false);
    struct stun_request req = request(&c, &single, STUN_EP_A1P1);
    cr_assert_eq(stun_answer_budget(&plain, &req, STUN_ANSWER_SUCCESS), 20 + 12 + 8);
    cr_assert_eq(stun_answer_budget(&plain, &req, STUN_ANSWER_ERROR), 20 + 32 + 20 + 8);
    cr_assert_eq(stun_answer_budget(&plain, &req, STUN_ANSWER_CHALLENGE), 0, "no --realm");
    cr_assert_eq(stun_answer_budget(&with_software, &req, STUN_ANSWER_SUCCESS), 40 + 4 + 16);
    req = request(&c, &four, STUN_EP_A1P1);
    cr_assert_eq(stun_answer_budget(&plain, &req, STUN_ANSWER_SUCCESS), 20 + 4 * 12 + 8);
    req.source = &client6;
    cr_assert_eq(stun_answer_budget(&plain, &req, STUN_ANSWER_SUCCESS), 20 + 4 * 24 + 8);
    craft_binding_request(&c, true);
    req = request(&c, &single, STUN_EP_A1P1);
    cr_assert_eq(stun_answer_budget(&plain, &req, STUN_ANSWER_SUCCESS), 56);
    cr_assert_eq(stun_answer_budget(&plain, &req, STUN_ANSWER_ERROR), 72);
    req.source = &client6;
    cr_assert_eq(stun_answer_budget(&plain, &req, STUN_ANSWER_SUCCESS), 92);
    craft_padding(&c, 400);
    req = request(&c, &single, STUN_EP_A1P1);
    cr_assert_eq(stun_answer_budget(&plain, &req, STUN_ANSWER_SUCCESS), c.len, "PADDING: 1:1");
}

/* Adds n unknown comprehension-required attributes. */
static void craft_unknowns(struct craft *c, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        craft_attr(c, (uint16_t)(0x0040 + i), (uint8_t[4]){0}, 4);
}

/* Every unauthenticated answer of a spread of requests fits its budget. */
Test(handler, unauthenticated_answers_fit_their_budget)
{
    const struct stun_addr client6 = {STUN_FAMILY_IPV6, 40000, {0x20, 0x01, 0x0d, 0xb8, [15] = 7}};
    const struct stun_endpoints *eps[] = {&single, &four};
    const struct stun_handler_config *cfgs[] = {&plain, &with_software};
    const struct stun_addr *sources[] = {&client, &client6};
    struct craft c;
    struct stun_msg m;
    int checked = 0;
    for (int kind = 0; kind < 9; kind++) {
        for (unsigned i = 0; i < 2 * 2 * 2 * 2; i++) {
            bool classic = i & 1;
            craft_binding_request(&c, classic);
            if (kind == 1)
                craft_change(&c, STUN_CHANGE_IP | STUN_CHANGE_PORT);
            else if (kind == 2)
                craft_unknowns(&c, 12); /* more than STUN_MAX_UNKNOWN */
            else if (kind == 3)
                craft_padding(&c, 3);
            else if (kind == 4)
                craft_padding(&c, 301);
            else if (kind == 5)
                craft_response_port(&c, 0);
            else if (kind == 6)
                craft_attr(&c, STUN_ATTR_RESPONSE_ADDRESS,
                           (uint8_t[]){0, 1, 0x13, 0x88, 127, 0, 0, 1}, 8);
            else if (kind == 7)
                craft_attr(&c, STUN_ATTR_MAPPED_ADDRESS, (uint8_t[]){0, 9, 0, 0}, 4);
            else if (kind == 8)
                craft_change(&c, 0);
            if (!classic && (i & 2))
                craft_fingerprint(&c);
            struct stun_request req = request(&c, eps[(i >> 2) & 1], STUN_EP_A1P1);
            req.source = sources[(i >> 3) & 1];
            const struct stun_handler_config *cfg = cfgs[(i >> 1) & 1];
            struct stun_reply r = handle(cfg, &req);
            cr_assert_not(r.authenticated);
            if (r.len == 0)
                continue;
            parse_answer(&r, &m);
            enum stun_answer_kind k =
                m.cls == STUN_CLASS_SUCCESS ? STUN_ANSWER_SUCCESS : STUN_ANSWER_ERROR;
            size_t budget = stun_answer_budget(cfg, &req, k);
            cr_assert_leq(r.len, budget, "kind %d case %u: %zu bytes, budget %zu", kind, i, r.len,
                          budget);
            checked++;
        }
    }
    cr_assert_geq(checked, 9 * 16 - 16, "nearly every case was answered (%d)", checked);
}
