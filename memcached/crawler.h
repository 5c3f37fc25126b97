/* crawler.h: the LRU crawler, a background thread that walks slab classes'
 * LRUs and reclaims expired and flushed items, on request (lru_crawler
 * crawl) and, while enabled and the LRU maintainer runs, on memcached's
 * automatic schedule (per LRU; reported to "watch sysevents"). */
#ifndef MC_CRAWLER_H
#define MC_CRAWLER_H

#include <stdbool.h>
#include <stdint.h>

#include "slabs.h"

/* Makes the first automatic crawl (when there are automatic crawls) and
 * starts the thread; call before clients are served. */
void crawler_start(void);

/* Queues a crawl of the classes set in want[1..SLAB_CLASS_MAX-1] (all
 * four LRUs of each; lru_crawler_tocrawl items at most in each). Returns
 * false if a crawl is already running or queued, which also holds
 * automatic crawls back for a minute, as in memcached. */
bool crawler_request(const bool want[SLAB_CLASS_MAX]);

/* lru_crawler enable / disable (runtime). */
void crawler_set_enabled(bool on);
bool crawler_enabled(void);

struct crawler_stats {
    uint64_t starts;        /* crawls begun */
    int running;            /* 1 while crawling */
};
void crawler_stats(struct crawler_stats *out);
/* stats reset: zeroes starts. */
void crawler_stats_reset(void);

#endif
