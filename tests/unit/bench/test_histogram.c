/*
 * The bench's latency histogram: bucket arithmetic, percentiles against a
 * sorted array within the stated 1/64 relative precision, merge, min and
 * max, the empty histogram, values past the last bucket.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "bench/loadgen/histogram.h"

static struct bench_hist h, h2, h3;

static const double points[] = {0,  0.001, 1,    10,   25,    50,     75, 90,
                                95, 99,    99.5, 99.9, 99.99, 99.999, 100};

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Every percentile of h against the sorted values: never below the exact
 * value q, and less than q/64 above it (exact below 64). */
static void check_against(const struct bench_hist *hist, uint64_t *values, size_t n)
{
    qsort(values, n, sizeof(*values), cmp_u64);
    cr_assert_eq(hist->count, n);
    cr_assert_eq(hist->min, values[0]);
    cr_assert_eq(hist->max, values[n - 1]);
    for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
        uint64_t rank = bench_hist_rank(n, points[i]);
        uint64_t q = values[rank - 1];
        uint64_t got = bench_hist_percentile(hist, points[i]);
        cr_assert_geq(got, q, "p%g: %llu below the exact %llu", points[i], (unsigned long long)got,
                      (unsigned long long)q);
        if (q < BENCH_HIST_SUB)
            cr_assert_eq(got, q, "p%g: %llu, exact %llu", points[i], (unsigned long long)got,
                         (unsigned long long)q);
        else
            cr_assert_lt((double)(got - q), (double)q / 64.0, "p%g: %llu vs exact %llu", points[i],
                         (unsigned long long)got, (unsigned long long)q);
    }
}

Test(histogram, empty_answers_zero)
{
    bench_hist_init(&h);
    cr_assert_eq(h.count, 0);
    cr_assert_eq(bench_hist_percentile(&h, 50), 0);
    cr_assert_eq(bench_hist_percentile(&h, 100), 0);
    cr_assert_eq(h.min, 0);
    cr_assert_eq(h.max, 0);
    cr_assert_eq(bench_hist_rank(0, 50), 0);
}

Test(histogram, one_value_is_every_percentile)
{
    bench_hist_init(&h);
    bench_hist_record(&h, 123456);
    for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++)
        cr_assert_eq(bench_hist_percentile(&h, points[i]), 123456);
    cr_assert_eq(h.min, 123456);
    cr_assert_eq(h.max, 123456);
}

Test(histogram, ranks_are_those_of_a_sorted_array)
{
    cr_assert_eq(bench_hist_rank(1000, 50), 500);
    cr_assert_eq(bench_hist_rank(1000, 99.9), 999); /* not 1000: 99.9 is inexact in binary */
    cr_assert_eq(bench_hist_rank(1001, 99.9), 1000);
    cr_assert_eq(bench_hist_rank(10000, 99.99), 9999);
    cr_assert_eq(bench_hist_rank(1000, 100), 1000);
    cr_assert_eq(bench_hist_rank(1000, 0), 1);
    cr_assert_eq(bench_hist_rank(1, 99.9), 1);
    cr_assert_eq(bench_hist_rank(3, 50), 2);
}

Test(histogram, buckets_tile_the_range_at_1_64)
{
    for (unsigned i = 0; i + 1 < BENCH_HIST_BUCKETS; i++) {
        uint64_t lo = bench_hist_bucket_low(i), hi = bench_hist_bucket_high(i);
        cr_assert_eq(bench_hist_bucket(lo), i, "bucket %u low %llu", i, (unsigned long long)lo);
        cr_assert_eq(bench_hist_bucket(hi), i, "bucket %u high %llu", i, (unsigned long long)hi);
        cr_assert_eq(hi + 1, bench_hist_bucket_low(i + 1), "gap after bucket %u", i);
        if (i >= BENCH_HIST_SUB)
            cr_assert_leq((hi - lo + 1) * 64, lo, "bucket %u wider than 1/64", i);
        else
            cr_assert_eq(lo, hi);
    }
    uint64_t last_low = bench_hist_bucket_low(BENCH_HIST_BUCKETS - 1);
    cr_assert_eq(bench_hist_bucket(last_low), BENCH_HIST_BUCKETS - 1);
    cr_assert_eq(bench_hist_bucket((UINT64_C(1) << BENCH_HIST_MAX_BITS) - 1),
                 BENCH_HIST_BUCKETS - 1);
    cr_assert_eq(bench_hist_bucket(UINT64_MAX), BENCH_HIST_BUCKETS - 1);
}

Test(histogram, small_values_are_exact)
{
    uint64_t values[64];
    bench_hist_init(&h);
    for (uint64_t v = 0; v < 64; v++) {
        values[v] = 63 - v;
        bench_hist_record(&h, 63 - v);
    }
    check_against(&h, values, 64);
    cr_assert_eq(bench_hist_percentile(&h, 50), 31);
}

Test(histogram, known_data_1_to_100000)
{
    enum { N = 100000 };
    uint64_t *values = malloc(N * sizeof(*values));
    bench_hist_init(&h);
    for (uint64_t v = 1; v <= N; v++) {
        values[v - 1] = v;
        bench_hist_record(&h, v);
    }
    check_against(&h, values, N);
    /* 50000 is the exact median; its bucket is [49664, 50175]. */
    cr_assert_eq(bench_hist_percentile(&h, 50), 50175);
    cr_assert_eq(bench_hist_percentile(&h, 100), N);
    cr_assert_eq(h.sum, (uint64_t)N * (N + 1) / 2);
    free(values);
}

/* Log-uniform over 1 ns .. 2^36 ns, the shape of latencies with a tail. */
static uint64_t log_uniform(unsigned *seed)
{
    unsigned bits = (unsigned)(rand_r(seed) % 36);
    uint64_t base = UINT64_C(1) << bits;
    return base + ((uint64_t)rand_r(seed) * 2654435761u) % base;
}

Test(histogram, random_data_within_precision)
{
    enum { N = 200000 };
    uint64_t *values = malloc(N * sizeof(*values));
    for (unsigned trial = 0; trial < 5; trial++) {
        unsigned seed = 12345 + trial;
        bench_hist_init(&h);
        for (size_t i = 0; i < N; i++) {
            values[i] = trial == 0 ? (uint64_t)rand_r(&seed) % 1000 : log_uniform(&seed);
            bench_hist_record(&h, values[i]);
        }
        check_against(&h, values, N);
    }
    free(values);
}

Test(histogram, merge_equals_one_histogram_of_everything)
{
    enum { N = 50000 };
    unsigned seed = 7;
    uint64_t *values = malloc(N * sizeof(*values));
    bench_hist_init(&h);
    bench_hist_init(&h2);
    bench_hist_init(&h3);
    for (size_t i = 0; i < N; i++) {
        values[i] = log_uniform(&seed);
        bench_hist_record(&h, values[i]);
        bench_hist_record(i % 3 ? &h2 : &h3, values[i]);
    }
    bench_hist_merge(&h2, &h3);
    cr_assert_eq(h2.count, h.count);
    cr_assert_eq(h2.min, h.min);
    cr_assert_eq(h2.max, h.max);
    cr_assert_eq(h2.sum, h.sum);
    cr_assert(memcmp(h2.buckets, h.buckets, sizeof(h.buckets)) == 0);
    check_against(&h2, values, N);
    free(values);
}

Test(histogram, merge_with_empty_keeps_min_and_max)
{
    bench_hist_init(&h);
    bench_hist_init(&h2);
    bench_hist_record(&h, 500);
    bench_hist_record(&h, 70);
    bench_hist_merge(&h, &h2); /* empty into full */
    cr_assert_eq(h.count, 2);
    cr_assert_eq(h.min, 70);
    cr_assert_eq(h.max, 500);
    bench_hist_merge(&h2, &h); /* full into empty */
    cr_assert_eq(h2.count, 2);
    cr_assert_eq(h2.min, 70, "an empty histogram's min of 0 must not win");
    cr_assert_eq(h2.max, 500);
    bench_hist_init(&h3);
    bench_hist_merge(&h3, &h3);
    cr_assert_eq(h3.count, 0);
}

Test(histogram, min_and_max_are_exact)
{
    bench_hist_init(&h);
    bench_hist_record(&h, 1000003);
    bench_hist_record(&h, 999999999);
    bench_hist_record(&h, 4242);
    cr_assert_eq(h.min, 4242);
    cr_assert_eq(h.max, 999999999);
    cr_assert_eq(bench_hist_percentile(&h, 100), 999999999);
    cr_assert_geq(bench_hist_percentile(&h, 0), 4242);
    cr_assert_lt(bench_hist_percentile(&h, 0), 4242 + 4242 / 64);
}

Test(histogram, values_past_the_range_keep_an_exact_max)
{
    bench_hist_init(&h);
    uint64_t huge = UINT64_C(1) << 50;
    bench_hist_record(&h, 10);
    bench_hist_record(&h, huge);
    cr_assert_eq(h.max, huge);
    cr_assert_eq(bench_hist_percentile(&h, 100), huge);
    cr_assert_eq(bench_hist_percentile(&h, 50), 10);
    cr_assert_eq(h.buckets[BENCH_HIST_BUCKETS - 1], 1);
    bench_hist_record(&h, UINT64_MAX);
    cr_assert_eq(h.sum, UINT64_MAX, "the sum saturates");
}
