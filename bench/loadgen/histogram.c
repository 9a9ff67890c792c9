/* The log-linear histogram: index arithmetic and the percentile walk. */
#include "bench/loadgen/histogram.h"

#include <math.h>
#include <string.h>

void bench_hist_init(struct bench_hist *h) { memset(h, 0, sizeof(*h)); }

unsigned bench_hist_bucket(uint64_t value)
{
    if (value < BENCH_HIST_SUB)
        return (unsigned)value;
    if (value >> BENCH_HIST_MAX_BITS)
        return BENCH_HIST_BUCKETS - 1;
    unsigned e = 63u - (unsigned)__builtin_clzll(value); /* 6 .. 39 */
    unsigned shift = e - BENCH_HIST_SUB_BITS;
    /* The 6 bits after the leading one pick the bucket within the octave. */
    unsigned sub = (unsigned)(value >> shift) - BENCH_HIST_SUB;
    return (shift + 1) * BENCH_HIST_SUB + sub;
}

uint64_t bench_hist_bucket_low(unsigned bucket)
{
    if (bucket < BENCH_HIST_SUB)
        return bucket;
    unsigned shift = bucket / BENCH_HIST_SUB - 1;
    uint64_t sub = bucket % BENCH_HIST_SUB;
    return (BENCH_HIST_SUB + sub) << shift;
}

uint64_t bench_hist_bucket_high(unsigned bucket)
{
    if (bucket < BENCH_HIST_SUB)
        return bucket;
    if (bucket == BENCH_HIST_BUCKETS - 1)
        return UINT64_MAX; /* the overflow values share it */
    unsigned shift = bucket / BENCH_HIST_SUB - 1;
    return bench_hist_bucket_low(bucket) + (UINT64_C(1) << shift) - 1;
}

void bench_hist_record(struct bench_hist *h, uint64_t value)
{
    if (h->count == 0 || value < h->min)
        h->min = value;
    if (value > h->max)
        h->max = value;
    h->count++;
    h->sum = h->sum + value < h->sum ? UINT64_MAX : h->sum + value;
    h->buckets[bench_hist_bucket(value)]++;
}

void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src)
{
    if (src->count == 0)
        return;
    if (dst->count == 0 || src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    dst->count += src->count;
    dst->sum = dst->sum + src->sum < dst->sum ? UINT64_MAX : dst->sum + src->sum;
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++)
        dst->buckets[i] += src->buckets[i];
}

uint64_t bench_hist_rank(uint64_t count, double p)
{
    if (count == 0)
        return 0;
    if (!(p > 0)) /* also NaN */
        return 1;
    if (p >= 100)
        return count;
    /* p * count / 100 in long double: 99.9 and 99.99 are not exact in binary,
     * so an exact product (999.0 of 1000) must not round up to the next rank. */
    long double exact = (long double)p * (long double)count / 100.0L;
    uint64_t rank = (uint64_t)ceill(exact - 1e-9L);
    return rank < 1 ? 1 : rank > count ? count : rank;
}

uint64_t bench_hist_percentile(const struct bench_hist *h, double p)
{
    uint64_t rank = bench_hist_rank(h->count, p);
    if (rank == 0)
        return 0;
    uint64_t seen = 0;
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            uint64_t high = bench_hist_bucket_high(i);
            uint64_t v = high < h->max ? high : h->max;
            return v > h->min ? v : h->min;
        }
    }
    return h->max; /* not reached: the buckets add up to count */
}
