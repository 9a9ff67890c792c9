/* Request policy: RFC 3489, RFC 8489 and RFC 5780 server behaviour. */
#include "core/handler.h"

#include <string.h>

#include "core/integrity.h"
#include "core/writer.h"

/* A FINGERPRINT attribute: header and CRC. */
enum { FINGERPRINT_SIZE = 8 };

static bool ip_unspecified(const struct stun_addr *a)
{
    static const uint8_t zero[16];
    return memcmp(a->ip, zero, stun_addr_ip_len(a)) == 0;
}

/* The concrete address of an endpoint; a wildcard takes the arrival address. */
static struct stun_addr endpoint_addr(const struct stun_request *req, enum stun_endpoint ep)
{
    if (ep == req->arrived)
        return *req->local;
    struct stun_addr a = req->eps->addr[ep];
    if (ip_unspecified(&a))
        memcpy(a.ip, req->local->ip, sizeof(a.ip));
    return a;
}

/* Which requests are answered at all (RFC 8489 §6.3). */
static enum stun_status screen(const struct stun_msg *m)
{
    if (m->cls == STUN_CLASS_INDICATION)
        return STUN_DROP_INDICATION;
    if (m->cls != STUN_CLASS_REQUEST)
        return STUN_DROP_RESPONSE;
    if (m->method != STUN_METHOD_BINDING && m->method != STUN_METHOD_SHARED_SECRET)
        return STUN_DROP_METHOD;
    return STUN_OK;
}

/* RFC 3489 §8.1, RFC 5780 §6.1 and §7: what a Binding Request may ask. */
static enum stun_status check_binding(const struct stun_request *req, const struct stun_msg *m,
                                      uint32_t *change)
{
    uint16_t port;
    *change = 0;
    if (stun_msg_has(m, STUN_A_RESPONSE_ADDRESS))
        return STUN_REJECT_RESPONSE_ADDRESS; /* only for authenticated requests */
    if (stun_msg_get_response_port(m, &port)) {
        if (req->stream)
            return STUN_REJECT_STREAM_ONLY_UDP;
        if (stun_msg_has(m, STUN_A_PADDING))
            return STUN_REJECT_PADDING_AND_PORT;
        if (port == 0)
            return STUN_REJECT_BAD_PORT;
    }
    if (stun_msg_get_u32(m, STUN_A_CHANGE_REQUEST, change)) {
        *change &= STUN_CHANGE_IP | STUN_CHANGE_PORT;
        /* RFC 5780 §6.1: without an alternate address and port, 420. */
        if (!req->eps->alternate || (req->stream && *change != 0))
            return STUN_REJECT_NO_ALTERNATE;
    }
    return STUN_OK;
}

/* The endpoint CHANGE-REQUEST asks for, relative to the arrival (RFC 3489 Table 1). */
static enum stun_endpoint changed_endpoint(enum stun_endpoint arrived, uint32_t change)
{
    unsigned ep = arrived;
    if (change & STUN_CHANGE_IP)
        ep ^= STUN_EP_ALT_ADDRESS;
    if (change & STUN_CHANGE_PORT)
        ep ^= STUN_EP_ALT_PORT;
    return (enum stun_endpoint)ep;
}

/* The endpoint differing in both address and port: CHANGED-/OTHER-ADDRESS. */
static enum stun_endpoint other_endpoint(const struct stun_request *req)
{
    return req->eps->alternate ? req->arrived ^ (STUN_EP_ALT_ADDRESS | STUN_EP_ALT_PORT)
                               : req->arrived;
}

static void write_software(const struct stun_handler_config *cfg, struct stun_writer *w)
{
    if (cfg->software != NULL)
        stun_write_text(w, STUN_ATTR_SOFTWARE, cfg->software, cfg->software_len);
}

/*
 * RFC 5780 §7.6: PADDING brings the answer up to the request's size (the
 * client pads to its MTU to test fragmentation), never beyond it, and
 * never beyond the buffer.
 */
static void write_padding(const struct stun_handler_config *cfg, const struct stun_request *req,
                          const struct stun_msg *m, struct stun_writer *w)
{
    size_t tail = w->len + STUN_ATTR_HEADER_LEN;
    if (cfg->software != NULL)
        tail += STUN_ATTR_HEADER_LEN + ((cfg->software_len + 3u) & ~3u);
    if (!m->classic && stun_msg_has(m, STUN_A_FINGERPRINT))
        tail += FINGERPRINT_SIZE;
    size_t limit = req->len < w->cap ? req->len : w->cap;
    size_t len = limit > tail ? (limit - tail) & ~(size_t)3 : 0;
    stun_write_zeros(w, STUN_ATTR_PADDING, len);
}

/* The origin and other endpoints' addresses, under the two types given. */
static void write_endpoints(const struct stun_request *req, enum stun_endpoint from,
                            uint16_t origin_type, uint16_t other_type, struct stun_writer *w)
{
    struct stun_addr origin = endpoint_addr(req, from);
    struct stun_addr other = endpoint_addr(req, other_endpoint(req));
    if (origin_type == STUN_ATTR_SOURCE_ADDRESS) { /* RFC 3489 order */
        stun_write_addr(w, origin_type, &origin);
        stun_write_addr(w, other_type, &other);
    } else {
        stun_write_addr(w, other_type, &other);
        stun_write_addr(w, origin_type, &origin);
    }
}

static void write_addresses(const struct stun_request *req, const struct stun_msg *m,
                            enum stun_endpoint from, struct stun_writer *w)
{
    if (m->classic) {
        /* RFC 3489 §11.1: MAPPED-, SOURCE- and CHANGED-ADDRESS, always. */
        stun_write_addr(w, STUN_ATTR_MAPPED_ADDRESS, req->source);
        write_endpoints(req, from, STUN_ATTR_SOURCE_ADDRESS, STUN_ATTR_CHANGED_ADDRESS, w);
        return;
    }
    stun_write_xor_addr(w, STUN_ATTR_XOR_MAPPED_ADDRESS, req->source);
    /* RFC 5780 §6.1; a single-address server sends neither. */
    if (req->eps->alternate)
        write_endpoints(req, from, STUN_ATTR_RESPONSE_ORIGIN, STUN_ATTR_OTHER_ADDRESS, w);
}

static void write_tail(const struct stun_handler_config *cfg, const struct stun_msg *m,
                       struct stun_writer *w)
{
    write_software(cfg, w);
    if (!m->classic && stun_msg_has(m, STUN_A_FINGERPRINT))
        stun_write_fingerprint(w);
}

static void answer_binding(const struct stun_handler_config *cfg, const struct stun_request *req,
                           const struct stun_msg *m, uint32_t change, struct stun_writer *w,
                           struct stun_reply *reply)
{
    uint16_t port;
    reply->from = changed_endpoint(req->arrived, change);
    reply->dest = *req->source;
    if (stun_msg_get_response_port(m, &port))
        reply->dest.port = port; /* RFC 5780 §7.5 */
    write_addresses(req, m, reply->from, w);
    if (stun_msg_has(m, STUN_A_PADDING))
        write_padding(cfg, req, m, w);
    write_tail(cfg, m, w);
}

static void answer_error(const struct stun_handler_config *cfg, const struct stun_msg *m,
                         enum stun_status why, struct stun_writer *w)
{
    int code = stun_status_error_code(why, m->classic);
    stun_write_error(w, code, NULL);
    if (why == STUN_REJECT_UNKNOWN_ATTR) {
        stun_write_unknown(w, m->unknown, m->n_unknown);
    } else if (why == STUN_REJECT_NO_ALTERNATE) {
        const uint16_t type = STUN_ATTR_CHANGE_REQUEST;
        stun_write_unknown(w, &type, 1);
    } else if (why == STUN_REJECT_STREAM_ONLY_UDP) {
        const uint16_t type = STUN_ATTR_RESPONSE_PORT;
        stun_write_unknown(w, &type, 1);
    }
    /* After a structural error the view's attributes are not usable. */
    if (why != STUN_REJECT_ATTR_OVERRUN && why != STUN_REJECT_ATTR_INVALID)
        write_tail(cfg, m, w);
    else
        write_software(cfg, w);
}

/* The verdict on a parsed message before any answer is written. */
static enum stun_status judge(const struct stun_request *req, const struct stun_msg *m,
                              enum stun_status parsed, uint32_t *change)
{
    bool attrs_usable = parsed == STUN_OK || parsed == STUN_REJECT_UNKNOWN_ATTR;
    /* RFC 8489 §7.3: a bad FINGERPRINT is silently discarded, first. */
    if (attrs_usable && stun_msg_check_fingerprint(m) != STUN_OK)
        return STUN_DROP_BAD_FINGERPRINT;
    enum stun_status s = screen(m);
    if (s != STUN_OK || parsed != STUN_OK)
        return s != STUN_OK ? s : parsed;
    if (m->method == STUN_METHOD_SHARED_SECRET)
        return STUN_REJECT_USE_TLS; /* RFC 3489 §8.2: only TLS may mint */
    return check_binding(req, m, change);
}

void stun_handle(const struct stun_handler_config *cfg, const struct stun_request *req,
                 uint8_t *out, size_t cap, struct stun_reply *reply)
{
    struct stun_msg m;
    uint32_t change = 0;
    enum stun_status parsed = stun_msg_parse(&m, req->data, req->len);
    reply->len = 0;
    reply->from = req->arrived;
    reply->dest = *req->source;
    reply->status = stun_status_is_drop(parsed) ? parsed : judge(req, &m, parsed, &change);
    if (stun_status_is_drop(reply->status))
        return;

    struct stun_writer w;
    enum stun_class cls = reply->status == STUN_OK ? STUN_CLASS_SUCCESS : STUN_CLASS_ERROR;
    stun_writer_start_reply(&w, out, cap, stun_type(m.method, cls), &m);
    if (reply->status == STUN_OK)
        answer_binding(cfg, req, &m, change, &w, reply);
    else
        answer_error(cfg, &m, reply->status, &w);
    reply->len = stun_writer_finish(&w);
}
