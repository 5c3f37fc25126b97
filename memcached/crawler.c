/* crawler.c: the LRU crawler thread. Requested crawls run as soon as the
 * thread is free; while enabled it also crawls every class with items
 * once per AUTOCRAWL_SECONDS, so expired items give their memory back
 * without waiting to be fetched or pushed out. */
#include "config.h"

#include "crawler.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "items.h"
#include "probes.h"
#include "settings.h"

#define AUTOCRAWL_SECONDS 60

static pthread_mutex_t crawler_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t crawler_wake = PTHREAD_COND_INITIALIZER;
static bool wanted[SLAB_CLASS_MAX];
static bool request_pending;
static _Atomic int running;
static _Atomic uint64_t starts;

static void crawl(const bool want[SLAB_CLASS_MAX])
{
    atomic_store(&running, 1);
    atomic_fetch_add(&starts, 1);
    for (unsigned id = 1; id <= slabs_class_count(); id++) {
        if (!want[id])
            continue;
        uint64_t checked, reclaimed;
        probe_crawler_start((int)id);
        items_crawl_class(id, settings.lru_crawler_tocrawl, &checked, &reclaimed);
        probe_crawler_done((int)id, (int64_t)checked, (int64_t)reclaimed);
    }
    atomic_store(&running, 0);
}

/* The classes that hold items. */
static void classes_with_items(bool want[SLAB_CLASS_MAX])
{
    for (unsigned id = 0; id < SLAB_CLASS_MAX; id++)
        want[id] = id >= 1 && id <= slabs_class_count() && items_class_count(id) > 0;
}

static void *crawler_main(void *arg)
{
    (void)arg;
    time_t last_auto = time(NULL);     /* the first pass ran in crawler_start */
    pthread_mutex_lock(&crawler_lock);
    for (;;) {
        if (!request_pending) {
            struct timespec deadline;
            clock_gettime(CLOCK_REALTIME, &deadline);
            deadline.tv_sec += 1;
            pthread_cond_timedwait(&crawler_wake, &crawler_lock, &deadline);
        }
        bool want[SLAB_CLASS_MAX];
        bool go = false;
        if (request_pending) {
            memcpy(want, wanted, sizeof(want));
            request_pending = false;
            go = true;
        } else if (settings.lru_crawler && time(NULL) - last_auto >= AUTOCRAWL_SECONDS) {
            last_auto = time(NULL);
            classes_with_items(want);
            go = true;
        }
        pthread_mutex_unlock(&crawler_lock);
        if (go)
            crawl(want);
        pthread_mutex_lock(&crawler_lock);
    }
    return NULL;
}

void crawler_start(void)
{
    /* As memcached, the first automatic pass runs at start; here before
     * any client is served (it walks only what a warm restart restored). */
    if (settings.lru_crawler) {
        bool want[SLAB_CLASS_MAX];
        classes_with_items(want);
        crawl(want);
    }
    pthread_t tid;
    if (pthread_create(&tid, NULL, crawler_main, NULL) != 0) {
        perror("pthread_create (lru crawler)");
        return;
    }
    pthread_detach(tid);
}

bool crawler_request(const bool want[SLAB_CLASS_MAX])
{
    pthread_mutex_lock(&crawler_lock);
    if (request_pending || atomic_load(&running)) {
        pthread_mutex_unlock(&crawler_lock);
        return false;
    }
    memcpy(wanted, want, sizeof(wanted));
    request_pending = true;
    pthread_cond_signal(&crawler_wake);
    pthread_mutex_unlock(&crawler_lock);
    return true;
}

void crawler_set_enabled(bool on) { settings.lru_crawler = on; }
bool crawler_enabled(void) { return settings.lru_crawler; }

void crawler_stats_reset(void) { atomic_store(&starts, 0); }

void crawler_stats(struct crawler_stats *out)
{
    out->starts = atomic_load(&starts);
    out->running = atomic_load(&running);
}
