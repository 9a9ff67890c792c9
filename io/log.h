/*
 * One log line per event, to stderr: "stunringd: LEVEL: message". Nothing
 * per packet is logged above debug (STYLE.md); floods become counters.
 * Thread-safe (one fprintf per line).
 */
#ifndef STUNRING_IO_LOG_H
#define STUNRING_IO_LOG_H

enum log_level {
    LOG_ERROR = 0,
    LOG_WARN = 1,
    LOG_INFO = 2,
    LOG_DEBUG = 3,
};

/* Lines above this level are not printed. Set once at start-up. */
extern enum log_level log_threshold;

__attribute__((format(printf, 2, 3))) void log_msg(enum log_level level, const char *fmt, ...);

/* "error", "warn", "info", "debug" -> level; -1 if unknown. */
int log_level_parse(const char *name);
const char *log_level_name(enum log_level level);

#endif
