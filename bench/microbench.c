#include "bench/microbench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile size_t sink; /* keeps the compiler from dropping the work */

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double time_op(const struct microbench_op *op, long iterations)
{
    size_t acc = 0;
    double start = now_ns();
    for (long i = 0; i < iterations; i++)
        acc += op->run();
    double elapsed = now_ns() - start;
    sink = acc;
    return elapsed / (double)iterations;
}

static void usage(const char *program, const char *extra_usage)
{
    fprintf(stderr, "usage: %s [--op NAME] [--iterations N (default 2000000)] [--list]%s\n",
            program, extra_usage ? extra_usage : "");
    exit(2);
}

void microbench_parse(int argc, char **argv, struct microbench_args *args,
                      bool (*extra)(const char *flag, const char *value), const char *extra_usage)
{
    *args = (struct microbench_args){.iterations = 2000000};
    for (int i = 1; i < argc; i++) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--list") == 0)
            args->list = true;
        else if (value != NULL && strcmp(argv[i], "--op") == 0)
            args->only = argv[++i];
        else if (value != NULL && strcmp(argv[i], "--iterations") == 0)
            args->iterations = strtol(argv[++i], NULL, 10);
        else if (value != NULL && extra != NULL && extra(argv[i], value))
            i++;
        else
            usage(argv[0], extra_usage);
    }
    if (args->iterations < 1 || args->iterations > 1000000000L) {
        fprintf(stderr, "--iterations: want 1..1000000000, got %ld\n", args->iterations);
        exit(2);
    }
}

int microbench_run(const struct microbench_op *ops, size_t n, const struct microbench_args *args)
{
    for (size_t i = 0; i < n; i++) {
        if (args->list) {
            printf("%s\n", ops[i].name);
        } else if (args->only == NULL) {
            time_op(&ops[i], args->iterations / 10); /* warm caches and predictors */
            printf("%-18s %8.1f ns/op  %s\n", ops[i].name, time_op(&ops[i], args->iterations),
                   ops[i].what);
        } else if (strcmp(ops[i].name, args->only) == 0) {
            printf("%-18s %8.1f ns/op\n", ops[i].name, time_op(&ops[i], args->iterations));
            return 0;
        }
    }
    if (args->only != NULL && !args->list) {
        fprintf(stderr, "--op: unknown operation '%s'\n", args->only);
        return 2;
    }
    return 0;
}
