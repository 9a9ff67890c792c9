/*
 * One log line per event, to stderr. Nothing per packet is logged above
 * debug (STYLE.md); floods become counters. Thread-safe (one write per
 * line).
 *
 * Two forms (--log-format): text, "stunringd: LEVEL: message"; json, one
 * object per line, {"time":"2026-12-05T01:45:19.123Z","level":"info",
 * "msg":"..."}: RFC 3339 UTC time to the millisecond, the level's name,
 * the message text with every byte escaped as JSON needs (invalid UTF-8
 * becomes U+FFFD).
 */
#ifndef STUNRING_IO_LOG_H
#define STUNRING_IO_LOG_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>

enum log_level {
    LOG_ERROR = 0,
    LOG_WARN = 1,
    LOG_INFO = 2,
    LOG_DEBUG = 3,
};

enum log_format {
    LOG_FORMAT_TEXT = 0,
    LOG_FORMAT_JSON = 1,
};

/* Lines above this level are not printed. Set once at start-up. */
extern enum log_level log_threshold;

/* The form of every line. Set once at start-up, before any thread. */
extern enum log_format log_format;

__attribute__((format(printf, 2, 3))) void log_msg(enum log_level level, const char *fmt, ...);

/* "error", "warn", "info", "debug" -> level; -1 if unknown. */
int log_level_parse(const char *name);
const char *log_level_name(enum log_level level);

/* "text", "json" -> format; -1 if unknown. */
int log_format_parse(const char *name);
const char *log_format_name(enum log_format format);

/*
 * Where the counters' lines ("stats NAME VALUE") go: stderr as they are in
 * text form; in json form a stream that makes each line one object at
 * level info whose msg is the line ({"time":...,"level":"info",
 * "msg":"stats rx 12"}). For the main thread only (it keeps a partial
 * line between writes).
 */
FILE *log_stream(void);

/*
 * The len bytes of text as the inside of a JSON string, NUL-terminated, in
 * out (cap > 0 bytes): '"', '\\' and every control character escaped, valid
 * UTF-8 kept, each byte of invalid UTF-8 as \ufffd. What does not fit is
 * left off whole (never half an escape or half a character). Returns the
 * bytes written before the NUL.
 */
size_t log_json_escape(char *out, size_t cap, const char *text, size_t len);

/* One whole line, '\n' included, as log_format makes it for msg at level
 * and time now, in out (NUL-terminated, truncated to cap). Returns its length. */
size_t log_format_line(char *out, size_t cap, enum log_level level, const char *msg,
                       const struct timespec *now);

#endif
