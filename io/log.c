#include "io/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum log_level log_threshold = LOG_INFO;
enum log_format log_format = LOG_FORMAT_TEXT;

static const char *const names[] = {"error", "warn", "info", "debug"};
static const char *const format_names[] = {"text", "json"};

enum {
    LOG_MSG_MAX = 1024,                   /* a message's bytes, before escaping */
    LOG_LINE_MAX = 6 * LOG_MSG_MAX + 128, /* the worst escaping (\u00XX) and the rest */
};

/* Bytes of the well-formed UTF-8 character at s (n bytes left), or 0 when
 * s does not start one (stray continuation, overlong, surrogate, past
 * U+10FFFF, cut short). */
static size_t utf8_char_len(const unsigned char *s, size_t n)
{
    unsigned char b = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF; /* the range of the second byte */
    if (b < 0x80)
        return 1;
    if (b >= 0xC2 && b <= 0xDF)
        len = 2;
    else if (b >= 0xE0 && b <= 0xEF)
        len = 3, lo = b == 0xE0 ? 0xA0 : 0x80, hi = b == 0xED ? 0x9F : 0xBF;
    else if (b >= 0xF0 && b <= 0xF4)
        len = 4, lo = b == 0xF0 ? 0x90 : 0x80, hi = b == 0xF4 ? 0x8F : 0xBF;
    else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

/* The escape of one byte that JSON does not allow as it is, in esc; 0 when
 * the byte may stand for itself. */
static size_t escape_byte(unsigned char c, char esc[8])
{
    static const char short_forms[] = {
        ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't'};
    if (c == '"' || c == '\\')
        return (size_t)snprintf(esc, 8, "\\%c", c);
    if (c < sizeof(short_forms) && short_forms[c] != 0)
        return (size_t)snprintf(esc, 8, "\\%c", short_forms[c]);
    if (c < 0x20 || c == 0x7F)
        return (size_t)snprintf(esc, 8, "\\u%04x", c);
    return 0;
}

size_t log_json_escape(char *out, size_t cap, const char *text, size_t len)
{
    const unsigned char *in = (const unsigned char *)text;
    size_t used = 0;
    for (size_t i = 0; i < len;) {
        char esc[8];
        const char *piece = esc;
        size_t take = 1, piece_len = escape_byte(in[i], esc);
        if (piece_len == 0) {
            take = utf8_char_len(in + i, len - i);
            piece = take > 0 ? (const char *)in + i : "\\ufffd";
            piece_len = take > 0 ? take : 6;
            take = take > 0 ? take : 1;
        }
        if (used + piece_len >= cap)
            break;
        memcpy(out + used, piece, piece_len);
        used += piece_len;
        i += take;
    }
    out[used] = '\0';
    return used;
}

/* "2026-12-05T01:45:19.123Z" in out (at least 32 bytes). */
static void format_time(char *out, size_t cap, const struct timespec *now)
{
    struct tm tm;
    time_t seconds = now->tv_sec;
    gmtime_r(&seconds, &tm);
    size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, cap - n, ".%03ldZ", now->tv_nsec / 1000000);
}

static size_t json_line(char *out, size_t cap, enum log_level level, const char *msg,
                        const struct timespec *now)
{
    static const char tail[] = "\"}\n";
    char time_text[48];
    format_time(time_text, sizeof(time_text), now);
    int head =
        snprintf(out, cap, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"", time_text, names[level]);
    if (head < 0 || (size_t)head + sizeof(tail) > cap) {
        out[0] = '\0';
        return 0;
    }
    size_t used = (size_t)head;
    used += log_json_escape(out + used, cap - used - (sizeof(tail) - 1), msg, strlen(msg));
    memcpy(out + used, tail, sizeof(tail));
    return used + sizeof(tail) - 1;
}

size_t log_format_line(char *out, size_t cap, enum log_level level, const char *msg,
                       const struct timespec *now)
{
    if (log_format == LOG_FORMAT_JSON)
        return json_line(out, cap, level, msg, now);
    int n = snprintf(out, cap, "stunringd: %s: %s\n", names[level], msg);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

/* One line, written whole. */
static void emit(enum log_level level, const char *msg)
{
    char line[LOG_LINE_MAX];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    size_t len = log_format_line(line, sizeof(line), level, msg, &now);
    fwrite(line, 1, len, stderr);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level > log_threshold)
        return;
    char msg[LOG_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    emit(level, msg);
}

/* json form's counter stream: what came since the last '\n'. */
static struct {
    char text[LOG_MSG_MAX];
    size_t len;
} partial;

/* Each whole line written becomes one info object; a line longer than a
 * message is split. */
static ssize_t stream_write(void *cookie, const char *buf, size_t size)
{
    (void)cookie;
    for (size_t i = 0; i < size; i++) {
        bool end = buf[i] == '\n';
        if (!end)
            partial.text[partial.len++] = buf[i];
        if (end || partial.len == sizeof(partial.text) - 1) {
            partial.text[partial.len] = '\0';
            emit(LOG_INFO, partial.text);
            partial.len = 0;
        }
    }
    return (ssize_t)size;
}

FILE *log_stream(void)
{
    static FILE *json_stream;
    if (log_format != LOG_FORMAT_JSON)
        return stderr;
    if (json_stream == NULL) {
        json_stream = fopencookie(NULL, "w", (cookie_io_functions_t){.write = stream_write});
        if (json_stream == NULL)
            return stderr;
        setvbuf(json_stream, NULL, _IOLBF, 0);
    }
    return json_stream;
}

int log_level_parse(const char *name)
{
    for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

const char *log_level_name(enum log_level level) { return names[level]; }

int log_format_parse(const char *name)
{
    for (int i = 0; i < (int)(sizeof(format_names) / sizeof(format_names[0])); i++)
        if (strcmp(name, format_names[i]) == 0)
            return i;
    return -1;
}

const char *log_format_name(enum log_format format) { return format_names[format]; }
