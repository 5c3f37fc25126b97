/* slab_automove.h: the automover's decision (slabs automove 1). It keeps a
 * window of per-class samples, one a run (the mover thread decides when to
 * run: slab_mover.c), and says which page, if any, should move. It moves
 * nothing itself. */
#ifndef MC_SLAB_AUTOMOVE_H
#define MC_SLAB_AUTOMOVE_H

#include <stdbool.h>
#include <stdint.h>

#include "clock.h"

/* One run's view of a class. */
struct automove_sample {
    rel_time_t age;         /* COLD tail age at this run */
    float evict_share;      /* this class's part of all classes' evictions
                             * since the last run (0 to 1) */
    uint8_t evicted;        /* evicted since the last run */
    uint8_t dirty;          /* evicted, ran out of memory or gained pages since
                             * the last run */
};

/* The window: samples of every class over the last `window` runs. Zeroed
 * storage is an automover not made yet; only the mover thread touches it. */
struct automover {
    unsigned window;        /* runs kept per class (slab_automove_window) */
    double ratio;           /* slab_automove_ratio it was made with */
    unsigned version;       /* settings.slab_automove_version it was made at */
    uint64_t runs;          /* runs since it was made; none decides before
                             * run window + 1 */
    uint64_t *last_evicted; /* [class] evictions at the last run */
    uint64_t *last_oom;     /* [class] outofmemory at the last run */
    uint64_t *last_pages;   /* [class] total_pages at the last run */
    struct automove_sample *ring; /* [class][window], zeroed when made */
};

/* One run: samples every class and decides. Returns true with *src, *dst
 * set when a page should move (dst 0: to the global page pool), false for
 * no move. Makes the window first when there is none or a runtime
 * `slabs automove window/ratio/freeratio` bumped settings.slab_automove_version
 * (counters start from that moment; an old window is kept if memory for a
 * new one is short). Called by the mover thread only. */
bool slab_automove_run(struct automover *am, unsigned *src, unsigned *dst);

#endif
