/* slab_automove.c: the automover's window of per-class samples and its
 * decision, made to match memcached 1.6.45 as measured from outside (see
 * docs/options.md, slab_automove_window). Owns the window; reads class
 * stats from items.c and slabs.c under their own locks. */
#include "config.h"
#include "slab_automove.h"

#include <stdlib.h>
#include <string.h>

#include "items.h"
#include "settings.h"
#include "slabs.h"

/* A class with more than this many pages' worth of free chunks and no
 * dirty round in the window gives a page back to the global pool. */
#define AUTOMOVE_FREE_PAGES 2.5
/* A page comes only from a class with more pages than this. */
#define AUTOMOVE_MIN_SOURCE_PAGES 2
#define WINDOW_MAX 1800

unsigned slab_automove_evictions_needed(int w)
{
    return (unsigned)w / 4 + 1;
}

static void automover_drop(struct automover *am)
{
    free(am->ring);
    free(am->last_evicted);
    free(am->last_pages);
    memset(am, 0, sizeof(*am));
}

static bool automover_make(struct automover *am)
{
    /* A remade window (runtime change) decides only once full again, as
     * memcached 1.6.45 does (window 10 -> 30: first move 31 s later); the
     * first one decides at once (1.6.45 moves within seconds of start at
     * window 10). */
    bool remade = am->ring != NULL;
    automover_drop(am);
    am->ratio = settings.slab_automove_ratio;
    am->window = settings.slab_automove_window;
    if (am->window < 1 || am->window > WINDOW_MAX)
        am->window = 10;
    am->ring = calloc((size_t)SLAB_CLASS_MAX * (size_t)am->window, sizeof(*am->ring));
    am->last_evicted = calloc(SLAB_CLASS_MAX, sizeof(uint64_t));
    am->last_pages = calloc(SLAB_CLASS_MAX, sizeof(uint64_t));
    if (am->ring == NULL || am->last_evicted == NULL || am->last_pages == NULL) {
        automover_drop(am);
        return false;
    }
    am->decide_from = remade ? (uint64_t)am->window : 0;
    return true;
}

bool slab_automove_round(struct automover *am, const uint64_t *mover_evicted,
                         unsigned *src, unsigned *dst)
{
    *src = *dst = 0;
    if (am->ring == NULL || am->window != settings.slab_automove_window ||
        am->ratio != settings.slab_automove_ratio)
        if (!automover_make(am))
            return false;
    int w = am->window;
    am->rounds++;
    /* Ages average over the rounds taken, not over empty slots: a young
     * window does not make every class look young. */
    uint64_t taken = am->rounds < (uint64_t)w ? am->rounds : (uint64_t)w;
    unsigned needed = slab_automove_evictions_needed(w);
    unsigned pool_src = 0, oldest = 0, youngest = 0;
    double oldest_age = 0, youngest_age = 0;
    for (unsigned id = 1; id <= slabs_class_count() && id < SLAB_CLASS_MAX; id++) {
        struct items_class_stats it;
        struct slab_class_stats sl;
        items_class_stats(id, &it);
        slabs_class_stats(id, &sl);
        struct automove_sample *ring = am->ring + (size_t)id * (size_t)w;
        struct automove_sample *cur = &ring[am->rounds % (uint64_t)w];
        uint64_t ev = it.evicted + it.outofmemory - mover_evicted[id];
        cur->evicted = ev != am->last_evicted[id];
        cur->dirty = cur->evicted || sl.total_pages > am->last_pages[id];
        cur->age = it.age;
        am->last_evicted[id] = ev;
        am->last_pages[id] = sl.total_pages;

        unsigned evicting = 0, dirty = 0;
        uint64_t age_sum = 0;
        for (int i = 0; i < w; i++) {
            evicting += ring[i].evicted;
            dirty += ring[i].dirty;
            age_sum += ring[i].age;
        }
        double age = (double)age_sum / (double)taken;

        bool excess_free = sl.chunks_per_page != 0 &&
                           (double)sl.free_chunks > sl.chunks_per_page * AUTOMOVE_FREE_PAGES;
        if (pool_src == 0 && excess_free && dirty == 0 && slabs_limit_reached() &&
            sl.total_pages >= 2)
            pool_src = id;
        if (sl.total_pages > AUTOMOVE_MIN_SOURCE_PAGES && !cur->evicted &&
            (oldest == 0 || age > oldest_age)) {
            oldest = id;
            oldest_age = age;
        }
        if (evicting >= needed && (youngest == 0 || age < youngest_age)) {
            youngest = id;
            youngest_age = age;
        }
    }
    if (am->rounds < am->decide_from)
        return false;
    /* Once the memory limit is reached, idle free memory goes back to the
     * pool before any class-to-class move. */
    if (pool_src != 0) {
        *src = pool_src;
        *dst = 0;
        return true;
    }
    if (youngest != 0 && oldest != 0 && youngest != oldest &&
        youngest_age < oldest_age * settings.slab_automove_ratio) {
        *src = oldest;
        *dst = youngest;
        return true;
    }
    return false;
}
