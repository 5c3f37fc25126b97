/* clock.h: the server's notion of time. current_time counts seconds since
 * a point CLOCK_UPTIME_BASE seconds before process start (rel_time_t), ticked
 * once a second by the main thread; expiry times are stored in it. The debug
 * build can move it forward. */
#ifndef MC_CLOCK_H
#define MC_CLOCK_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

typedef uint32_t rel_time_t;

/* current_time minus this is the uptime. memcached's relative clock reads
 * 62 at start, uptime 2 (so `stats settings` oldest, a rel_time_t, shows the
 * same numbers), and an item stamped in the first minute is never "older
 * than a minute" by wrap-around. */
#define CLOCK_UPTIME_BASE 60

/* Seconds since process_started; read by every thread, written by the
 * clock tick only (and debugtime). */
extern _Atomic rel_time_t current_time;

/* Unix time at which current_time was 0. */
extern time_t process_started;

/* Seconds since the server started (stats uptime). */
static inline unsigned clock_uptime(void) { return (unsigned)(current_time - CLOCK_UPTIME_BASE); }

/* Sets process_started and current_time; call once before threads start. */
void clock_init(void);

/* Warm restart: continues the clock of a process that started at unix
 * time started, so stored rel_time_t values keep their meaning. */
void clock_restore(time_t started);

/* Recomputes current_time from the monotonic clock; main thread only. */
void clock_tick(void);

/* Moves the clock forward by seconds (debugtime command, debug build). */
void clock_advance(int64_t seconds);

/* Converts a protocol exptime (0 never, <= 30 days relative, larger is a
 * unix time, negative already expired) to rel_time_t; 0 means never. */
rel_time_t clock_realtime(int64_t exptime);

/* The unix time of a rel_time_t. */
static inline time_t clock_abstime(rel_time_t t) { return process_started + (time_t)t; }

/* Nanoseconds from a monotonic clock (for latency probes). */
int64_t clock_monotonic_ns(void);

#endif
