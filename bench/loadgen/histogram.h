/*
 * A log-linear latency histogram, HdrHistogram-like: bounded memory, O(1)
 * record, exact count, min and max, percentiles within 1/64 relative.
 *
 * Values below 64 each have their own bucket. Above, every power of two
 * [2^e, 2^(e+1)) is cut into 64 equal buckets of width 2^(e-6), so a
 * bucket is never wider than 1/64 of the values it holds:
 *
 *   value   0 .. 63      64 .. 127    128 .. 255   ...  2^39 .. 2^40-1
 *   bucket  0 .. 63      64 .. 127    128 .. 191   ...  2176 .. 2239
 *   width   1            1            2            ...  2^33
 *
 * Values of 2^40 or more (18 minutes in nanoseconds) share the last
 * bucket; max still records them exactly.
 *
 * Percentile p (0..100) is the value of rank ceil(p/100 * count) (at least
 * 1) in sorted order, as a sorted array would give it. The histogram
 * answers the top of that value's bucket, clamped to max: never below the
 * exact value q, and less than q + q/64 above it (exact below 64).
 *
 * One histogram per thread, no locking; merge them at the end.
 */
#ifndef STUNRING_BENCH_HISTOGRAM_H
#define STUNRING_BENCH_HISTOGRAM_H

#include <stdint.h>

enum {
    BENCH_HIST_SUB_BITS = 6, /* 64 buckets per power of two: 1/64 precision */
    BENCH_HIST_SUB = 1 << BENCH_HIST_SUB_BITS,
    BENCH_HIST_MAX_BITS = 40, /* values up to 2^40 - 1 get a bucket of their own size */
    BENCH_HIST_BUCKETS = (BENCH_HIST_MAX_BITS - BENCH_HIST_SUB_BITS + 1) * BENCH_HIST_SUB,
};

struct bench_hist {
    uint64_t count;
    uint64_t min, max; /* of the recorded values; 0 when empty */
    uint64_t sum;      /* saturates at UINT64_MAX */
    uint64_t buckets[BENCH_HIST_BUCKETS];
};

void bench_hist_init(struct bench_hist *h);
void bench_hist_record(struct bench_hist *h, uint64_t value);

/* Adds every value of src to dst. */
void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src);

/* The value at percentile p (0..100) as described above; 0 when empty. */
uint64_t bench_hist_percentile(const struct bench_hist *h, double p);

/* The rank (1-based, in sorted order) percentile p picks among count values. */
uint64_t bench_hist_rank(uint64_t count, double p);

/* Bucket index of a value, and the lowest and highest value of a bucket. */
unsigned bench_hist_bucket(uint64_t value);
uint64_t bench_hist_bucket_low(unsigned bucket);
uint64_t bench_hist_bucket_high(unsigned bucket);

#endif
