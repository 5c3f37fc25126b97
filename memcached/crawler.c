/* crawler.c: the LRU crawler thread and its automatic schedule. It walks
 * LRUs (the HOT, WARM, COLD and TEMP lists of each slab class) on request
 * (lru_crawler crawl) and, while the crawler is on and the LRU maintainer
 * runs, each LRU on a schedule of its own, reported to "watch sysevents". */
#include "config.h"
#include "crawler.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "items.h"
#include "logger.h"
#include "probes.h"
#include "settings.h"

/* An LRU's number, as memcached's log shows it: its class in the low six
 * bits, its segment (items.h: HOT 0 .. TEMP 3) above. */
#define LRU_IDS (SLAB_CLASS_MAX * ITEMS_LRU_SEGMENTS)
_Static_assert(SLAB_CLASS_MAX == 64, "an LRU number keeps its class in six bits");
#define LRU_CLASS(n) ((n) & 63u)
#define LRU_SEGMENT(n) ((n) >> 6)
#define LRU_NUMBER(cls, seg) ((cls) | (seg) << 6)

/* The schedule's constants, memcached's. */
#define WAIT_STEP 60        /* seconds an LRU's wait grows or shrinks by */
#define WAIT_MAX 3600       /* the longest wait */
#define WAIT_SLACK 5        /* added to every wait; an LRU found due but not
                             * started is tried again this much later */
#define BLOCK_SECONDS 60    /* no automatic crawl for this long after a crawl
                             * request or an automatic one met a busy crawler */

enum run_kind { RUN_NONE, RUN_REQUEST, RUN_AUTO };

/* Shared with the workers (crawler_request, crawler_stats): under lock,
 * but for the two atomics, which stats reads without it. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static enum run_kind run;               /* what the queued LRUs are for */
static bool queued[LRU_IDS];            /* LRUs still to walk in this run */
static bool walking[LRU_IDS];           /* LRUs being walked now */
static uint32_t limit_of[LRU_IDS];      /* items to look at per queued LRU (0: all) */
static rel_time_t auto_blocked_until;   /* no automatic crawl before this */
static _Atomic int running;             /* run != RUN_NONE, for stats */
static _Atomic uint64_t starts;         /* crawls begun (lru_crawler_starts) */

/* The automatic schedule: the crawler thread's alone (and crawler_start's,
 * before the thread exists). */
struct lru_schedule {
    rel_time_t next;        /* crawl once current_time is past this */
    rel_time_t wait;        /* seconds from a crawl's report to the next */
};
static struct lru_schedule schedule[LRU_IDS];
/* What the automatic run found in each LRU, until the schedule reads it. */
struct lru_report {
    struct items_crawl_counts found;    /* summed over the run's walks */
    rel_time_t start, end;              /* the run's start, the walk's end */
    bool done;                          /* walked, not yet read */
};
static struct lru_report report[LRU_IDS];
static rel_time_t last_check;

static bool auto_crawls(void)
{
    return settings.lru_crawler && settings.lru_maintainer_thread;
}

/* Queues the due LRUs todo for an automatic run with limit. An automatic
 * run already going takes those it is not walking; a requested crawl going
 * refuses them and pauses automatic crawls, as a refused request does. */
static void auto_start(const bool todo[LRU_IDS], uint32_t limit, rel_time_t now)
{
    pthread_mutex_lock(&lock);
    if (run == RUN_REQUEST) {
        auto_blocked_until = now + BLOCK_SECONDS;
        pthread_mutex_unlock(&lock);
        return;
    }
    if (auto_blocked_until > now) {
        pthread_mutex_unlock(&lock);
        return;
    }
    if (run == RUN_NONE) {
        memset(report, 0, sizeof(report));
        for (unsigned n = 0; n < LRU_IDS; n++)
            report[n].start = now;
    }
    bool started = false;
    for (unsigned n = 1; n < LRU_IDS; n++) {
        if (!todo[n] || queued[n] || walking[n])
            continue;
        queued[n] = true;
        limit_of[n] = limit;
        started = true;
    }
    if (started) {
        run = RUN_AUTO;
        atomic_store(&running, 1);
        atomic_fetch_add(&starts, 1);
    }
    pthread_mutex_unlock(&lock);
}

/* Moves LRU n's wait after an automatic crawl by what it found, as
 * memcached does: shorter when more than 1% of its items (and at least
 * two) expire sooner than the wait, longer when they expire later or none
 * is expiring within the hour; then logs the line. */
static void reschedule(unsigned n, rel_time_t now)
{
    static const char *const names[ITEMS_LRU_SEGMENTS] = { "hot", "warm", "cold", "temp" };
    const struct lru_report *r = &report[n];
    struct lru_schedule *s = &schedule[n];
    uint64_t low_mark = (r->found.live - r->found.live_no_ttl) / 100 + 1;
    uint64_t soon = 0;
    for (unsigned m = 0; m < ITEMS_CRAWL_MINUTES; m++) {
        soon += r->found.live_by_minute[m];
        if (soon > low_mark) {
            if (s->wait < m * 60)
                s->wait += WAIT_STEP;
            else if (s->wait >= WAIT_STEP)
                s->wait -= WAIT_STEP;
            break;
        }
    }
    if (soon == 0)
        s->wait += WAIT_STEP;
    if (s->wait > WAIT_MAX)
        s->wait = WAIT_MAX;
    s->next = now + s->wait + WAIT_SLACK;
    if (logger_wants(LOG_SYSEVENTS))
        logger_log_lru_crawler(LRU_CLASS(n), names[LRU_SEGMENT(n)], low_mark, soon,
                               now - r->end, (int)(s->next - now),
                               r->end - r->start, r->found.live, r->found.reclaimed);
}

/* One look at the schedule (at most once a second): reschedules and
 * reports the LRUs walked since the last look, and starts the due ones. */
static void check_schedule(void)
{
    rel_time_t now = current_time;
    bool todo[LRU_IDS] = { false };
    bool any = false;
    uint64_t biggest = 0;
    for (unsigned n = 1; n < LRU_IDS; n++) {
        if (report[n].done) {
            reschedule(n, now);
            report[n].done = false;
        }
        if (now > schedule[n].next) {
            uint64_t size = items_lru_count(LRU_CLASS(n), LRU_SEGMENT(n));
            if (size > biggest)
                biggest = size;
            todo[n] = any = true;
            schedule[n].next = now + WAIT_SLACK;
        }
    }
    if (!any)
        return;
    /* Each LRU is walked as far as the biggest due one holds items now. */
    uint32_t limit = biggest > UINT32_MAX ? UINT32_MAX : (uint32_t)biggest;
    uint32_t tocrawl = settings.lru_crawler_tocrawl;
    if (tocrawl != 0 && tocrawl < limit)
        limit = tocrawl;
    auto_start(todo, limit, now);
}

/* Walks the queued LRUs of the lowest class that has any, if one has.
 * Returns false when nothing is queued (the run, if any, is over). */
static bool walk_next_class(void)
{
    pthread_mutex_lock(&lock);
    unsigned cls = SLAB_CLASS_MAX;
    for (unsigned c = 0; c < SLAB_CLASS_MAX && cls == SLAB_CLASS_MAX; c++)
        for (unsigned seg = 0; seg < ITEMS_LRU_SEGMENTS; seg++)
            if (queued[LRU_NUMBER(c, seg)])
                cls = c;
    if (cls == SLAB_CLASS_MAX) {
        run = RUN_NONE;
        atomic_store(&running, 0);
        pthread_mutex_unlock(&lock);
        return false;
    }
    enum run_kind kind = run;
    uint32_t limit[ITEMS_LRU_SEGMENTS];
    bool walk[ITEMS_LRU_SEGMENTS];
    for (unsigned seg = 0; seg < ITEMS_LRU_SEGMENTS; seg++) {
        unsigned n = LRU_NUMBER(cls, seg);
        walk[seg] = walking[n] = queued[n];
        queued[n] = false;
        limit[seg] = limit_of[n];
    }
    pthread_mutex_unlock(&lock);

    /* The probes name real classes only (an automatic run also walks the
     * empty LRUs of class 0 and of classes beyond the largest). */
    bool probe = cls >= 1 && cls <= slabs_class_count();
    uint64_t checked = 0, reclaimed = 0;
    if (probe)
        probe_crawler_start((int)cls);
    for (unsigned seg = 0; seg < ITEMS_LRU_SEGMENTS; seg++) {
        if (!walk[seg])
            continue;
        struct items_crawl_counts found;
        items_crawl_lru(cls, seg, limit[seg], &found);
        checked += found.checked;
        reclaimed += found.reclaimed;
        if (kind != RUN_AUTO)
            continue;
        struct lru_report *r = &report[LRU_NUMBER(cls, seg)];
        r->found.checked += found.checked;
        r->found.reclaimed += found.reclaimed;
        r->found.live += found.live;
        r->found.live_no_ttl += found.live_no_ttl;
        for (unsigned m = 0; m < ITEMS_CRAWL_MINUTES; m++)
            r->found.live_by_minute[m] += found.live_by_minute[m];
        r->end = current_time;
        r->done = true;
    }
    if (probe)
        probe_crawler_done((int)cls, (int64_t)checked, (int64_t)reclaimed);

    pthread_mutex_lock(&lock);
    for (unsigned seg = 0; seg < ITEMS_LRU_SEGMENTS; seg++)
        walking[LRU_NUMBER(cls, seg)] = false;
    pthread_mutex_unlock(&lock);
    return true;
}

static void *crawler_main(void *arg)
{
    (void)arg;
    for (;;) {
        if (auto_crawls() && current_time != last_check) {
            last_check = current_time;
            check_schedule();
        }
        if (walk_next_class())
            continue;
        /* Idle: wake for a request, or to look at the schedule again. */
        pthread_mutex_lock(&lock);
        if (run == RUN_NONE) {
            struct timespec deadline;
            clock_gettime(CLOCK_REALTIME, &deadline);
            deadline.tv_sec += 1;
            pthread_cond_timedwait(&wake, &lock, &deadline);
        }
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

void crawler_start(void)
{
    /* As memcached, the first automatic run (every LRU) is at start; here
     * it is walked before any client is served, so that it sees only what
     * a warm restart restored. Its report is read a second later. */
    if (auto_crawls()) {
        last_check = current_time;
        check_schedule();
        while (walk_next_class())
            ;
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
    pthread_mutex_lock(&lock);
    if (run != RUN_NONE) {
        auto_blocked_until = current_time + BLOCK_SECONDS;
        pthread_mutex_unlock(&lock);
        return false;
    }
    uint32_t limit = settings.lru_crawler_tocrawl;
    for (unsigned cls = 1; cls < SLAB_CLASS_MAX; cls++) {
        if (!want[cls])
            continue;
        for (unsigned seg = 0; seg < ITEMS_LRU_SEGMENTS; seg++) {
            queued[LRU_NUMBER(cls, seg)] = true;
            limit_of[LRU_NUMBER(cls, seg)] = limit;
        }
    }
    run = RUN_REQUEST;
    atomic_store(&running, 1);
    atomic_fetch_add(&starts, 1);
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
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
