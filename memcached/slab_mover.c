/* slab_mover.c: the page mover thread. To move a page it stops the source
 * class from using it, frees every live item in it (waiting out items that
 * are being read or written), then hands the empty page to the destination
 * class. Between moves it runs the automover (slabs automove 1/2) on
 * memcached 1.6.45's schedule; slab_automove.c decides what automove 1
 * moves, and each decision goes to `watch sysevents`. */
#include "config.h"
#include "slab_mover.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "items.h"
#include "logger.h"
#include "probes.h"
#include "settings.h"
#include "slab_automove.h"
#include "slabs.h"

static pthread_mutex_t mover_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t mover_wake = PTHREAD_COND_INITIALIZER;
static bool want;                   /* a move was requested: want_src -> want_dst */
static int want_src, want_dst;      /* class 0: the global page pool */
static _Atomic int running;
static _Atomic uint64_t moved, rescues, evicted, busy_items, chunk_rescues;

/* Empties and hands over one page. Returns false when src has no page to
 * give (or is no class). log: an automover decision, logged to sysevents
 * watchers once the move started or was refused (as memcached logs it, not
 * when it ends). Runs on the mover thread. */
static bool move_page(unsigned src, unsigned dst, bool log)
{
    struct slab_page_move move;
    bool started = slabs_move_begin(src, &move) == 1;
    if (log && logger_wants(LOG_SYSEVENTS))
        logger_log_slab_move(src, dst, started);
    if (!started)
        return false;
    atomic_store(&running, 1);
    probe_slabs_reassign_start((int)src, (int)dst);
    int64_t items_moved = 0;
    for (unsigned i = 0; i < move.uncut_from; i++) {
        item *it = (item *)(void *)(move.page + (size_t)i * move.chunk_size);
        for (;;) {
            uint16_t flags = __atomic_load_n(&it->it_flags, __ATOMIC_ACQUIRE);
            if (flags & ITEM_SLABBED)
                break;
            /* A chunk of a chunked item's value goes with its item. */
            int r = (flags & (ITEM_LINKED | ITEM_CHUNK)) ? item_evict_for_move(it) : 0;
            if (r == 2) {
                items_moved++;
                atomic_fetch_add(&rescues, 1);
                continue;       /* now it should read as slabbed */
            }
            if (r == 3) {
                items_moved++;
                atomic_fetch_add(&chunk_rescues, 1);
                continue;
            }
            if (r == 1) {
                items_moved++;
                atomic_fetch_add(&evicted, 1);
                continue;
            }
            /* In use, being written, or just unlinked by someone else:
             * wait for its last reference to go. */
            atomic_fetch_add(&busy_items, 1);
            usleep(1000);
        }
    }
    slabs_move_finish(src, dst, &move);
    atomic_fetch_add(&moved, 1);
    atomic_store(&running, 0);
    probe_slabs_reassign_done((int)src, (int)dst, items_moved);
    return true;
}

/* A class other than except that can give a page: with at least two
 * pages, preferring the one with the most free chunks. 0 if none. */
static unsigned any_donor(unsigned except)
{
    unsigned best = 0;
    uint64_t best_free = 0;
    for (unsigned id = 1; id <= slabs_class_count(); id++) {
        struct slab_class_stats s;
        slabs_class_stats(id, &s);
        if (id == except || s.total_pages < 2)
            continue;
        if (best == 0 || s.free_chunks > best_free) {
            best = id;
            best_free = s.free_chunks;
        }
    }
    return best;
}

/* slabs automove 2 gives a page from a class with more than this many
 * pages' worth of free chunks first. */
#define AGGRESSIVE_FREE_PAGES 2.5

/* slabs automove 2: on any eviction, a page from a class with spare free
 * memory or much older items. 0 if none. */
static unsigned aggressive_donor(unsigned victim)
{
    struct items_class_stats v;
    items_class_stats(victim, &v);
    unsigned best = 0;
    rel_time_t best_age = 0;
    for (unsigned id = 1; id <= slabs_class_count(); id++) {
        if (id == victim)
            continue;
        struct slab_class_stats s;
        slabs_class_stats(id, &s);
        if (s.total_pages < 2 || s.chunks_per_page == 0)
            continue;
        if ((double)s.free_chunks / s.chunks_per_page >= AGGRESSIVE_FREE_PAGES)
            return id;
        struct items_class_stats d;
        items_class_stats(id, &d);
        if (d.age > best_age && (double)v.age < d.age * settings.slab_automove_ratio) {
            best = id;
            best_age = d.age;
        }
    }
    return best;
}

/* Returns true when it moved a page. */
static bool automove_aggressive(uint64_t *last_evictions)
{
    for (unsigned id = 1; id <= slabs_class_count(); id++) {
        uint64_t ev = items_class_evictions(id);
        uint64_t delta = ev - last_evictions[id];
        last_evictions[id] = ev;
        if (delta == 0)
            continue;
        unsigned donor = aggressive_donor(id);
        if (donor != 0) {
            move_page(donor, id, false);
            /* What the move evicted is not the victim's pressure. */
            last_evictions[donor] = items_class_evictions(donor);
            return true;
        }
    }
    return false;
}

/* The automover's state between runs (mover thread only). */
struct automove_state {
    struct automover am;
    uint64_t last_evictions[SLAB_CLASS_MAX]; /* automove 2's per-class counts */
    time_t class_move_sec;  /* wall-clock second of the last move to a class:
                             * no run for the rest of it */
};

/* One automover check at wall-clock time now. Returns true when it chose a
 * move (done, or refused, by the time it returns), false when it did not
 * run or chose nothing. A move to a class rate-limits the runs to the next
 * second; a move to the global pool does not, as in memcached. */
static bool automove_check(struct automove_state *st, const struct timespec *now)
{
    if (settings.slab_automove == 0 || st->class_move_sec == now->tv_sec)
        return false;
    if (settings.slab_automove == 2) {
        if (!automove_aggressive(st->last_evictions))
            return false;
        st->class_move_sec = now->tv_sec;
        return true;
    }
    unsigned src, dst;
    if (!slab_automove_run(&st->am, &src, &dst))
        return false;
    move_page(src, dst, true);
    if (dst != 0)
        st->class_move_sec = now->tv_sec;
    return true;
}

/* Carries out a `slabs reassign src dst` request (src -1: any donor; 0:
 * the global page pool). Called by the mover thread without mover_lock. */
static void serve_request(int src, int dst)
{
    if (src == -1) {    /* 0 from any_donor means none, not the pool */
        unsigned donor = any_donor((unsigned)dst);
        src = donor ? (int)donor : -1;
    }
    if (src == 0) {
        probe_slabs_reassign_start(0, dst);
        if (slabs_pool_move((unsigned)dst) == 1)
            atomic_fetch_add(&moved, 1);
        probe_slabs_reassign_done(0, dst, 0);
    } else if (src > 0)
        move_page((unsigned)src, (unsigned)dst, false);
}

/* Checks at 100 ms intervals after start and after each automover move,
 * for this many idle checks, then once a second (memcached 1.6.45's
 * schedule: its window counts these runs, not seconds). */
#define QUICK_CHECKS 11
#define QUICK_CHECK_NS (100 * 1000 * 1000L)

/* The mover thread: serves requests as they come and runs the automover
 * between them: again at once after it chose a move, else after 100 ms
 * while fewer than QUICK_CHECKS idle checks followed the last move, else
 * after a second. A served request is followed by a check at once. */
static void *mover_main(void *arg)
{
    (void)arg;
    static struct automove_state st;
    unsigned idle = 0;
    pthread_mutex_lock(&mover_lock);
    for (;;) {
        int src = want_src, dst = want_dst;
        bool requested = want;
        want = false;
        pthread_mutex_unlock(&mover_lock);

        struct timespec now;
        if (requested) {
            serve_request(src, dst);
        } else {
            clock_gettime(CLOCK_REALTIME, &now);
            if (automove_check(&st, &now)) {
                idle = 0;
            } else {
                if (idle++ < QUICK_CHECKS) {
                    now.tv_nsec += QUICK_CHECK_NS;
                    if (now.tv_nsec >= 1000000000L) {
                        now.tv_sec++;
                        now.tv_nsec -= 1000000000L;
                    }
                } else {
                    now.tv_sec++;
                }
                pthread_mutex_lock(&mover_lock);
                if (!want)
                    pthread_cond_timedwait(&mover_wake, &mover_lock, &now);
                continue;
            }
        }
        pthread_mutex_lock(&mover_lock);
    }
    return NULL;
}

void slab_mover_start(void)
{
    pthread_t tid;
    if (pthread_create(&tid, NULL, mover_main, NULL) != 0) {
        perror("pthread_create (slab mover)");
        return;
    }
    pthread_detach(tid);
}

enum reassign_result slab_mover_reassign(int src, int dst)
{
    unsigned top = slabs_class_count();
    if (src == dst)
        return REASSIGN_SRC_DST_SAME;
    pthread_mutex_lock(&mover_lock);
    bool busy = want || atomic_load(&running);
    pthread_mutex_unlock(&mover_lock);
    if (busy)
        return REASSIGN_RUNNING;
    /* Class 0 is the global page pool: a page can go there, and come from
     * it when it holds two or more. */
    if (src < -1 || src > (int)top || dst < 0 || dst > (int)top)
        return REASSIGN_BADCLASS;
    if (src == -1) {
        src = (int)any_donor((unsigned)dst);
        if (src == 0)
            return REASSIGN_BADCLASS;
    } else if (src == 0) {
        if (slabs_pool_pages() < 2)
            return REASSIGN_NOSPARE;
    } else {
        struct slab_class_stats s;
        slabs_class_stats((unsigned)src, &s);
        if (s.total_pages < 2)
            return REASSIGN_NOSPARE;
    }
    pthread_mutex_lock(&mover_lock);
    if (want || atomic_load(&running)) {
        pthread_mutex_unlock(&mover_lock);
        return REASSIGN_RUNNING;
    }
    want = true;
    want_src = src;
    want_dst = dst;
    pthread_cond_signal(&mover_wake);
    pthread_mutex_unlock(&mover_lock);
    return REASSIGN_OK;
}

void slab_mover_stats_reset(void)
{
    atomic_store(&moved, 0);
    atomic_store(&rescues, 0);
    atomic_store(&evicted, 0);
    atomic_store(&busy_items, 0);
    atomic_store(&chunk_rescues, 0);
}

void slab_mover_stats(struct slab_mover_stats *out)
{
    out->slabs_moved = atomic_load(&moved);
    out->rescues = atomic_load(&rescues);
    out->evictions = atomic_load(&evicted);
    out->busy_items = atomic_load(&busy_items);
    out->chunk_rescues = atomic_load(&chunk_rescues);
    out->running = atomic_load(&running);
}
