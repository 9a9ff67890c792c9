/*
 * The micro-benchmarks' shared driver: a table of named operations, each
 * a noinline function callgrind can toggle on (--toggle-collect=op_NAME),
 * timed natively or run N times alone for callgrind.
 *
 *   PROGRAM [--op NAME] [--iterations N] [--list] [extra flags]
 */
#ifndef STUNRING_BENCH_MICROBENCH_H
#define STUNRING_BENCH_MICROBENCH_H

#include <stdbool.h>
#include <stddef.h>

struct microbench_op {
    const char *name; /* callgrind counts the function op_<name> */
    size_t (*run)(void);
    const char *what;
};

struct microbench_args {
    const char *only; /* --op NAME, or NULL for every op */
    long iterations;  /* --iterations, default 2000000 */
    bool list;        /* --list: print the op names and exit */
};

/*
 * Parses the shared flags; any other "--flag value" pair goes to extra
 * (which returns false for one it does not know). Exits 2 with usage (and
 * extra_usage appended) on a bad command line.
 */
void microbench_parse(int argc, char **argv, struct microbench_args *args,
                      bool (*extra)(const char *flag, const char *value), const char *extra_usage);

/* Runs what args asks for over ops[0..n); returns the exit code. */
int microbench_run(const struct microbench_op *ops, size_t n, const struct microbench_args *args);

#endif
