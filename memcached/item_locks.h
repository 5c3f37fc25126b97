/* item_locks.h: the item lock stripes, a leaf module (it uses nothing of
 * items or assoc, both of which use it). A key's stripe is chosen by the
 * low bits of its hash; one stripe covers many keys.
 *
 * Contract (what the stripe of hash hv protects):
 *  - the hash chain of every bucket whose keys have hash hv's stripe
 *    (assoc_find/insert/delete need it held);
 *  - every field change of a linked item with that hash except refcount
 *    (atomic): it_flags, time, lru_segment, exptime, the value, the CAS;
 *  - linking and unlinking (items.h *_locked functions need it held).
 * Order: stripe -> a class's LRU lock -> that class's slab lock. A thread
 * takes a stripe with item_lock only while it holds no stripe and no LRU
 * lock; holding either, it may take more stripes by item_trylock only
 * (eviction while allocating, the LRU walkers). The hash expander alone
 * blocks on several: all of them in stripe order through item_lock_all,
 * holding nothing else.
 * memcached-debug (built without NDEBUG) records the stripes each thread
 * holds and asserts the stripe rules: held where a function needs it
 * (item_lock_held), item_lock with none held, no stripe taken twice or
 * released unheld. The LRU side of the order is not checked. memcached
 * (-O2 -DNDEBUG) records nothing: there the three are inline (below). */
#ifndef MC_ITEM_LOCKS_H
#define MC_ITEM_LOCKS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* At most 1 << ITEM_LOCK_POWER_MAX stripes. */
#define ITEM_LOCK_POWER_MAX 13

/* Sizes the table for nthreads workers (fewer workers, fewer stripes, as
 * memcached sizes its lock table). Call once, before any other thread
 * runs. */
void item_locks_init(int nthreads);

/* log2 of the number of stripes (set by item_locks_init). The hash table
 * always has more buckets than stripes, so one bucket has one stripe. */
unsigned item_lock_power(void);

/* The stripe table and the mask that picks hv's stripe, both owned and
 * set up by item_locks.c. They are in this header only so that the
 * memcached build's item_lock, item_unlock and item_trylock below inline
 * into every request's path (out of line, each cost 10 instructions more
 * per call, bench/probe-idle-cost.sh -c); nothing outside item_locks.c
 * and these functions may use them. */
extern pthread_mutex_t item_lock_stripes[1u << ITEM_LOCK_POWER_MAX];
extern uint32_t item_lock_mask;    /* (1 << item_lock_power()) - 1 */

/* Takes / releases the stripe of hash hv (item_lock: holding no stripe).
 * item_trylock takes the stripe if it is free; true when taken. */
#ifdef NDEBUG
static inline void item_lock(uint32_t hv)
{
    pthread_mutex_lock(&item_lock_stripes[hv & item_lock_mask]);
}
static inline void item_unlock(uint32_t hv)
{
    pthread_mutex_unlock(&item_lock_stripes[hv & item_lock_mask]);
}
static inline bool item_trylock(uint32_t hv)
{
    return pthread_mutex_trylock(&item_lock_stripes[hv & item_lock_mask]) == 0;
}
#else
/* memcached-debug: functions in item_locks.c that record and check. */
void item_lock(uint32_t hv);
void item_unlock(uint32_t hv);
bool item_trylock(uint32_t hv);
#endif

/* Every stripe, in order (the hash expander switching tables), and back. */
void item_lock_all(void);
void item_unlock_all(void);

#ifndef NDEBUG
/* True when the calling thread holds hv's stripe (for assertions only:
 * it exists when assertions are compiled in). */
bool item_lock_held(uint32_t hv);
#endif

#endif
