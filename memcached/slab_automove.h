/* slab_automove.h: the automover's decision (slabs automove 1). It keeps a
 * window of per-class samples, one a round (the mover thread runs a round
 * about once a second), and says which page, if any, should move. It moves
 * nothing itself: the caller (slab_mover.c) does. */
#ifndef MC_SLAB_AUTOMOVE_H
#define MC_SLAB_AUTOMOVE_H

#include <stdbool.h>
#include <stdint.h>

#include "clock.h"

/* One round's view of a class. */
struct automove_sample {
    uint8_t evicted;        /* evicted (or ran out of memory) since the last round */
    uint8_t dirty;          /* evicted, or gained pages, since the last round */
    rel_time_t age;         /* COLD tail age at this round */
};

/* The window: samples of every class over the last `window` rounds. */
struct automover {
    int window;             /* rounds kept per class (slab_automove_window) */
    double ratio;           /* slab_automove_ratio the window was made with */
    uint64_t rounds;        /* rounds taken since the window was (re)made */
    uint64_t decide_from;   /* first round that may move a page: 0 at start,
                             * `window` after a runtime window or ratio change */
    uint64_t *last_evicted; /* [class] evicted + outofmemory (minus what the mover
                             * evicted) at the last round */
    uint64_t *last_pages;   /* [class] total_pages at the last round */
    struct automove_sample *ring; /* [class][window] */
};

/* Rounds with an eviction a class needs within a window of w rounds to
 * receive a page: more than a quarter of the window (w 3: 1, 5: 2,
 * 10: 3, 30: 8). */
unsigned slab_automove_evictions_needed(int w);

/* Takes one round of samples of every class and decides. mover_evicted
 * [class] counts evictions the page mover itself caused (not the class's own
 * pressure). Returns true with *src, *dst set when a page should move (dst 0:
 * to the global page pool), false for no move. Remakes the window when
 * slab_automove_window or slab_automove_ratio changed, and then moves
 * nothing until it has filled again; false when memory for it is short.
 * Called by the mover thread only. */
bool slab_automove_round(struct automover *am, const uint64_t *mover_evicted,
                         unsigned *src, unsigned *dst);

#endif
