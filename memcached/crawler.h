/* crawler.h: the LRU crawler, a background thread that walks slab classes'
 * LRUs and reclaims expired and flushed items, on request (lru_crawler
 * crawl) and on its own every so often while enabled. */
#ifndef MC_CRAWLER_H
#define MC_CRAWLER_H

#include <stdbool.h>
#include <stdint.h>

#include "slabs.h"

/* Starts the thread (it idles while the crawler is disabled). */
void crawler_start(void);

/* Queues a crawl of the classes set in want[1..SLAB_CLASS_MAX-1].
 * Returns false if a crawl is already running or queued. */
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
