/*
 * Writes the seed corpus the fuzzers start from: the RFC sample messages
 * and a few hand-made ones covering classic STUN, errors, RFC 5780 and
 * the SHA-256 attributes. Run it by hand when the seeds change:
 *   build/tests/fuzz/fuzz_seed_corpus tests/fuzz/corpus/fuzz_parse
 *   build/tests/fuzz/fuzz_seed_corpus tests/fuzz/corpus/fuzz_roundtrip
 *   build/tests/fuzz/fuzz_seed_corpus --handle tests/fuzz/corpus/fuzz_handle
 * --handle adds the authenticated requests and writes each seed behind
 * the two control bytes of fuzz_handle.c, once per configuration below.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/writer.h"
#include "tests/unit/craft.h"
#include "tests/unit/vectors.h"

static int write_file(const char *path, const void *control, size_t control_len, const void *bytes,
                      size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(control, 1, control_len, f) != control_len ||
        fwrite(bytes, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        return 1;
    }
    return 0;
}

/* fuzz_handle's control bytes (tests/fuzz/fuzz_handle.c): none; required
 * with RESPONSE-ADDRESS and four endpoints; the same with a realm; with
 * IPv6 and SOFTWARE; optional over TLS; --allow-peer loopback. */
static const uint8_t controls[][2] = {
    {0x00, 0x00}, {0x1a, 0x00}, {0x1e, 0x00}, {0x3e, 0x01}, {0xc1, 0x00}, {0x19, 0x02},
};
static bool handle_mode;

static int save(const char *dir, const char *name, const void *bytes, size_t len)
{
    char path[4096];
    int err = 0;
    if (!handle_mode) {
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        return write_file(path, "", 0, bytes, len);
    }
    for (size_t i = 0; i < sizeof(controls) / sizeof(controls[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s-c%02x%02x", dir, name, controls[i][0], controls[i][1]);
        err |= write_file(path, controls[i], 2, bytes, len);
    }
    return err;
}

static int save_craft(const char *dir, const char *name, const struct craft *c)
{
    return save(dir, name, c->buf, c->len);
}

/* The authenticated requests fuzz_handle signs: short-term, with
 * RESPONSE-ADDRESS, and long-term with a 45-byte NONCE it refreshes. */
static int authenticated(const char *dir)
{
    static const uint8_t algorithms[8] = {0, 2, 0, 0, 0, 1, 0, 0}; /* SHA-256, MD5 */
    struct craft c;
    int err = 0;
    uint8_t zero[64] = {0};
    for (int classic = 0; classic < 2; classic++) {
        craft_binding_request(&c, classic);
        craft_attr(&c, STUN_ATTR_USERNAME, "alice001", 8);
        craft_attr(&c, STUN_ATTR_MESSAGE_INTEGRITY, zero, 20);
        if (!classic)
            craft_attr(&c, STUN_ATTR_FINGERPRINT, zero, 4);
        err |= save_craft(dir, classic ? "auth-short-classic" : "auth-short", &c);
        craft_binding_request(&c, classic);
        craft_attr(&c, STUN_ATTR_RESPONSE_ADDRESS, (uint8_t[]){0, 1, 0x13, 0x88, 127, 0, 0, 1}, 8);
        craft_attr(&c, STUN_ATTR_USERNAME, "alice001", 8);
        craft_attr(&c, STUN_ATTR_MESSAGE_INTEGRITY, zero, 20);
        err |= save_craft(dir, classic ? "auth-response-address-classic" : "auth-response-address",
                          &c);
    }
    craft_binding_request(&c, false);
    craft_attr(&c, STUN_ATTR_USERNAME, "user", 4);
    craft_attr(&c, STUN_ATTR_REALM, "fuzz.example", 12);
    craft_attr(&c, STUN_ATTR_NONCE, zero, 45);
    craft_attr(&c, STUN_ATTR_MESSAGE_INTEGRITY, zero, 20);
    craft_attr(&c, STUN_ATTR_FINGERPRINT, zero, 4);
    err |= save_craft(dir, "auth-long-md5", &c);
    craft_binding_request(&c, false);
    craft_attr(&c, STUN_ATTR_RESPONSE_ADDRESS, (uint8_t[]){0, 1, 0x13, 0x88, 1, 2, 3, 4}, 8);
    craft_attr(&c, STUN_ATTR_USERHASH, zero, 32);
    craft_attr(&c, STUN_ATTR_REALM, "fuzz.example", 12);
    craft_attr(&c, STUN_ATTR_NONCE, zero, 45);
    craft_attr(&c, STUN_ATTR_PASSWORD_ALGORITHMS, algorithms, 8);
    craft_attr(&c, STUN_ATTR_PASSWORD_ALGORITHM, (uint8_t[]){0, 2, 0, 0}, 4);
    craft_attr(&c, STUN_ATTR_MESSAGE_INTEGRITY_SHA256, zero, 32);
    craft_attr(&c, STUN_ATTR_FINGERPRINT, zero, 4);
    err |= save_craft(dir, "auth-long-sha256", &c);
    return err;
}

static int crafted(const char *dir)
{
    struct craft c;
    int err = 0;
    uint8_t zero[32] = {0};

    craft_binding_request(&c, false);
    err |= save_craft(dir, "binding", &c);
    craft_binding_request(&c, true);
    craft_attr(&c, STUN_ATTR_CHANGE_REQUEST, (uint8_t[]){0, 0, 0, 6}, 4);
    err |= save_craft(dir, "classic-change-request", &c);
    craft_binding_request(&c, true);
    craft_attr(&c, STUN_ATTR_RESPONSE_ADDRESS, (uint8_t[]){0, 1, 0x13, 0x88, 10, 0, 0, 9}, 8);
    craft_attr(&c, STUN_ATTR_USERNAME, "user", 4);
    craft_attr(&c, STUN_ATTR_MESSAGE_INTEGRITY, zero, 20);
    err |= save_craft(dir, "classic-response-address", &c);
    craft_start(&c, 0x0111, false);
    craft_attr(&c, STUN_ATTR_ERROR_CODE, "\0\0\x04\x14Unknown Attribute", 21);
    craft_attr(&c, STUN_ATTR_UNKNOWN_ATTRIBUTES, (uint8_t[]){0, 0x24, 0x70, 1}, 4);
    err |= save_craft(dir, "error-420", &c);
    craft_binding_request(&c, false);
    craft_attr(&c, STUN_ATTR_RESPONSE_PORT, (uint8_t[]){0xC3, 0x50, 0, 0}, 4);
    craft_attr(&c, STUN_ATTR_PADDING, zero, 13);
    craft_attr(&c, 0x0024, zero, 4);
    err |= save_craft(dir, "rfc5780-response-port-padding", &c);
    craft_start(&c, 0x0101, false);
    craft_attr(&c, STUN_ATTR_XOR_MAPPED_ADDRESS, (uint8_t[20]){0, 2, 1, 2}, 20);
    craft_attr(&c, STUN_ATTR_OTHER_ADDRESS, (uint8_t[8]){0, 1, 0x0d, 0x97, 127, 0, 0, 2}, 8);
    craft_attr(&c, STUN_ATTR_RESPONSE_ORIGIN, (uint8_t[8]){0, 1, 0x0d, 0x96, 127, 0, 0, 1}, 8);
    craft_attr(&c, STUN_ATTR_FINGERPRINT, zero, 4);
    err |= save_craft(dir, "rfc5780-response", &c);
    craft_binding_request(&c, false);
    craft_attr(&c, STUN_ATTR_PASSWORD_ALGORITHMS, (uint8_t[]){0, 1, 0, 0, 0, 2, 0, 1, 7, 0, 0, 0},
               12);
    craft_attr(&c, STUN_ATTR_USERHASH, zero, 32);
    craft_attr(&c, STUN_ATTR_MESSAGE_INTEGRITY_SHA256, zero, 16);
    craft_attr(&c, STUN_ATTR_FINGERPRINT, zero, 4);
    err |= save_craft(dir, "sha256-truncated", &c);
    craft_start(&c, 0x0002, true);
    err |= save_craft(dir, "classic-shared-secret", &c);
    return err;
}

/* A stream for fuzz_frame: control bytes (longest message: 255 is the
 * server's 2,048; read sizes), then the messages back to back. */
struct stream {
    uint8_t buf[8192];
    size_t len;
};

static void stream_start(struct stream *s, uint8_t max_len, uint8_t cut)
{
    s->buf[0] = max_len;
    s->buf[1] = cut;
    s->len = 2;
}

static void stream_add(struct stream *s, const void *bytes, size_t len)
{
    memcpy(s->buf + s->len, bytes, len);
    s->len += len;
}

/* A request header announcing body bytes, and those bytes (zeros). */
static void stream_add_long(struct stream *s, uint16_t body)
{
    struct craft c;
    craft_binding_request(&c, false);
    craft_set_length(&c, body);
    stream_add(s, c.buf, STUN_HEADER_LEN);
    memset(s->buf + s->len, 0, body);
    s->len += body;
}

static int frame_streams(const char *dir)
{
    struct stream s;
    struct craft a, b;
    int err = 0;
    craft_binding_request(&a, false);
    craft_attr(&a, STUN_ATTR_SOFTWARE, "seed", 4);
    craft_attr(&a, STUN_ATTR_FINGERPRINT, "\0\0\0\0", 4);
    craft_binding_request(&b, true);
    stream_start(&s, 255, 3);
    stream_add(&s, a.buf, a.len);
    stream_add(&s, b.buf, b.len);
    stream_add(&s, rfc5769_request, sizeof(rfc5769_request));
    err |= save(dir, "pipelined", s.buf, s.len);
    stream_start(&s, 255, 17);
    stream_add(&s, a.buf, a.len);
    stream_add_long(&s, 3000);
    stream_add(&s, b.buf, b.len);
    err |= save(dir, "over-long-between", s.buf, s.len);
    stream_start(&s, 4, 1); /* 52 bytes at most: the first is too long */
    stream_add(&s, rfc5769_request, sizeof(rfc5769_request));
    stream_add(&s, b.buf, b.len);
    err |= save(dir, "small-limit", s.buf, s.len);
    stream_start(&s, 255, 5);
    stream_add(&s, b.buf, b.len);
    stream_add(&s, "GET / HTTP/1.1\r\n\r\n", 18);
    err |= save(dir, "http-after-stun", s.buf, s.len);
    stream_start(&s, 255, 9);
    stream_add(&s, a.buf, a.len - 2); /* a message cut short at the end */
    err |= save(dir, "truncated", s.buf, s.len);
    return err;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[2], "frame") == 0)
        return frame_streams(argv[1]);
    handle_mode = argc == 3 && strcmp(argv[1], "--handle") == 0;
    if (argc != 2 && !handle_mode) {
        fprintf(stderr, "usage: %s [--handle] DIR | %s DIR frame\n", argv[0], argv[0]);
        return 2;
    }
    const char *dir = argv[argc - 1];
    int err = 0;
    if (handle_mode)
        err |= authenticated(dir);
    err |= save(dir, "rfc5769-request", rfc5769_request, sizeof(rfc5769_request));
    err |= save(dir, "rfc5769-response-v4", rfc5769_response_v4, sizeof(rfc5769_response_v4));
    err |= save(dir, "rfc5769-response-v6", rfc5769_response_v6, sizeof(rfc5769_response_v6));
    err |= save(dir, "rfc5769-request-lt", rfc5769_request_lt, sizeof(rfc5769_request_lt));
    err |= save(dir, "rfc8489-b1-request", rfc8489_b1_request, sizeof(rfc8489_b1_request));
    err |= crafted(dir);
    return err;
}
