/* assoc.c: the key -> item hash table and its background growth.
 *
 * During growth two tables exist: `old` (being emptied, bucket by bucket, in
 * order) and `primary` (the doubled table). A key whose old bucket is below
 * migrated_buckets lives in primary, otherwise still in old. The expander
 * moves a bucket holding that bucket's item lock stripe, and switches tables
 * holding every stripe, so a caller holding its key's stripe always sees a
 * consistent picture. */
#include "config.h"
#include "assoc.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "probes.h"
#include "settings.h"

#define HASHPOWER_DEFAULT 16
#define HASHPOWER_MAX 32
#define GROW_NUMERATOR 3    /* grow past 3/2 items per bucket */
#define GROW_DENOMINATOR 2

static item **primary;
static item **old;
/* Changed only by the expander holding every stripe (and at init); read
 * under a stripe, or lock-free by stats, hence atomics (relaxed: the
 * stripes order them for the table's users). */
static _Atomic unsigned hashpower;
static _Atomic bool expanding;
#define POWER() atomic_load_explicit(&hashpower, memory_order_relaxed)
#define EXPANDING() atomic_load_explicit(&expanding, memory_order_relaxed)
static _Atomic uint64_t migrated_buckets;
static _Atomic uint64_t hash_items;

static pthread_mutex_t expander_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t expander_wake = PTHREAD_COND_INITIALIZER;
static bool expand_wanted;

#define BUCKETS(power) ((uint64_t)1 << (power))
#define MASK(power) (BUCKETS(power) - 1)

void assoc_init(int power)
{
    unsigned want = power > 0 ? (unsigned)power : HASHPOWER_DEFAULT;
    if (want <= item_lock_power())
        want = item_lock_power() + 1;  /* main() refuses such -o hashpower */
    atomic_store_explicit(&hashpower, want, memory_order_relaxed);
    primary = calloc(BUCKETS(want), sizeof(item *));
    if (primary == NULL) {
        fprintf(stderr, "Failed to init hashtable.\n");
        exit(EXIT_FAILURE);
    }
}

/* The bucket head that holds (or would hold) the key of hash hv. */
static item **bucket_for(uint32_t hv)
{
    unsigned power = POWER();
    if (EXPANDING()) {
        uint64_t old_bucket = hv & MASK(power - 1);
        if (old_bucket >= atomic_load_explicit(&migrated_buckets, memory_order_relaxed))
            return &old[old_bucket];
    }
    return &primary[hv & MASK(power)];
}

item *assoc_find(const char *key, size_t nkey, uint32_t hv)
{
    assert(item_lock_held(hv));
    item *it = *bucket_for(hv);
    while (it != NULL && !(it->nkey == nkey && memcmp(item_key(it), key, nkey) == 0))
        it = it->h_next;
    if (probe_assoc_find_enabled()) {
        /* Items looked at: the chain walked again, so an idle probe costs
         * the walk nothing. */
        int depth = 0;
        for (item *p = *bucket_for(hv); p != NULL; p = p->h_next) {
            depth++;
            if (p == it)
                break;
        }
        char keybuf[KEY_MAX_LENGTH + 1];
        memcpy(keybuf, key, nkey);
        keybuf[nkey] = '\0';
        probe_assoc_find(keybuf, (int)nkey, depth);
    }
    return it;
}

void assoc_insert(item *it, uint32_t hv)
{
    assert(item_lock_held(hv));
    item **head = bucket_for(hv);
    it->h_next = *head;
    *head = it;
    uint64_t n = atomic_fetch_add(&hash_items, 1) + 1;
    probe_assoc_insert(item_key(it), it->nkey);
    if (n > BUCKETS(POWER()) * GROW_NUMERATOR / GROW_DENOMINATOR && !EXPANDING() &&
        POWER() < HASHPOWER_MAX) {
        /* Never block a worker on the expander's lock. */
        if (pthread_mutex_trylock(&expander_lock) == 0) {
            expand_wanted = true;
            pthread_cond_signal(&expander_wake);
            pthread_mutex_unlock(&expander_lock);
        }
    }
}

void assoc_delete(const char *key, size_t nkey, uint32_t hv)
{
    assert(item_lock_held(hv));
    item **link = bucket_for(hv);
    while (*link != NULL) {
        item *it = *link;
        if (it->nkey == nkey && memcmp(item_key(it), key, nkey) == 0) {
            *link = it->h_next;
            it->h_next = NULL;
            atomic_fetch_sub(&hash_items, 1);
            probe_assoc_delete(item_key(it), it->nkey);
            return;
        }
        link = &it->h_next;
    }
}

/* Doubles the table. Runs on the expander thread only. */
static void expand(void)
{
    item **bigger = calloc(BUCKETS(POWER() + 1), sizeof(item *));
    if (bigger == NULL)
        return; /* stay at this size; try again on a later insert */
    unsigned old_power = POWER();
    probe_assoc_expand_start((int)old_power, (int)old_power + 1);

    item_lock_all();
    old = primary;
    primary = bigger;
    atomic_store_explicit(&hashpower, old_power + 1, memory_order_relaxed);
    atomic_store(&migrated_buckets, 0);
    atomic_store_explicit(&expanding, true, memory_order_relaxed);
    item_unlock_all();

    int64_t moved = 0;
    for (uint64_t b = 0; b < BUCKETS(old_power); b++) {
        item_lock((uint32_t)b);
        item *it = old[b];
        while (it != NULL) {
            item *next = it->h_next;
            uint32_t hv = hash_key(item_key(it), it->nkey);
            item **head = &primary[hv & MASK(old_power + 1)];
            it->h_next = *head;
            *head = it;
            moved++;
            it = next;
        }
        old[b] = NULL;
        atomic_store_explicit(&migrated_buckets, b + 1, memory_order_relaxed);
        item_unlock((uint32_t)b);
    }

    item_lock_all();
    atomic_store_explicit(&expanding, false, memory_order_relaxed);
    free(old);
    old = NULL;
    item_unlock_all();
    if (settings.verbose > 1)
        fprintf(stderr, "Hash table expansion done\n");
    probe_assoc_expand_done((int)(old_power + 1), moved);
}

static void *expander_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&expander_lock);
    for (;;) {
        while (!expand_wanted)
            pthread_cond_wait(&expander_wake, &expander_lock);
        expand_wanted = false;
        pthread_mutex_unlock(&expander_lock);
        if (atomic_load(&hash_items) > BUCKETS(POWER()) * GROW_NUMERATOR / GROW_DENOMINATOR)
            expand();
        pthread_mutex_lock(&expander_lock);
    }
    return NULL;
}

void assoc_start_expander(void)
{
    pthread_t tid;
    if (pthread_create(&tid, NULL, expander_main, NULL) != 0) {
        perror("pthread_create (hash expander)");
        exit(EXIT_FAILURE);
    }
    pthread_detach(tid);
}

unsigned assoc_hashpower(void) { return POWER(); }
size_t assoc_hash_bytes(void) { return (size_t)BUCKETS(POWER()) * sizeof(item *); }
bool assoc_expanding(void) { return EXPANDING(); }
