/* item_locks.c: owns the item lock stripe table and, in the debug build,
 * each thread's record of the stripes it holds (see item_locks.h for what
 * a stripe protects and the lock order). */
#include "config.h"

#include "item_locks.h"

#include <assert.h>
#include <pthread.h>
#include <stddef.h>

/* Exported for the inline lock functions of item_locks.h alone. */
pthread_mutex_t item_lock_stripes[1u << ITEM_LOCK_POWER_MAX];
uint32_t item_lock_mask = (1u << ITEM_LOCK_POWER_MAX) - 1;
static unsigned lock_power = ITEM_LOCK_POWER_MAX;

#define STRIPE(hv) ((hv) & item_lock_mask)

#ifndef NDEBUG
/* Debug build: the stripes this thread holds, as a bitmap, and how many. */
static __thread uint64_t held_bits[(1u << ITEM_LOCK_POWER_MAX) / 64];
static __thread unsigned held_count;

static void note_taken(uint32_t s)
{
    assert(!(held_bits[s / 64] & (1ull << (s % 64))) && "item stripe taken twice by one thread");
    held_bits[s / 64] |= 1ull << (s % 64);
    held_count++;
}

static void note_released(uint32_t s)
{
    assert((held_bits[s / 64] & (1ull << (s % 64))) && "item stripe released but not held");
    held_bits[s / 64] &= ~(1ull << (s % 64));
    held_count--;
}

bool item_lock_held(uint32_t hv)
{
    uint32_t s = STRIPE(hv);
    return (held_bits[s / 64] & (1ull << (s % 64))) != 0;
}
#else
#define note_taken(s) ((void)0)
#define note_released(s) ((void)0)
#endif

void item_locks_init(int nthreads)
{
    lock_power = nthreads < 3 ? 10 : nthreads < 4 ? 11 : nthreads < 5 ? 12 : ITEM_LOCK_POWER_MAX;
    item_lock_mask = (1u << lock_power) - 1;
    for (size_t i = 0; i < sizeof(item_lock_stripes) / sizeof(item_lock_stripes[0]); i++)
        pthread_mutex_init(&item_lock_stripes[i], NULL);
}

unsigned item_lock_power(void) { return lock_power; }

#ifndef NDEBUG
/* (memcached, built with NDEBUG, has these inline in item_locks.h.) */
void item_lock(uint32_t hv)
{
    assert(held_count == 0 && "item_lock while holding a stripe: only item_trylock may");
    pthread_mutex_lock(&item_lock_stripes[STRIPE(hv)]);
    note_taken(STRIPE(hv));
}

void item_unlock(uint32_t hv)
{
    note_released(STRIPE(hv));
    pthread_mutex_unlock(&item_lock_stripes[STRIPE(hv)]);
}

bool item_trylock(uint32_t hv)
{
    if (pthread_mutex_trylock(&item_lock_stripes[STRIPE(hv)]) != 0)
        return false;
    note_taken(STRIPE(hv));
    return true;
}
#endif

void item_lock_all(void)
{
    for (uint32_t s = 0; s < (1u << lock_power); s++) {
        pthread_mutex_lock(&item_lock_stripes[s]);
        note_taken(s);
    }
}

void item_unlock_all(void)
{
    for (uint32_t s = 0; s < (1u << lock_power); s++)
        item_unlock(s);
}
