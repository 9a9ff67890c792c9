/*
 * Milliseconds on the two clocks io/ reads. Deadlines and grace periods run
 * on the monotonic clock; credential and nonce expiries on the wall clock,
 * which every server of a fleet shares (a USERNAME minted on one names its
 * expiry for all).
 */
#ifndef STUNRING_IO_CLOCK_H
#define STUNRING_IO_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_ms(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static inline uint64_t monotonic_ms(void) { return clock_ms(CLOCK_MONOTONIC); }
static inline uint64_t wall_clock_ms(void) { return clock_ms(CLOCK_REALTIME); }

#endif
