/* clock.c: current_time and exptime conversion. The relative clock starts
 * CLOCK_UPTIME_BASE + 2 seconds in, as memcached's does, so that an item
 * stamped at 0 is never mistaken for one stamped "now" and uptime starts at 2. */
#include "config.h"
#include "clock.h"

#include <stdatomic.h>

#define REALTIME_MAXDELTA (60 * 60 * 24 * 30)
#define CLOCK_START_OFFSET (CLOCK_UPTIME_BASE + 2)

/* Seconds current_time had when monotonic_start was read. */
static int64_t start_offset = CLOCK_START_OFFSET;

_Atomic rel_time_t current_time;
time_t process_started;

static struct timespec monotonic_start;
static _Atomic int64_t advanced_seconds;

void clock_init(void)
{
    process_started = time(NULL) - CLOCK_START_OFFSET;
    clock_gettime(CLOCK_MONOTONIC, &monotonic_start);
    current_time = CLOCK_START_OFFSET;
}

void clock_tick(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t elapsed = (int64_t)(now.tv_sec - monotonic_start.tv_sec);
    current_time = (rel_time_t)(elapsed + start_offset + atomic_load(&advanced_seconds));
}

void clock_restore(time_t started)
{
    process_started = started;
    start_offset = (int64_t)(time(NULL) - started);
    clock_gettime(CLOCK_MONOTONIC, &monotonic_start);
    current_time = (rel_time_t)start_offset;
}

void clock_advance(int64_t seconds)
{
    atomic_fetch_add(&advanced_seconds, seconds);
    clock_tick();
}

rel_time_t clock_realtime(int64_t exptime)
{
    if (exptime == 0)
        return 0;
    if (exptime < 0)
        return 1; /* already in the past: expires at once */
    if (exptime > REALTIME_MAXDELTA) {
        /* Absolute unix time. One that is already past expires at once. */
        if (exptime <= process_started)
            return 1;
        return (rel_time_t)(exptime - process_started);
    }
    return (rel_time_t)(exptime + current_time);
}

int64_t clock_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
