/*
 * The log's JSON form (--log-format json): every byte of a message escaped
 * as JSON needs (quotes, backslashes, control characters; valid UTF-8
 * kept, invalid UTF-8 as U+FFFD), nothing cut in half when a line is too
 * long, the time in RFC 3339 UTC to the millisecond, and the counters'
 * lines turned into one object each. The text form is unchanged.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/log.h"

static char out[8192];

/* log_json_escape of len bytes of text into out (cap bytes); returns out. */
static const char *escape(const char *text, size_t len, size_t cap)
{
    cr_assert_leq(cap, sizeof(out));
    size_t n = log_json_escape(out, cap, text, len);
    cr_assert_eq(n, strlen(out), "the length returned is the text's");
    cr_assert_lt(n, cap);
    return out;
}

/* Bytes of the well-formed UTF-8 character at s, 0 if none: the test's
 * own reading of RFC 3629 §4, by code point. */
static size_t utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    size_t len = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC0 ? 2 : 0;
    if (len == 0 || s[0] > 0xF4)
        return 0;
    uint32_t cp = s[0] & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    static const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < least[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* Whether s is what may stand between a JSON string's quotes (RFC 8259
 * §7), in UTF-8 (§8.1). */
static bool json_string_body(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p != '\0') {
        if (*p < 0x20 || *p == '"')
            return false;
        if (*p == '\\') {
            if (p[1] == 'u') {
                for (int i = 2; i < 6; i++)
                    if (p[i] == '\0' || strchr("0123456789abcdefABCDEF", p[i]) == NULL)
                        return false;
                p += 6;
                continue;
            }
            if (p[1] == '\0' || strchr("\"\\/bfnrt", p[1]) == NULL)
                return false;
            p += 2;
            continue;
        }
        size_t len = utf8_len(p);
        if (len == 0)
            return false;
        p += len;
    }
    return true;
}

Test(log_json, plain_text_as_it_is)
{
    cr_assert_str_eq(escape("ready: 2 workers", 16, 64), "ready: 2 workers");
}

Test(log_json, quotes_and_backslashes_escaped)
{
    cr_assert_str_eq(escape("a\"b\\c/", 6, 64), "a\\\"b\\\\c/");
}

Test(log_json, control_characters_escaped)
{
    const char text[] = "\b\f\n\r\t\x01\x1f\x7f";
    cr_assert_str_eq(escape(text, sizeof(text) - 1, 64), "\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f");
}

Test(log_json, a_nul_byte_inside_is_escaped_not_an_end)
{
    cr_assert_str_eq(escape("a\0b", 3, 64), "a\\u0000b");
}

Test(log_json, valid_utf8_kept)
{
    /* é (2 bytes), € (3), U+1F600 (4), U+10FFFF (the last) */
    const char text[] = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf";
    cr_assert_str_eq(escape(text, sizeof(text) - 1, 64), text);
}

Test(log_json, invalid_utf8_becomes_replacement_characters)
{
    struct {
        const char *bytes, *want;
    } cases[] = {
        {"\x80", "\\ufffd"},                                  /* a stray continuation */
        {"\xc0\xaf", "\\ufffd\\ufffd"},                       /* an overlong '/' */
        {"\xe0\x80\xaf", "\\ufffd\\ufffd\\ufffd"},            /* overlong, 3 bytes */
        {"\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd"},            /* a UTF-16 surrogate */
        {"\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd"}, /* past U+10FFFF */
        {"\xff", "\\ufffd"},
        {"x\xe2\x82", "x\\ufffd\\ufffd"}, /* cut short at the end */
        {"\xe2(x", "\\ufffd(x"},          /* cut short by ASCII */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        cr_expect_str_eq(escape(cases[i].bytes, strlen(cases[i].bytes), 64), cases[i].want,
                         "case %zu", i);
}

Test(log_json, every_single_byte_gives_a_json_string)
{
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        cr_expect(json_string_body(escape(&c, 1, 16)), "byte 0x%02x -> '%s'", b, out);
        cr_expect_neq(out[0], '\0', "byte 0x%02x left nothing", b);
    }
}

Test(log_json, random_bytes_give_json_strings)
{
    unsigned seed = 12345;
    for (int round = 0; round < 20000; round++) {
        unsigned char text[32];
        size_t len = (size_t)(rand_r(&seed) % (int)sizeof(text));
        for (size_t i = 0; i < len; i++) /* biased to bytes that start or continue UTF-8 */
            text[i] = (unsigned char)(rand_r(&seed) % 2 ? rand_r(&seed) : 0x80 | rand_r(&seed));
        escape((const char *)text, len, 6 * sizeof(text) + 1);
        cr_assert(json_string_body(out), "round %d: '%s'", round, out);
    }
}

Test(log_json, what_does_not_fit_is_left_off_whole)
{
    cr_assert_str_eq(escape("ab\"cd", 5, 4), "ab");   /* not "ab\" */
    cr_assert_str_eq(escape("a\x01", 2, 7), "a");     /* \u0001 needs 6 more */
    cr_assert_str_eq(escape("a\xc3\xa9", 3, 3), "a"); /* not half of é */
    cr_assert_str_eq(escape("a\xff", 2, 7), "a");     /* \ufffd needs 6 more */
    cr_assert_str_eq(escape("abc", 3, 1), "");
}

Test(log_json, a_line_has_time_level_and_msg)
{
    log_format = LOG_FORMAT_JSON;
    struct timespec at = {1700000000, 123999999}; /* 2023-11-14 22:13:20.123999999 UTC */
    size_t n = log_format_line(out, sizeof(out), LOG_WARN, "a \"b\"\n", &at);
    cr_assert_str_eq(out, "{\"time\":\"2023-11-14T22:13:20.123Z\",\"level\":\"warn\","
                          "\"msg\":\"a \\\"b\\\"\\n\"}\n");
    cr_assert_eq(n, strlen(out));
}

Test(log_json, a_line_too_long_still_closes)
{
    log_format = LOG_FORMAT_JSON;
    struct timespec at = {0, 5000000};
    char msg[200];
    memset(msg, '"', sizeof(msg) - 1);
    msg[sizeof(msg) - 1] = '\0';
    size_t n = log_format_line(out, 100, LOG_ERROR, msg, &at);
    cr_assert_eq(n, strlen(out));
    cr_assert_lt(n, 100);
    const char head[] = "{\"time\":\"1970-01-01T00:00:00.005Z\",\"level\":\"error\",\"msg\":\"";
    cr_assert_eq(strncmp(out, head, strlen(head)), 0, "%s", out);
    cr_assert_str_eq(out + n - 3, "\"}\n");
    out[n - 3] = '\0';
    cr_assert(json_string_body(out + strlen(head)), "%s", out);
}

Test(log_text, a_line_as_before)
{
    log_format = LOG_FORMAT_TEXT;
    struct timespec at = {0, 0};
    log_format_line(out, sizeof(out), LOG_INFO, "ready: \"x\"", &at);
    cr_assert_str_eq(out, "stunringd: info: ready: \"x\"\n");
}

/* What the process wrote to stderr while fn ran. */
static const char *stderr_of(void (*fn)(void))
{
    char path[] = "/tmp/stunring-test-log-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    unlink(path);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    fn();
    fflush(NULL);
    dup2(saved, STDERR_FILENO);
    close(saved);
    ssize_t n = pread(fd, out, sizeof(out) - 1, 0);
    close(fd);
    cr_assert_geq(n, 0);
    out[n] = '\0';
    return out;
}

static void write_counters(void)
{
    FILE *f = log_stream();
    fprintf(f, "stats when sigusr1\nstats rx ");
    fprintf(f, "5\n");
    fflush(f);
}

Test(log_json, counter_lines_become_one_object_each)
{
    log_format = LOG_FORMAT_JSON;
    const char *text = stderr_of(write_counters);
    const char *first = strstr(text, "\"level\":\"info\",\"msg\":\"stats when sigusr1\"}\n");
    const char *second = strstr(text, "\"level\":\"info\",\"msg\":\"stats rx 5\"}\n");
    cr_assert(first != NULL && second != NULL && first < second, "%s", text);
    int lines = 0;
    for (const char *p = text; *p != '\0'; p++)
        lines += *p == '\n';
    cr_assert_eq(lines, 2, "%s", text);
}

Test(log_text, counter_lines_as_they_are)
{
    log_format = LOG_FORMAT_TEXT;
    cr_assert_eq(log_stream(), stderr);
    cr_assert_str_eq(stderr_of(write_counters), "stats when sigusr1\nstats rx 5\n");
}

static void log_escaped(void)
{
    log_threshold = LOG_INFO;
    log_msg(LOG_INFO, "user '%s'", "x\"\x01\xff");
    log_msg(LOG_DEBUG, "not shown");
}

Test(log_json, log_msg_writes_one_escaped_line)
{
    log_format = LOG_FORMAT_JSON;
    const char *text = stderr_of(log_escaped);
    cr_assert(strstr(text, "\"msg\":\"user 'x\\\"\\u0001\\ufffd'\"}\n") != NULL, "%s", text);
    cr_assert_eq(strchr(text, '\n'), text + strlen(text) - 1, "one line: %s", text);
}

Test(log_format, names_parse)
{
    cr_assert_eq(log_format_parse("text"), LOG_FORMAT_TEXT);
    cr_assert_eq(log_format_parse("json"), LOG_FORMAT_JSON);
    cr_assert_eq(log_format_parse("JSON"), -1);
    cr_assert_str_eq(log_format_name(LOG_FORMAT_JSON), "json");
}
