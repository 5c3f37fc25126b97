/* slab_mover.h: moves slab pages between classes, on request (slabs
 * reassign) or by the automover when a class evicts while another has
 * spare memory. One background thread does the work. */
#ifndef MC_SLAB_MOVER_H
#define MC_SLAB_MOVER_H

#include <stdint.h>

enum reassign_result {
    REASSIGN_OK,
    REASSIGN_RUNNING,       /* a move is already under way */
    REASSIGN_BADCLASS,      /* src or dst is not a slab class */
    REASSIGN_NOSPARE,       /* src has fewer than two pages */
    REASSIGN_SRC_DST_SAME
};

/* Starts the mover thread. */
void slab_mover_start(void);

/* Asks for one page of src (-1: any class with a spare page) to move to
 * dst. Returns at once; the move happens in the background. */
enum reassign_result slab_mover_reassign(int src, int dst);

/* Counters for stats. */
struct slab_mover_stats {
    uint64_t slabs_moved;           /* pages moved */
    uint64_t rescues;               /* live items moved off a page being emptied */
    uint64_t evictions;             /* live items evicted for lack of a free chunk */
    uint64_t busy_items;            /* times an in-use item made the mover wait */
    uint64_t chunk_rescues;         /* chunks of large items moved off a page being emptied */
    int running;                    /* 1 while a move is under way */
};
void slab_mover_stats(struct slab_mover_stats *out);
/* stats reset: zeroes the counters (not running). */
void slab_mover_stats_reset(void);

#endif
