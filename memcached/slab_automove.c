/* slab_automove.c: the automover's window of per-class samples and its
 * decision, following memcached 1.6.45's rules (docs/options.md, the
 * automover). Owns the window; reads class stats from items.c and slabs.c
 * under their own locks. */
#include "config.h"
#include "slab_automove.h"

#include <stdlib.h>
#include <string.h>

#include "items.h"
#include "settings.h"
#include "slabs.h"

/* A class with more than this many pages' worth of free chunks and no
 * dirty run in the window gives a page back to the global pool. */
#define AUTOMOVE_FREE_PAGES 2.5
/* A page comes only from a class with more pages than this. */
#define AUTOMOVE_MIN_SOURCE_PAGES 2
/* A class receives only if, over the window, its part of the evictions
 * averages above this, or it evicted in more than half of the runs. */
#define AUTOMOVE_EVICT_SHARE 0.25f
#define WINDOW_MAX 1800

/* What one run reads of a class. */
struct class_now {
    uint64_t evicted, oom, pages, free_chunks;
    unsigned chunks_per_page;
    rel_time_t age;
};

static void automover_drop(struct automover *am)
{
    free(am->ring);
    free(am->last_evicted);
    free(am->last_oom);
    free(am->last_pages);
    memset(am, 0, sizeof(*am));
}

static void read_class(unsigned id, struct class_now *c)
{
    struct items_class_stats it;
    struct slab_class_stats sl;
    items_class_stats(id, &it);
    slabs_class_stats(id, &sl);
    c->evicted = it.evicted;
    c->oom = it.outofmemory;
    c->age = it.age;
    c->pages = sl.total_pages;
    c->free_chunks = sl.free_chunks;
    c->chunks_per_page = sl.chunks_per_page;
}

static unsigned class_top(void)
{
    unsigned n = slabs_class_count();
    return n < SLAB_CLASS_MAX ? n : SLAB_CLASS_MAX - 1;
}

/* (Re)makes am from the settings, its counters starting now. Keeps am as
 * it was when memory is short. */
static void automover_make(struct automover *am)
{
    struct automover fresh = {0};
    fresh.version = settings.slab_automove_version;
    fresh.ratio = settings.slab_automove_ratio;
    int w = settings.slab_automove_window;
    fresh.window = w >= 1 && w <= WINDOW_MAX ? (unsigned)w : 10;
    fresh.ring = calloc((size_t)SLAB_CLASS_MAX * fresh.window, sizeof(*fresh.ring));
    fresh.last_evicted = calloc(SLAB_CLASS_MAX, sizeof(uint64_t));
    fresh.last_oom = calloc(SLAB_CLASS_MAX, sizeof(uint64_t));
    fresh.last_pages = calloc(SLAB_CLASS_MAX, sizeof(uint64_t));
    if (fresh.ring == NULL || fresh.last_evicted == NULL || fresh.last_oom == NULL ||
        fresh.last_pages == NULL) {
        automover_drop(&fresh);
        return;
    }
    for (unsigned id = 1; id <= class_top(); id++) {
        struct class_now c;
        read_class(id, &c);
        fresh.last_evicted[id] = c.evicted;
        fresh.last_oom[id] = c.oom;
        fresh.last_pages[id] = c.pages;
    }
    automover_drop(am);
    *am = fresh;
}

bool slab_automove_run(struct automover *am, unsigned *src, unsigned *dst)
{
    *src = *dst = 0;
    if (am->ring == NULL || am->version != settings.slab_automove_version)
        automover_make(am);
    if (am->ring == NULL)
        return false;
    unsigned w = am->window;
    unsigned top = class_top();
    am->runs++;

    /* Every class is read, and its counters taken, before any is judged:
     * a class's eviction share needs the total. */
    struct class_now now[SLAB_CLASS_MAX];
    uint64_t delta[SLAB_CLASS_MAX];
    uint64_t all_evicted = 0;
    for (unsigned id = 1; id <= top; id++) {
        read_class(id, &now[id]);
        delta[id] = now[id].evicted - am->last_evicted[id];
        all_evicted += delta[id];
    }

    unsigned oldest = 0, youngest = 0;
    uint64_t oldest_age = 0, youngest_age = 0;
    bool youngest_evicting = false, to_pool = false;
    for (unsigned id = 1; id <= top; id++) {
        struct class_now *c = &now[id];
        struct automove_sample *ring = am->ring + (size_t)id * w;
        struct automove_sample *cur = &ring[am->runs % w];
        cur->evicted = delta[id] > 0;
        cur->evict_share = cur->evicted ? (float)delta[id] / (float)all_evicted : 0;
        cur->dirty = cur->evicted || c->oom > am->last_oom[id] || c->pages > am->last_pages[id];
        cur->age = c->age;

        unsigned evicted_runs = 0, dirty_runs = 0;
        float share = 0;
        uint64_t age_sum = 0;
        for (unsigned i = 0; i < w; i++) {
            evicted_runs += ring[i].evicted;
            dirty_runs += ring[i].dirty;
            share += ring[i].evict_share;
            age_sum += ring[i].age;
        }
        /* Over the whole window: runs not taken yet count as age 0. */
        uint64_t age = age_sum / w;

        /* Once the memory limit is reached, a class with idle free memory
         * gives a page to the pool before anything else is looked at: the
         * classes after it take no sample this run. */
        if (c->chunks_per_page != 0 &&
            (double)c->free_chunks > c->chunks_per_page * AUTOMOVE_FREE_PAGES &&
            dirty_runs == 0 && slabs_limit_reached()) {
            *src = id;
            to_pool = true;
            break;
        }
        if (c->pages > AUTOMOVE_MIN_SOURCE_PAGES && age > oldest_age) {
            oldest = id;
            oldest_age = age;
        }
        if ((youngest == 0 || age < youngest_age) &&
            (evicted_runs > w / 2 || share / (float)w > AUTOMOVE_EVICT_SHARE)) {
            youngest = id;
            youngest_age = age;
            youngest_evicting = cur->evicted;
        }
    }
    for (unsigned id = 1; id <= top; id++) {
        am->last_evicted[id] = now[id].evicted;
        am->last_oom[id] = now[id].oom;
        am->last_pages[id] = now[id].pages;
    }
    if (to_pool)
        return true;
    /* A class move needs a window filled once, a receiver that evicted in
     * this very run, and ages far enough apart. */
    if (am->runs > w && oldest != 0 && youngest != 0 && youngest_evicting &&
        (double)youngest_age < (double)oldest_age * am->ratio) {
        *src = oldest;
        *dst = youngest;
        return true;
    }
    return false;
}
