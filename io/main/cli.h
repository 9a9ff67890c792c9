/*
 * Command-line helpers shared by stunringd and stunring-bench, so both
 * speak the same way: a bad value exits 2 with "PROGRAM: FLAG: what was
 * wanted, got 'VALUE' (see --help)".
 */
#ifndef STUNRING_IO_CLI_H
#define STUNRING_IO_CLI_H

#include <sys/socket.h>

/* The exit-code contract: 2 for any bad flag or value, including a file a
 * flag names that fails to load at start-up; 1 for a runtime failure (a
 * port taken, an address that cannot be bound, io_uring unavailable with
 * --backend uring, out of memory). */
enum { CLI_EXIT_RUNTIME = 1, CLI_EXIT_USAGE = 2 };

/* The program name the messages start with; set once by main(). */
extern const char *cli_program;

/* Prints "PROGRAM: message (see --help)" and exits CLI_EXIT_USAGE. */
__attribute__((format(printf, 1, 2), noreturn)) void cli_usage_error(const char *fmt, ...);

struct option;

/*
 * The next long flag of argv (getopt_long over flags, which end with a
 * zero entry), or -1 when all are read. An unknown flag, a missing value
 * or a stray argument is a usage error naming it.
 */
int cli_next_flag(int argc, char **argv, const struct option *flags);

/* A whole number in [min, max] for flag, or a usage error naming it. */
unsigned long long cli_number(const char *flag, const char *text, unsigned long long min,
                              unsigned long long max);

/*
 * A CPU list ("0-3,8") into cpus[0..max): every CPU must be one this
 * process may run on. Returns how many; a usage error naming flag if the
 * list is empty, malformed, too long or names a CPU not allowed here.
 */
/*
 * A transport address flag: IPv4:PORT or [IPv6]:PORT (an IPv6 address
 * only in brackets, an IPv4 one never), port 1-65535, into *out; exits 2
 * naming flag otherwise.
 */
void cli_host_port(const char *flag, const char *text, struct sockaddr_storage *out);

unsigned cli_cpus(const char *flag, const char *text, int *cpus, unsigned max);

#endif
