/* items.c: item lifetime (allocate, link, unlink, release), the segmented LRU of each slab class (HOT, WARM, COLD, TEMP) with
 * its maintainer thread, eviction from the COLD tail, lazy expiry and
 * flush_all.
 *
 * New items enter HOT (TEMP when their TTL is under temporary_ttl). The
 * maintainer moves HOT's tail to WARM if it was fetched again, else to COLD,
 * and WARM's idle tail to COLD, whenever a segment outgrows its share of the
 * class or its tail is old relative to COLD's. A second hit on an item in
 * COLD queues it on the worker's bump queue, and the maintainer moves it to
 * WARM on its next pass (workers take no LRU lock for it). Evictions take
 * COLD's tail. With -o no_lru_segmented everything lives in COLD and hits
 * bump items to its head once a minute. */
#include "config.h"
#include "items.h"

#include <assert.h>
#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "assoc.h"
#include "hash.h"
#include "logger.h"
#include "probes.h"
#include "settings.h"
#include "slabs.h"

#define ITEM_UPDATE_INTERVAL 60     /* seconds between LRU bumps of an item */
#define EVICT_SEARCH_DEPTH 5        /* tail items looked at per eviction try */
#define ALLOC_TRIES 10

enum lru_segment { SEG_HOT, SEG_WARM, SEG_COLD, SEG_TEMP, SEGMENTS };

struct lru {
    item *head;                     /* newest */
    item *tail;                     /* oldest */
    pthread_mutex_t lock;
    /* Counters guarded by lock. */
    uint64_t curr_items, total_items, bytes;
    uint64_t evictions, reclaimed, expired_unfetched, evicted_unfetched;
    uint64_t evicted_active, evicted_nonzero, outofmemory;
    uint64_t crawler_reclaimed, crawler_items_checked;
    uint64_t moves_to_cold, moves_to_warm, moves_within_lru;
    uint64_t direct_reclaims;       /* failed tries of allocations in this class */
    rel_time_t evicted_time;
};
static struct lru lrus[SLAB_CLASS_MAX][SEGMENTS];
#define LRU_OF(it) (&lrus[(it)->slabs_clsid][(it)->lru_segment])
static _Atomic uint64_t maintainer_juggles;

/* Items and bytes per class, changed only at link and unlink, so a stats
 * read never sees an item twice or not at all while it moves between
 * segments. (The per-segment counts above drive the maintainer.) */
static _Atomic uint64_t class_items[SLAB_CLASS_MAX], class_bytes[SLAB_CLASS_MAX];

/* Bump queues: a worker that fetches an item in COLD a second time marks
 * it ITEM_ACTIVE and queues it here with a reference; the maintainer
 * drains every queue on each pass, moving the item to WARM. One queue per
 * worker, a ring the worker appends to and the maintainer consumes from;
 * lock guards head, count and dropped (the slots between head and
 * head + count are read by the maintainer without it: the worker writes
 * only past them). When full, the bump is dropped and counted. */
#define BUMP_QUEUE_SIZE 8192

struct bump_entry {
    item *it;                       /* holds a reference for the queue */
    uint32_t hv;                    /* its key's hash */
};

struct bump_queue {
    pthread_mutex_t lock;
    unsigned head;                  /* the oldest entry */
    unsigned count;                 /* entries queued */
    uint64_t dropped;               /* bumps lost to a full queue */
    struct bump_entry ring[BUMP_QUEUE_SIZE];
};

static struct bump_queue *bump_queues;  /* settings.num_threads of them */
static unsigned nbump_queues;
static __thread struct bump_queue *my_bump_queue;  /* NULL: not a worker */
/* Set once the maintainer runs: before (or without) it, hits move
 * items themselves, as nobody would drain a queue. */
static _Atomic bool maintainer_running;

/* memcached hands out 2 as its first CAS unique: so do we. */
static _Atomic uint64_t cas_counter = 1;
/* flush_all: items last touched at or before oldest_live are dead once
 * current_time reaches it (an immediate flush sets it to the second before
 * the flush's, as memcached does: `stats settings` oldest shows it); for an
 * immediate flush, also those whose CAS is below oldest_cas (stored earlier
 * in the flush's second; without CAS, flush_recent unlinks those). */
static _Atomic rel_time_t oldest_live;
static _Atomic uint64_t oldest_cas;

void items_init(void)
{
    item_locks_init(settings.num_threads);
    for (unsigned i = 0; i < SLAB_CLASS_MAX; i++)
        for (unsigned seg = 0; seg < SEGMENTS; seg++)
            pthread_mutex_init(&lrus[i][seg].lock, NULL);
    nbump_queues = settings.num_threads > 0 ? (unsigned)settings.num_threads : 0;
    bump_queues = nbump_queues ? calloc(nbump_queues, sizeof(*bump_queues)) : NULL;
    if (bump_queues == NULL)
        nbump_queues = 0;
    for (unsigned i = 0; i < nbump_queues; i++)
        pthread_mutex_init(&bump_queues[i].lock, NULL);
}

void items_worker_attach(unsigned index)
{
    if (index < nbump_queues)
        my_bump_queue = &bump_queues[index];
}

uint64_t item_next_cas(void)
{
    return settings.use_cas ? atomic_fetch_add(&cas_counter, 1) + 1 : 0;
}

void item_ref(item *it)
{
    uint16_t before = __atomic_fetch_add(&it->refcount, 1, __ATOMIC_RELAXED);
    assert(before != 0 && "item referenced after its last release");
    assert(before != UINT16_MAX && "item reference count wrapped");
    (void)before;
}

static inline int value_len(const item *it) { return (int)it->nbytes - 2; }

/* ---- LRU lists (caller holds the class's lru lock) ---- */

/* An item is on at most one LRU: pushing needs it on none. */
static void lru_push_head(struct lru *l, item *it)
{
    assert(it->prev == NULL && it->next == NULL && l->head != it && "item already on an LRU");
    it->prev = NULL;
    it->next = l->head;
    if (l->head)
        l->head->prev = it;
    l->head = it;
    if (l->tail == NULL)
        l->tail = it;
}

/* Removes an item that is on LRU l (and on no other). */
static void lru_remove(struct lru *l, item *it)
{
    assert((it->prev ? it->prev->next == it : l->head == it) && "item is not on this LRU");
    assert((it->next ? it->next->prev == it : l->tail == it) && "item is not on this LRU");
    if (it->prev)
        it->prev->next = it->next;
    else
        l->head = it->next;
    if (it->next)
        it->next->prev = it->prev;
    else
        l->tail = it->prev;
    it->next = it->prev = NULL;
}

/* ---- liveness ---- */

bool item_is_dead(const item *it, bool *flushed)
{
    rel_time_t live = atomic_load_explicit(&oldest_live, memory_order_relaxed);
    *flushed = false;
    if (live != 0 && live <= current_time) {
        uint64_t ocas;
        if (item_time(it) <= live ||
            ((ocas = atomic_load_explicit(&oldest_cas, memory_order_relaxed)) != 0 &&
             (item_flags(it) & ITEM_CAS) && item_get_cas(it) < ocas)) {
            *flushed = true;
            return true;
        }
    }
    rel_time_t exp = item_exptime(it);
    return exp != 0 && exp <= current_time;
}

static void flush_recent(void);

void items_flush(rel_time_t when, bool immediate)
{
    if (immediate) {
        atomic_store(&oldest_cas, settings.use_cas ? atomic_load(&cas_counter) + 1 : 0);
        atomic_store(&oldest_live, current_time - 1);
        flush_recent();
    } else {
        atomic_store(&oldest_cas, 0);
        atomic_store(&oldest_live, when - 1);
    }
}

_Static_assert(offsetof(struct item_chunk, it_flags) == offsetof(item, it_flags) &&
               offsetof(struct item_chunk, slabs_clsid) == offsetof(item, slabs_clsid) &&
               sizeof(struct item_chunk) == sizeof(item),
               "an item_chunk must read like an item to the slab allocator and mover");

/* ---- chunked values ---- */

static struct item_chunk **first_chunk_slot(item *it)
{
    return (struct item_chunk **)(void *)(it->data + item_chunk_link_offset(it));
}

/* The bytes a chunked item's own chunk was allocated for. */
static size_t head_alloc_size(const item *it)
{
    return item_chunked_head_size(it->nkey, item_flags(it) & ITEM_CAS, it->client_flags != 0);
}

/* The bytes a chunk was allocated for (what slabs_free is told): what it
 * holds and its header; a whole chunk in the largest class, whose chunks
 * may hold less than they have room for (see hang_chunk). */
static size_t chunk_alloc_size(const struct item_chunk *ch)
{
    if (ch->slabs_clsid == slabs_class_count())
        return slabs_chunk_size(ch->slabs_clsid);
    return sizeof(struct item_chunk) + ch->size;
}

char *item_value_span_chunked(item *it, uint32_t offset, uint32_t *len)
{
    if (!(item_flags(it) & ITEM_CHUNKED)) {
        *len = it->nbytes - offset;
        return item_value(it) + offset;
    }
    struct item_chunk *ch = *first_chunk_slot(it);
    while (offset >= ch->size) {
        offset -= ch->size;
        ch = ch->next;
    }
    *len = ch->size - offset;
    return ch->data + offset;
}

void item_value_read(item *it, uint32_t offset, void *dst, uint32_t len)
{
    while (len > 0) {
        uint32_t run;
        const char *p = item_value_span(it, offset, &run);
        if (run > len)
            run = len;
        memcpy(dst, p, run);
        dst = (char *)dst + run;
        offset += run;
        len -= run;
    }
}

void item_value_write(item *it, uint32_t offset, const void *src, uint32_t len)
{
    while (len > 0) {
        uint32_t run;
        char *p = item_value_span(it, offset, &run);
        if (run > len)
            run = len;
        memcpy(p, src, run);
        src = (const char *)src + run;
        offset += run;
        len -= run;
    }
}

void item_value_copy(item *dst, uint32_t offset, item *src, uint32_t len)
{
    for (uint32_t done = 0; done < len;) {
        uint32_t run;
        const char *p = item_value_span(src, done, &run);
        if (run > len - done)
            run = len - done;
        item_value_write(dst, offset + done, p, run);
        done += run;
    }
}

bool item_value_ends_crlf(item *it)
{
    char tail[2];
    item_value_read(it, it->nbytes - 2, tail, 2);
    return tail[0] == '\r' && tail[1] == '\n';
}

/* ---- freeing ---- */

static void item_free(item *it)
{
    if (item_flags(it) & ITEM_CHUNKED) {
        struct item_chunk *ch = *first_chunk_slot(it);
        while (ch != NULL) {
            struct item_chunk *next = ch->next;
            slabs_free(ch, chunk_alloc_size(ch), ch->slabs_clsid);
            ch = next;
        }
        slabs_free(it, head_alloc_size(it), it->head_clsid);
        return;
    }
    slabs_free(it, item_ntotal(it), it->slabs_clsid);
}

void item_release(item *it)
{
    if (probe_item_remove_enabled())
        probe_item_remove(item_key(it), it->nkey, value_len(it));
    uint16_t left = __atomic_sub_fetch(&it->refcount, 1, __ATOMIC_ACQ_REL);
    assert(left != UINT16_MAX && "item released more often than referenced");
    if (left == 0) {
        /* The link holds a reference: the last one goes after unlinking. */
        assert(!(item_flags(it) & (ITEM_LINKED | ITEM_SLABBED)) && "freeing a linked or free item");
        item_free(it);
    }
}

/* Taking the count down for an item leaving LRU l. */
static void lru_uncount(struct lru *l, item *it)
{
    assert(l->curr_items > 0 && l->bytes >= item_ntotal(it) && "LRU counts below its items");
    l->curr_items--;
    l->bytes -= item_ntotal(it);
}

/* Unlinks under the item lock when the caller already holds the LRU lock. */
static void unlink_with_lru_held(item *it, uint32_t hv, struct lru *l)
{
    assert(item_lock_held(hv));
    if (!(it->it_flags & ITEM_LINKED))
        return;
    assert(l == LRU_OF(it) && "unlinking through another LRU than the item's");
    if (probe_item_unlink_enabled())    /* (item_key is an atomic load) */
        probe_item_unlink(item_key(it), it->nkey, value_len(it));
    item_flags_clear(it, ITEM_LINKED);
    assoc_delete(item_key(it), it->nkey, hv);
    lru_remove(l, it);
    lru_uncount(l, it);
    atomic_fetch_sub(&class_items[it->slabs_clsid], 1);
    atomic_fetch_sub(&class_bytes[it->slabs_clsid], item_ntotal(it));
    item_release(it);
}

void item_unlink_locked(item *it, uint32_t hv)
{
    assert(item_lock_held(hv));
    struct lru *l = LRU_OF(it);
    pthread_mutex_lock(&l->lock);
    unlink_with_lru_held(it, hv, l);
    pthread_mutex_unlock(&l->lock);
}

/* Puts a newly linked item at the head of LRU l and counts it in the
 * segment's and the class's totals. Caller holds the item lock, not l's. */
static void lru_insert_counted(struct lru *l, item *it)
{
    pthread_mutex_lock(&l->lock);
    lru_push_head(l, it);
    l->curr_items++;
    l->total_items++;
    l->bytes += item_ntotal(it);
    pthread_mutex_unlock(&l->lock);
    atomic_fetch_add(&class_items[it->slabs_clsid], 1);
    atomic_fetch_add(&class_bytes[it->slabs_clsid], item_ntotal(it));
}

/* The segment a newly linked item enters. */
static enum lru_segment entry_segment(const item *it)
{
    if (!settings.lru_segmented)
        return SEG_COLD;
    if (settings.temp_lru && it->exptime != 0 &&
        it->exptime - current_time <= settings.temporary_ttl)
        return SEG_TEMP;
    return SEG_HOT;
}

void item_link_locked(item *it, uint32_t hv)
{
    assert(item_lock_held(hv));
    assert(hash_key(item_key(it), it->nkey) == hv && "linking under another key's hash");
    assert(!(it->it_flags & (ITEM_LINKED | ITEM_SLABBED | ITEM_CHUNK | ITEM_CRAWLER)) &&
           "linking a linked item, a free chunk or not an item");
    assert(it->refcount >= 1 && "linking an item nobody holds");
    enum lru_segment seg = entry_segment(it);
    item_set_lru_segment(it, (uint8_t)seg);
    struct lru *l = &lrus[it->slabs_clsid][seg];    /* LRU_OF(it), not read back */
    /* Release: the page mover, seeing ITEM_LINKED without the stripe
     * (acquire), may then read the key to find the stripe. */
    __atomic_store_n(&it->it_flags, (uint16_t)(it->it_flags | ITEM_LINKED), __ATOMIC_RELEASE);
    item_set_time(it, current_time);
    if (item_get_cas(it) == 0)
        item_set_cas(it, item_next_cas());
    item_ref(it);
    assoc_insert(it, hv);
    lru_insert_counted(l, it);
    if (probe_item_link_enabled())
        probe_item_link(item_key(it), it->nkey, value_len(it));
}

void item_replace_locked(item *old_it, item *new_it, uint32_t hv)
{
    if (probe_item_replace_enabled())
        probe_item_replace(item_key(old_it), old_it->nkey, value_len(old_it),
                           item_key(new_it), new_it->nkey, value_len(new_it));
    item_unlink_locked(old_it, hv);
    item_link_locked(new_it, hv);
}

/* Moves a linked item to the head of segment to (moves_to_warm etc. are
 * counted by the caller). Caller holds the item lock and no LRU lock. */
static void move_to_segment(item *it, enum lru_segment to)
{
    assert((item_flags(it) & ITEM_LINKED) && "moving an unlinked item between LRUs");
    assert(item_lock_held(hash_key(item_key(it), it->nkey)));
    struct lru *from = LRU_OF(it);
    pthread_mutex_lock(&from->lock);
    lru_remove(from, it);
    lru_uncount(from, it);
    pthread_mutex_unlock(&from->lock);
    item_set_lru_segment(it, (uint8_t)to);
    struct lru *dest = LRU_OF(it);
    pthread_mutex_lock(&dest->lock);
    lru_push_head(dest, it);
    dest->curr_items++;
    dest->bytes += item_ntotal(it);
    pthread_mutex_unlock(&dest->lock);
}

/* A COLD item fetched again, now ITEM_ACTIVE, moves to WARM: its access
 * time is stamped and the flag cleared. Caller holds its item lock. */
static void move_active_to_warm(item *it)
{
    probe_item_update(item_key(it), it->nkey, value_len(it));
    item_set_time(it, current_time);
    item_flags_clear(it, ITEM_ACTIVE);
    move_to_segment(it, SEG_WARM);
    struct lru *warm = LRU_OF(it);
    pthread_mutex_lock(&warm->lock);
    warm->moves_to_warm++;
    pthread_mutex_unlock(&warm->lock);
}

/* Queues a COLD item for the maintainer (see bump_queues), taking a
 * reference for the queue. Caller holds its item lock and a reference.
 * False when the queue is full (counted as dropped). */
static bool bump_queue_push(struct bump_queue *q, item *it, uint32_t hv)
{
    bool queued = false;
    pthread_mutex_lock(&q->lock);
    if (q->count < BUMP_QUEUE_SIZE) {
        item_ref(it);
        q->ring[(q->head + q->count) % BUMP_QUEUE_SIZE] = (struct bump_entry){ it, hv };
        q->count++;
        queued = true;
    } else {
        q->dropped++;
    }
    pthread_mutex_unlock(&q->lock);
    return queued;
}

/* Bumps dropped by every queue so far. */
static uint64_t bumps_dropped(void)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < nbump_queues; i++) {
        pthread_mutex_lock(&bump_queues[i].lock);
        n += bump_queues[i].dropped;
        pthread_mutex_unlock(&bump_queues[i].lock);
    }
    return n;
}

/* Records a hit on a linked item whose key hashes to hv. Caller holds its
 * item lock. Segmented: the second fetch marks it active; one in COLD is
 * queued for the maintainer to move to WARM (moved here by a thread with
 * no queue, or while no maintainer runs), one elsewhere only has its time
 * stamped. Otherwise: bumps it to the head of its LRU, at most once a
 * minute. */
static void item_bump(item *it, uint32_t hv)
{
    if (settings.lru_segmented) {
        /* As memcached: the first fetch only marks the item fetched (the
         * caller does that); the second makes it active; later ones write
         * nothing, so a hot key read by every worker does not bounce its
         * cache line. */
        if ((it->it_flags & (ITEM_FETCHED | ITEM_ACTIVE)) != ITEM_FETCHED)
            return;
        item_flags_set(it, ITEM_ACTIVE);
        if (it->lru_segment != SEG_COLD) {
            item_set_time(it, current_time);
        } else if (my_bump_queue == NULL ||
                   !atomic_load_explicit(&maintainer_running, memory_order_relaxed)) {
            move_active_to_warm(it);
        } else if (!bump_queue_push(my_bump_queue, it, hv)) {
            item_flags_clear(it, ITEM_ACTIVE);
        }
        return;
    }
    if (it->time >= current_time - ITEM_UPDATE_INTERVAL)
        return;
    struct lru *l = LRU_OF(it);
    probe_item_update(item_key(it), it->nkey, value_len(it));
    pthread_mutex_lock(&l->lock);
    if (it->it_flags & ITEM_LINKED) {
        lru_remove(l, it);
        item_set_time(it, current_time);
        lru_push_head(l, it);
    }
    pthread_mutex_unlock(&l->lock);
}

item *item_get_locked(const char *key, size_t nkey, uint32_t hv,
                      bool do_update, enum lookup_outcome *outcome)
{
    assert(item_lock_held(hv));
    item *it = assoc_find(key, nkey, hv);
    if (it == NULL) {
        *outcome = LOOKUP_MISS;
        return NULL;
    }
    bool flushed;
    if (item_is_dead(it, &flushed)) {
        /* (expired_unfetched counts only what the LRU and crawler reclaim.) */
        if (probe_item_expire_enabled())
            probe_item_expire(item_key(it), it->nkey, value_len(it), it->slabs_clsid,
                              flushed ? "flushed" : "expired");
        item_unlink_locked(it, hv);
        *outcome = flushed ? LOOKUP_FLUSHED : LOOKUP_EXPIRED;
        return NULL;
    }
    item_ref(it);
    if (do_update) {
        item_bump(it, hv);
        if (!(it->it_flags & ITEM_FETCHED))
            item_flags_set(it, ITEM_FETCHED);
    }
    *outcome = LOOKUP_HIT;
    return it;
}

void item_mark_fetched_locked(item *it, uint32_t hv)
{
    assert(item_lock_held(hv));
    assert(hash_key(item_key(it), it->nkey) == hv && "marking under another key's hash");
    item_bump(it, hv);
    if (!(it->it_flags & ITEM_FETCHED))
        item_flags_set(it, ITEM_FETCHED);
}

/* ---- eviction ---- */

/* Frees one item from the tail of one LRU of class id: an expired or
 * flushed one if found, else (when evict) the least recently used idle one.
 * Returns true when an item was freed. Takes the LRU lock, and item locks
 * by trylock. */
static bool reclaim_from(unsigned id, struct lru *l, bool evict)
{
    bool freed = false;
    pthread_mutex_lock(&l->lock);
    item *it = l->tail;
    for (int depth = 0; it != NULL && depth < EVICT_SEARCH_DEPTH; depth++, it = it->prev) {
        if (item_flags(it) & ITEM_CRAWLER)
            continue;
        uint32_t hv = hash_key(item_key(it), it->nkey);
        if (!item_trylock(hv))
            continue;
        /* Only the link may hold a reference, or the item is in use. */
        if (__atomic_load_n(&it->refcount, __ATOMIC_ACQUIRE) != 1) {
            item_unlock(hv);
            continue;
        }
        bool flushed;
        if (item_is_dead(it, &flushed)) {
            l->reclaimed++;
            if (!flushed && !(it->it_flags & ITEM_FETCHED))
                l->expired_unfetched++;
            if (probe_item_expire_enabled())
                probe_item_expire(item_key(it), it->nkey, value_len(it), (int)id,
                                  flushed ? "flushed" : "expired");
        } else if (evict) {
            l->evictions++;
            l->evicted_time = current_time - it->time;
            if (item_exptime(it) != 0)
                l->evicted_nonzero++;
            if (!(it->it_flags & ITEM_FETCHED))
                l->evicted_unfetched++;
            if (it->it_flags & ITEM_ACTIVE)
                l->evicted_active++;
            if (logger_wants(LOG_EVICTIONS)) logger_log_eviction(it);
            if (probe_item_evict_enabled())
                probe_item_evict(item_key(it), it->nkey, value_len(it), (int)id,
                                 (int64_t)(current_time - it->time),
                                 (it->it_flags & ITEM_FETCHED) ? 1 : 0);
        } else {
            item_unlock(hv);
            break;
        }
        unlink_with_lru_held(it, hv, l);
        item_unlock(hv);
        freed = true;
        break;
    }
    pthread_mutex_unlock(&l->lock);
    return freed;
}

static int juggle_segment(unsigned id, enum lru_segment seg, uint64_t limit_bytes,
                          rel_time_t max_age, int max);

/* Reclaims the expired and flushed items at the tail of every LRU of
 * class id, at most max in all. Returns how many were freed. */
static int reclaim_dead_tails(unsigned id, int max)
{
    int freed = 0;
    for (unsigned seg = 0; seg < SEGMENTS; seg++)
        while (freed < max && reclaim_from(id, &lrus[id][seg], false))
            freed++;
    return freed;
}

/* One step of making room in class id after an allocation failed, as
 * memcached does: evict COLD's tail; if COLD has nothing to give, push
 * HOT's tail (else WARM's) down to COLD for the next try. With -M only
 * dead items are taken (pushing live ones down frees nothing). Returns
 * false when nothing changed. */
static bool make_room(unsigned id)
{
    if (reclaim_from(id, &lrus[id][SEG_COLD], settings.evict_to_free))
        return true;
    if (!settings.lru_segmented)    /* lru mode flat: items left in HOT/WARM/TEMP go too */
        return reclaim_from(id, &lrus[id][SEG_HOT], settings.evict_to_free) ||
               reclaim_from(id, &lrus[id][SEG_WARM], settings.evict_to_free) ||
               reclaim_from(id, &lrus[id][SEG_TEMP], false);
    if (!settings.evict_to_free)
        return reclaim_dead_tails(id, 1) > 0;
    if (reclaim_from(id, &lrus[id][SEG_HOT], false) ||
        juggle_segment(id, SEG_HOT, 0, 0, 1) > 0)
        return true;
    return reclaim_from(id, &lrus[id][SEG_WARM], false) ||
           juggle_segment(id, SEG_WARM, 0, 0, 1) > 0 ||
           reclaim_from(id, &lrus[id][SEG_TEMP], false);
}

/* A chunk of class id for size bytes. Without the segmented LRU an
 * expired item at COLD's tail is reused before new memory is taken; when
 * memory is full, room is made (make_room) and the allocation retried, at
 * most ALLOC_TRIES times. NULL when nothing could be freed; counted as
 * the class's outofmemory when count_oom. */
static void *alloc_evicting_counted(size_t size, unsigned id, bool count_oom)
{
    void *chunk = NULL;
    int tries;
    for (tries = 0; tries < ALLOC_TRIES; tries++) {
        if (!settings.lru_segmented)
            reclaim_from(id, &lrus[id][SEG_COLD], false);
        chunk = slabs_alloc(size, id);
        if (chunk != NULL)
            break;
        if (!make_room(id)) {
            /* Nothing to free. With the segmented LRU memcached tries on
             * to ALLOC_TRIES all the same (under -M, say), and counts
             * every try as a direct reclaim: so do we, without the tries
             * (slabs__allocate__failed fires once per failed request). */
            if (settings.lru_segmented)
                tries = ALLOC_TRIES;
            break;
        }
    }
    if (tries > 0) {
        struct lru *l = &lrus[id][SEG_COLD];
        pthread_mutex_lock(&l->lock);
        l->direct_reclaims += (uint64_t)tries;
        pthread_mutex_unlock(&l->lock);
    }
    if (chunk == NULL && count_oom)
        items_count_outofmemory(id);
    return chunk;
}
static void *alloc_evicting(size_t size, unsigned id)
{
    return alloc_evicting_counted(size, id, true);
}

/* Where the value bytes of a chunked item being built go next. */
struct chunk_fill {
    item *it;                   /* the item whose chain is built */
    struct item_chunk **link;   /* where the next chunk is hung */
    struct item_chunk *cur;     /* the chunk being filled (NULL: none yet) */
    uint32_t room;              /* bytes cur can still take */
};

/* Hangs a fresh, empty chunk on f's chain for a value with left bytes
 * still to place: a chunk of the largest class while more than that is
 * left, else one of the class that fits left bytes and the chunk header
 * (left 0: a bare header, the empty chunk of a joined value). When that
 * class has no chunk to give (its LRU holds no items to evict: a chained
 * value's last chunk lives there), a chunk of the largest class is taken
 * instead, with all of its room, as memcached does. False when memory ran
 * out (the chunks hung so far stay on the item, so item_free gives them
 * back). */
static bool hang_chunk(struct chunk_fill *f, uint32_t left)
{
    unsigned largest = slabs_class_count();
    size_t chunk_max = slabs_chunk_size(largest);
    size_t take = sizeof(struct item_chunk) + left;
    if (take > chunk_max)
        take = chunk_max;
    unsigned id = slabs_clsid(take);
    /* What slabs is asked for is what chunk_alloc_size() gives back. */
    struct item_chunk *ch = alloc_evicting_counted(id == largest ? chunk_max : take, id, false);
    if (ch == NULL && take < chunk_max) {
        id = largest;
        take = chunk_max;
        ch = alloc_evicting_counted(take, id, false);
    }
    if (ch == NULL)     /* not an outofmemory: memcached counts none for chunks */
        return false;
    ch->next = NULL;
    ch->head = f->it;
    ch->size = 0;
    ch->slabs_clsid = (uint8_t)id;
    __atomic_store_n(&ch->it_flags, (uint16_t)ITEM_CHUNK, __ATOMIC_RELAXED);
    *f->link = ch;
    f->link = &ch->next;
    f->cur = ch;
    f->room = (uint32_t)(take - sizeof(struct item_chunk));
    return true;
}

/* Allocates the chunks that hold a chunked item's value, to be filled by
 * the caller: full chunks, then one sized to the rest. */
static bool alloc_value_chunks(item *it)
{
    struct chunk_fill f = { it, first_chunk_slot(it), NULL, 0 };
    for (uint32_t left = it->nbytes; left > 0;) {
        if (!hang_chunk(&f, left))
            return false;
        f.cur->size = f.room < left ? f.room : left;
        left -= f.cur->size;
    }
    return true;
}

/* Copies the first len value bytes of src to the end of the chunked value
 * being built in f, chunk by chunk as memcached copies each part of a
 * joined value: a chunk is taken only when the last one is full, sized to
 * what is left of this part, and taken as soon as it is full, so a part
 * that ends a chunk exactly leaves an empty chunk after it (the next part
 * starts in a chunk of its own). */
static bool fill_part(struct chunk_fill *f, item *src, uint32_t len)
{
    for (uint32_t done = 0; done < len;) {
        if (f->room == 0 && !hang_chunk(f, len - done))
            return false;
        uint32_t run;
        const char *p = item_value_span(src, done, &run);
        if (run > len - done)
            run = len - done;
        if (run > f->room)
            run = f->room;
        memcpy(f->cur->data + f->cur->size, p, run);
        f->cur->size += run;
        f->room -= run;
        done += run;
        if (f->room == 0 && !hang_chunk(f, len - done))
            return false;
    }
    return true;
}

/* Allocates an item and fills in its header; a chunked one gets its own
 * (header) chunk only, with no value chunks yet. */
static item *alloc_head(const char *key, size_t nkey, uint32_t client_flags,
                        rel_time_t exptime, uint32_t nbytes, enum alloc_failure *why)
{
    size_t ntotal = item_total_size(nkey, nbytes, settings.use_cas, client_flags != 0);
    unsigned id = slabs_clsid(ntotal);
    if (id == 0 || nkey > KEY_MAX_LENGTH) {
        *why = ALLOC_TOO_LARGE;
        return NULL;
    }
    bool chunked = ntotal > slabs_chunk_size(id);
    size_t head_size = chunked ? item_chunked_head_size(nkey, settings.use_cas, client_flags != 0)
                               : ntotal;
    unsigned head_id = chunked ? slabs_clsid(head_size) : id;
    item *it = alloc_evicting(head_size, head_id);
    if (it == NULL) {
        *why = chunked ? ALLOC_NO_MEMORY_CHUNKED : ALLOC_NO_MEMORY;
        return NULL;
    }
    it->next = it->prev = it->h_next = NULL;
    it->slabs_clsid = (uint8_t)id;
    it->head_clsid = (uint8_t)head_id;
    it->refcount = 1;
    item_flags_store(it, settings.use_cas ? ITEM_CAS : 0);
    it->nkey = (uint8_t)nkey;
    item_set_lru_segment(it, SEG_COLD);
    it->nbytes = nbytes;
    item_set_exptime(it, exptime);
    it->client_flags = client_flags;
    item_set_time(it, current_time);
    item_set_cas(it, 0);
    memcpy(item_key(it), key, nkey);
    item_key(it)[nkey] = '\0';
    if (chunked) {
        item_flags_set(it, ITEM_CHUNKED);
        *first_chunk_slot(it) = NULL;
    }
    return it;
}

item *item_alloc(const char *key, size_t nkey, uint32_t client_flags,
                 rel_time_t exptime, uint32_t nbytes, enum alloc_failure *why)
{
    item *it = alloc_head(key, nkey, client_flags, exptime, nbytes, why);
    if (it != NULL && (item_flags(it) & ITEM_CHUNKED) && !alloc_value_chunks(it)) {
        item_free(it);
        *why = ALLOC_NO_MEMORY_CHUNKED;
        return NULL;
    }
    return it;
}

item *item_alloc_joined(item *old, item *first, item *second, enum alloc_failure *why)
{
    uint32_t first_len = first->nbytes - 2;
    item *it = alloc_head(item_key(old), old->nkey, old->client_flags, item_exptime(old),
                          first_len + second->nbytes, why);
    if (it == NULL)
        return NULL;
    if (!(item_flags(it) & ITEM_CHUNKED)) {
        item_value_copy(it, 0, first, first_len);
        item_value_copy(it, first_len, second, second->nbytes);
        return it;
    }
    struct chunk_fill f = { it, first_chunk_slot(it), NULL, 0 };
    if (!fill_part(&f, first, first_len) || !fill_part(&f, second, second->nbytes)) {
        item_free(it);
        *why = ALLOC_NO_MEMORY_CHUNKED;
        return NULL;
    }
    return it;
}

void items_totals(struct items_totals *out)
{
    memset(out, 0, sizeof(*out));
    for (unsigned i = 1; i <= slabs_class_count(); i++) {
        for (unsigned seg = 0; seg < SEGMENTS; seg++) {
            struct lru *l = &lrus[i][seg];
            pthread_mutex_lock(&l->lock);
            out->total_items += l->total_items;
            out->evictions += l->evictions;
            out->reclaimed += l->reclaimed;
            out->expired_unfetched += l->expired_unfetched;
            out->evicted_unfetched += l->evicted_unfetched;
            out->evicted_active += l->evicted_active;
            out->crawler_reclaimed += l->crawler_reclaimed;
            out->crawler_items_checked += l->crawler_items_checked;
            out->moves_to_cold += l->moves_to_cold;
            out->moves_to_warm += l->moves_to_warm;
            out->moves_within_lru += l->moves_within_lru;
            out->direct_reclaims += l->direct_reclaims;
            pthread_mutex_unlock(&l->lock);
        }
        /* After the counters: an unlink is counted (reclaimed, evicted)
         * under its LRU's lock before it leaves class_items, so a reply
         * that counts it also has it gone from curr_items. */
        out->curr_items += atomic_load(&class_items[i]);
        out->bytes += atomic_load(&class_bytes[i]);
    }
    out->lru_maintainer_juggles = atomic_load(&maintainer_juggles);
    out->lru_bumps_dropped = bumps_dropped();
}

void items_stats_reset(void)
{
    for (unsigned id = 1; id <= slabs_class_count(); id++) {
        for (unsigned seg = 0; seg < SEGMENTS; seg++) {
            struct lru *l = &lrus[id][seg];
            pthread_mutex_lock(&l->lock);
            l->total_items = 0;
            l->evictions = l->reclaimed = l->expired_unfetched = l->evicted_unfetched = 0;
            l->evicted_active = l->evicted_nonzero = l->outofmemory = 0;
            l->crawler_reclaimed = l->crawler_items_checked = 0;
            l->moves_to_cold = l->moves_to_warm = l->moves_within_lru = 0;
            l->direct_reclaims = 0;
            l->evicted_time = 0;
            pthread_mutex_unlock(&l->lock);
        }
    }
    atomic_store(&maintainer_juggles, 0);
}

void items_count_outofmemory(unsigned id)
{
    struct lru *l = &lrus[id][SEG_COLD];
    pthread_mutex_lock(&l->lock);
    l->outofmemory++;
    pthread_mutex_unlock(&l->lock);
}

/* Seconds since the last access of l's oldest item. Caller holds l->lock. */
static rel_time_t tail_age(const struct lru *l)
{
    const item *tail = l->tail;
    while (tail && (item_flags(tail) & ITEM_CRAWLER))
        tail = tail->prev;
    return tail ? current_time - item_time(tail) : 0;
}

void items_class_stats(unsigned id, struct items_class_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->number = atomic_load(&class_items[id]);
    out->mem_requested = atomic_load(&class_bytes[id]);
    for (unsigned seg = 0; seg < SEGMENTS; seg++) {
        struct lru *l = &lrus[id][seg];
        pthread_mutex_lock(&l->lock);

        out->evicted += l->evictions;
        out->evicted_nonzero += l->evicted_nonzero;
        out->reclaimed += l->reclaimed;
        out->expired_unfetched += l->expired_unfetched;
        out->evicted_unfetched += l->evicted_unfetched;
        out->crawler_reclaimed += l->crawler_reclaimed;
        out->crawler_items_checked += l->crawler_items_checked;
        out->outofmemory += l->outofmemory;

        out->moves_to_cold += l->moves_to_cold;
        out->moves_to_warm += l->moves_to_warm;
        out->moves_within_lru += l->moves_within_lru;
        out->direct_reclaims += l->direct_reclaims;
        if (l->evicted_time)
            out->evicted_time = l->evicted_time;
        switch (seg) {
        case SEG_HOT:
            out->number_hot = l->curr_items; out->age_hot = tail_age(l);
            break;
        case SEG_WARM:
            out->number_warm = l->curr_items; out->age_warm = tail_age(l);
            break;
        case SEG_COLD:
            out->number_cold = l->curr_items; out->age = tail_age(l);
            break;
        default:
            out->number_temp = l->curr_items;
            break;
        }
        pthread_mutex_unlock(&l->lock);
    }
}

/* Sums one uint64_t counter of struct lru (at byte offset field) over the
 * segments of class id. */
static uint64_t sum_segments(unsigned id, size_t field)
{
    uint64_t n = 0;
    for (unsigned seg = 0; seg < SEGMENTS; seg++) {
        struct lru *l = &lrus[id][seg];
        pthread_mutex_lock(&l->lock);
        n += *(const uint64_t *)(const void *)((const char *)l + field);
        pthread_mutex_unlock(&l->lock);
    }
    return n;
}

uint64_t items_class_count(unsigned id) { return atomic_load(&class_items[id]); }
uint64_t items_class_evictions(unsigned id) { return sum_segments(id, offsetof(struct lru, evictions)); }

/* ---- the LRU crawler's walk ---- */

_Static_assert(SEGMENTS == ITEMS_LRU_SEGMENTS, "items.h numbers the LRUs of a class");

/* Files a live item the crawler looked at into out's counts: memcached's
 * crawler counts an item that expires this very second as live too. */
static void count_live(const item *it, struct items_crawl_counts *out)
{
    out->live++;
    rel_time_t exp = item_exptime(it);
    if (exp == 0) {
        out->live_no_ttl++;
        return;
    }
    rel_time_t left = exp > current_time ? exp - current_time : 0;
    if (left < 60 * ITEMS_CRAWL_MINUTES)
        out->live_by_minute[left / 60]++;
}

void items_crawl_lru(unsigned id, unsigned seg, uint32_t limit, struct items_crawl_counts *out)
{
    memset(out, 0, sizeof(*out));
    struct lru *l = &lrus[id][seg];
    /* A place marker that moves from the tail toward the head, one item
     * per step, so the walk survives the lock being dropped between steps. */
    item *marker = calloc(1, sizeof(item));
    if (marker == NULL)
        return;
    marker->it_flags = ITEM_CRAWLER;

    pthread_mutex_lock(&l->lock);
    marker->prev = l->tail;
    marker->next = NULL;
    if (l->tail)
        l->tail->next = marker;
    else
        l->head = marker;
    l->tail = marker;
    pthread_mutex_unlock(&l->lock);

    for (;;) {
        pthread_mutex_lock(&l->lock);
        item *it = marker->prev;
        if (it == NULL || (limit != 0 && out->checked >= limit)) {
            lru_remove(l, marker);
            pthread_mutex_unlock(&l->lock);
            break;
        }
        /* Step the marker over it: ... it->prev, marker, it ... */
        lru_remove(l, marker);
        marker->prev = it->prev;
        marker->next = it;
        if (it->prev)
            it->prev->next = marker;
        else
            l->head = marker;
        it->prev = marker;

        if (!(item_flags(it) & ITEM_CRAWLER)) {
            out->checked++;
            l->crawler_items_checked++;
            uint32_t hv = hash_key(item_key(it), it->nkey);
            if (item_trylock(hv)) {
                bool flushed;
                if (__atomic_load_n(&it->refcount, __ATOMIC_ACQUIRE) != 1) {
                    /* in use: left for the next crawl */
                } else if (item_is_dead(it, &flushed) &&        /* (see count_live) */
                           (flushed || item_exptime(it) != current_time)) {
                    out->reclaimed++;
                    l->crawler_reclaimed++;
                    if (!flushed && !(it->it_flags & ITEM_FETCHED))
                        l->expired_unfetched++;
                    if (probe_item_expire_enabled())
                        probe_item_expire(item_key(it), it->nkey, value_len(it), (int)id,
                                          flushed ? "flushed" : "expired");
                    unlink_with_lru_held(it, hv, l);
                } else {
                    count_live(it, out);
                }
                item_unlock(hv);
            }
        }
        pthread_mutex_unlock(&l->lock);
    }
    free(marker);
}

uint64_t items_lru_count(unsigned id, unsigned seg)
{
    struct lru *l = &lrus[id][seg];
    pthread_mutex_lock(&l->lock);
    uint64_t n = l->curr_items;
    pthread_mutex_unlock(&l->lock);
    return n;
}

void items_foreach(unsigned id, void (*fn)(item *it, void *arg), void *arg)
{
    for (unsigned seg = 0; seg < SEGMENTS; seg++) {
        struct lru *l = &lrus[id][seg];
        pthread_mutex_lock(&l->lock);
        for (item *it = l->tail; it != NULL; it = it->prev) {
            bool flushed;
            if (!(item_flags(it) & ITEM_CRAWLER) && !item_is_dead(it, &flushed))
                fn(it, arg);
        }
        pthread_mutex_unlock(&l->lock);
    }
}

void items_foreach_cold(unsigned id, bool (*fn)(item *it, void *arg), void *arg)
{
    struct lru *l = &lrus[id][SEG_COLD];
    pthread_mutex_lock(&l->lock);
    for (item *it = l->head; it != NULL; it = it->next)
        if (!(item_flags(it) & ITEM_CRAWLER) && !fn(it, arg))
            break;
    pthread_mutex_unlock(&l->lock);
}

/* Evicts a linked, idle item whose chunk the page mover needs. Caller
 * holds item_lock(hv). */
static void evict_for_move_locked(item *it, uint32_t hv)
{
    struct lru *l = LRU_OF(it);
    pthread_mutex_lock(&l->lock);
    l->evictions++;
    l->evicted_time = current_time - it->time;
    if (!(it->it_flags & ITEM_FETCHED))
        l->evicted_unfetched++;
    if (probe_item_evict_enabled())
        probe_item_evict(item_key(it), it->nkey, value_len(it), it->slabs_clsid,
                         (int64_t)(current_time - it->time),
                         (it->it_flags & ITEM_FETCHED) ? 1 : 0);
    unlink_with_lru_held(it, hv, l);
    pthread_mutex_unlock(&l->lock);
}

/* Evicts the item owning chunk ch so the chunk is freed, for the page
 * mover. Returns as item_evict_for_move. */
static int evict_chunk_owner(struct item_chunk *ch)
{
    /* ch->head may be stale (its item freed and the chunk reused): it is
     * trusted only once the item lock of the key it names is held and the
     * item, still linked, is found to own ch. Slab memory stays mapped, so
     * reading a stale head is harmless. */
    item *head = __atomic_load_n(&ch->head, __ATOMIC_ACQUIRE);
    if (head == NULL)
        return 0;
    uint16_t flags = __atomic_load_n(&head->it_flags, __ATOMIC_ACQUIRE);
    if ((flags & (ITEM_LINKED | ITEM_CHUNKED)) != (ITEM_LINKED | ITEM_CHUNKED))
        return 0;   /* being filled, or being freed: wait */
    uint32_t hv = hash_key(item_key(head), head->nkey);
    if (!item_trylock(hv))
        return 0;
    int result = 0;
    if ((head->it_flags & (ITEM_LINKED | ITEM_CHUNKED)) == (ITEM_LINKED | ITEM_CHUNKED) &&
        hash_key(item_key(head), head->nkey) == hv && ch->head == head) {
        bool owned = false;
        for (struct item_chunk *c = *first_chunk_slot(head); c != NULL; c = c->next)
            if (c == ch) {
                owned = true;
                break;
            }
        if (owned && __atomic_load_n(&head->refcount, __ATOMIC_ACQUIRE) == 1) {
            /* Idle: no reader is in the value, so the chunk can move to a
             * free chunk of its class elsewhere, if there is one. */
            size_t size = chunk_alloc_size(ch);
            struct item_chunk *copy = slabs_alloc_existing(size, ch->slabs_clsid);
            if (copy != NULL) {
                memcpy(copy, ch, size);
                struct item_chunk **link = first_chunk_slot(head);
                while (*link != ch)
                    link = &(*link)->next;
                __atomic_store_n(link, copy, __ATOMIC_RELEASE);
                slabs_free(ch, size, ch->slabs_clsid);
                result = 3;
            } else {
                evict_for_move_locked(head, hv);
                result = 1;
            }
        }
    }
    item_unlock(hv);
    return result;
}

int item_evict_for_move(item *it)
{
    /* Seen without the stripe (checked again under it); acquire pairs
     * with item_link_locked, so the key read next is the linked one's. */
    uint16_t flags = __atomic_load_n(&it->it_flags, __ATOMIC_ACQUIRE);
    if (flags & ITEM_CHUNK)
        return evict_chunk_owner((struct item_chunk *)(void *)it);
    if (!(flags & ITEM_LINKED) || (flags & (ITEM_SLABBED | ITEM_CRAWLER)))
        return -1;
    uint32_t hv = hash_key(item_key(it), it->nkey);
    if (!item_trylock(hv))
        return 0;
    int result;
    if (!(it->it_flags & ITEM_LINKED)) {
        result = -1;
    } else if (__atomic_load_n(&it->refcount, __ATOMIC_ACQUIRE) != 1) {
        result = 0;
    } else {
        struct lru *l = LRU_OF(it);
        bool chunked = (it->it_flags & ITEM_CHUNKED) != 0;
        size_t ntotal = chunked ? head_alloc_size(it) : item_ntotal(it);
        /* The page being emptied hands out no chunks, so a free chunk of
         * the class, if any, is elsewhere: move the item there. */
        item *copy = slabs_alloc_existing(ntotal, chunked ? it->head_clsid : it->slabs_clsid);
        if (copy != NULL) {
            memcpy(copy, it, ntotal);
            copy->refcount = 1;
            copy->h_next = NULL;
            if (copy->it_flags & ITEM_CHUNKED) {
                /* The value's chunks now belong to the copy. */
                for (struct item_chunk *c = *first_chunk_slot(copy); c != NULL; c = c->next)
                    __atomic_store_n(&c->head, copy, __ATOMIC_RELEASE);
                *first_chunk_slot(it) = NULL;
            }
            assoc_delete(item_key(it), it->nkey, hv);
            assoc_insert(copy, hv);
            pthread_mutex_lock(&l->lock);
            copy->prev = it->prev;
            copy->next = it->next;
            if (it->prev)
                it->prev->next = copy;
            else
                l->head = copy;
            if (it->next)
                it->next->prev = copy;
            else
                l->tail = copy;
            it->next = it->prev = NULL;
            pthread_mutex_unlock(&l->lock);
            item_flags_clear(it, ITEM_LINKED);
            item_release(it);
            result = 2;
        } else {
            evict_for_move_locked(it, hv);
            result = 1;
        }
    }
    item_unlock(hv);
    return result;
}

/* ---- the LRU maintainer ---- */

/* Moves up to max items off the tail of segment seg of class id while the
 * segment is over limit_bytes or its tail is older than max_age. Returns
 * how many moved. */
static int juggle_segment(unsigned id, enum lru_segment seg, uint64_t limit_bytes,
                          rel_time_t max_age, int max)
{
    struct lru *l = &lrus[id][seg];
    int moved = 0;
    while (moved < max) {
        pthread_mutex_lock(&l->lock);
        item *it = l->tail;
        while (it && (item_flags(it) & ITEM_CRAWLER))
            it = it->prev;
        if (it == NULL || (l->bytes <= limit_bytes && current_time - item_time(it) <= max_age)) {
            pthread_mutex_unlock(&l->lock);
            break;
        }
        /* The first of the tail items whose lock is free moves. */
        uint32_t hv = 0;
        bool locked = false;
        for (int depth = 0; it != NULL && depth < EVICT_SEARCH_DEPTH; depth++, it = it->prev) {
            if (item_flags(it) & ITEM_CRAWLER)
                continue;
            hv = hash_key(item_key(it), it->nkey);
            if ((locked = item_trylock(hv)))
                break;
        }
        if (!locked) {
            pthread_mutex_unlock(&l->lock);
            break;
        }
        pthread_mutex_unlock(&l->lock);
        /* Holding the item lock keeps it linked and where it is. */
        enum lru_segment to = SEG_COLD;
        if (it->it_flags & ITEM_ACTIVE) {
            item_flags_clear(it, ITEM_ACTIVE);
            to = SEG_WARM;
        }
        move_to_segment(it, to);
        struct lru *dest = LRU_OF(it);
        pthread_mutex_lock(&dest->lock);
        if (to == SEG_COLD)
            dest->moves_to_cold++;
        else if (seg == SEG_WARM)
            dest->moves_within_lru++;
        else
            dest->moves_to_warm++;
        pthread_mutex_unlock(&dest->lock);
        item_unlock(hv);
        moved++;
    }
    return moved;
}

/* cold_age times factor, or no limit (UINT32_MAX) when COLD is empty or
 * the product does not fit (lru tune accepts inf and nan, as memcached). */
static rel_time_t age_limit(rel_time_t cold_age, double factor)
{
    double age = (double)cold_age * factor;
    return cold_age && age < (double)UINT32_MAX ? (rel_time_t)age : UINT32_MAX;
}

/* One look at class id: reclaims dead tail items and moves HOT and WARM
 * tails down. Returns how many items it reclaimed or moved. */
static int maintain_class(unsigned id)
{
    uint64_t total = 0;
    rel_time_t cold_age = 0;
    for (unsigned seg = 0; seg < SEGMENTS; seg++) {
        pthread_mutex_lock(&lrus[id][seg].lock);
        total += lrus[id][seg].bytes;
        if (seg == SEG_COLD)
            cold_age = tail_age(&lrus[id][seg]);
        pthread_mutex_unlock(&lrus[id][seg].lock);
    }
    if (total == 0)
        return 0;
    /* Expired and flushed items at the tails give their memory back
     * without waiting to be fetched or pushed out. */
    int moved = reclaim_dead_tails(id, 500);
    /* With COLD empty, nothing is old relative to it: limits only. After
     * "lru mode flat" (settings read once per pass), HOT and WARM drain. */
    bool flat = !settings.lru_segmented;
    rel_time_t hot_age = age_limit(cold_age, settings.hot_max_factor);
    rel_time_t warm_age = age_limit(cold_age, settings.warm_max_factor);
    moved += juggle_segment(id, SEG_HOT, flat ? 0 : total * (uint64_t)settings.hot_lru_pct / 100,
                            flat ? 0 : hot_age, 500);
    moved += juggle_segment(id, SEG_WARM, flat ? 0 : total * (uint64_t)settings.warm_lru_pct / 100,
                            flat ? 0 : warm_age, 500);
    return moved;
}

#define MAINTAINER_MIN_SLEEP_US 1000
#define MAINTAINER_MAX_SLEEP_US 1000000

/* Applies one queued bump and drops the queue's reference. The item may
 * have been unlinked, flushed or expired since it was queued: then it is
 * left alone (a dead item's time is not refreshed, which would bring it
 * back). Still linked, it is in COLD and active (nothing else moves a
 * COLD item that is referenced): it moves to WARM, unless "lru mode flat"
 * came in between, when only its time is stamped. */
static void apply_bump(item *it, uint32_t hv)
{
    item_lock(hv);
    bool flushed;
    if ((it->it_flags & ITEM_LINKED) && !item_is_dead(it, &flushed)) {
        if (settings.lru_segmented && it->lru_segment == SEG_COLD &&
            (it->it_flags & ITEM_ACTIVE)) {
            move_active_to_warm(it);
        } else {
            item_flags_clear(it, ITEM_ACTIVE);
            item_set_time(it, current_time);
        }
    }
    item_release(it);   /* frees it if it was unlinked since and is held by no one else */
    item_unlock(hv);
}

/* Applies every bump the workers have queued. Returns how many. */
static unsigned drain_bump_queues(void)
{
    unsigned total = 0;
    for (unsigned i = 0; i < nbump_queues; i++) {
        struct bump_queue *q = &bump_queues[i];
        pthread_mutex_lock(&q->lock);
        unsigned head = q->head, n = q->count;
        pthread_mutex_unlock(&q->lock);
        for (unsigned k = 0; k < n; k++) {
            const struct bump_entry *e = &q->ring[(head + k) % BUMP_QUEUE_SIZE];
            apply_bump(e->it, e->hv);
        }
        if (n == 0)
            continue;
        pthread_mutex_lock(&q->lock);
        q->head = (head + n) % BUMP_QUEUE_SIZE;
        q->count -= n;
        pthread_mutex_unlock(&q->lock);
        total += n;
    }
    return total;
}

static uint64_t monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Each class has its own pace, as in memcached: a class where the last
 * look found nothing to do is looked at 1/8 less often each time (up to
 * once a second); one that had work is looked at twice as often. Every
 * pass drains the bump queues; one that found bumps sleeps the minimum,
 * so a burst of them is applied at once. */
static void *maintainer_main(void *arg)
{
    (void)arg;
    static uint64_t backoff_us[SLAB_CLASS_MAX], next_us[SLAB_CLASS_MAX];
    for (;;) {
        uint64_t now = monotonic_us(), sleep_us = MAINTAINER_MAX_SLEEP_US;
        for (unsigned id = 1; id <= slabs_class_count(); id++) {
            if (next_us[id] > now) {
                if (next_us[id] - now < sleep_us)
                    sleep_us = next_us[id] - now;
                continue;
            }
            if (maintain_class(id) > 0) {
                backoff_us[id] /= 2;
                if (backoff_us[id] < MAINTAINER_MIN_SLEEP_US)
                    backoff_us[id] = 0;
            } else {
                backoff_us[id] = backoff_us[id] ? backoff_us[id] + backoff_us[id] / 8
                                                : MAINTAINER_MIN_SLEEP_US;
                if (backoff_us[id] > MAINTAINER_MAX_SLEEP_US)
                    backoff_us[id] = MAINTAINER_MAX_SLEEP_US;
            }
            next_us[id] = now + backoff_us[id];
            if (backoff_us[id] < sleep_us)
                sleep_us = backoff_us[id];
        }
        if (drain_bump_queues() > 0)
            sleep_us = MAINTAINER_MIN_SLEEP_US;
        atomic_fetch_add(&maintainer_juggles, 1);
        usleep((useconds_t)(sleep_us < MAINTAINER_MIN_SLEEP_US ? MAINTAINER_MIN_SLEEP_US : sleep_us));
    }
    return NULL;
}

void items_start_maintainer(void)
{
    if (!settings.lru_segmented || !settings.lru_maintainer_thread)
        return;
    pthread_t tid;
    if (pthread_create(&tid, NULL, maintainer_main, NULL) != 0) {
        perror("pthread_create (lru maintainer)");
        return;
    }
    pthread_detach(tid);
    atomic_store(&maintainer_running, true);
}

/* ---- warm restart ---- */

uint64_t items_cas_counter(void) { return atomic_load(&cas_counter); }
void items_set_cas_counter(uint64_t cas) { atomic_store(&cas_counter, cas); }

rel_time_t items_oldest_live(void) { return atomic_load(&oldest_live); }

void items_flush_state(rel_time_t *live, uint64_t *cas)
{
    *live = atomic_load(&oldest_live);
    *cas = atomic_load(&oldest_cas);
}

void items_set_flush_state(rel_time_t live, uint64_t cas)
{
    atomic_store(&oldest_cas, cas);
    atomic_store(&oldest_live, live);
}

/* Takes back the marks restore_chain put on the first kept chunks of
 * it's chain: a chain found not whole keeps none of them. */
static void unkeep_chain(item *it, unsigned kept)
{
    struct item_chunk *ch = *first_chunk_slot(it);
    for (unsigned i = 0; i < kept; i++, ch = ch->next)
        ch->it_flags &= ~ITEM_LINKED;
}

/* Moves a restored chunked item's chain by delta, checking every link
 * (see item_restore). False when the chain is not whole: its chunks must
 * hold nbytes in all (a joined value's chain may have empty chunks, one
 * at its end too). */
static bool restore_chain(item *it, intptr_t delta, bool (*chunk_ok)(const void *))
{
    if (it->nbytes == 0 || it->slabs_clsid != slabs_class_count() ||
        it->head_clsid != slabs_clsid(head_alloc_size(it)))
        return false;
    uint32_t left = it->nbytes;
    item *old_head = (item *)(void *)((char *)it - delta);
    struct item_chunk **link = first_chunk_slot(it);
    unsigned kept = 0;
    while (*link != NULL) {
        struct item_chunk *ch = (struct item_chunk *)(void *)((char *)*link + delta);
        /* A chunk already kept (a loop in the chain) fails the flag test. */
        if (!chunk_ok(ch) ||
            (ch->it_flags & (ITEM_CHUNK | ITEM_SLABBED | ITEM_LINKED)) != ITEM_CHUNK ||
            ch->head != old_head || ch->size > left ||
            sizeof(struct item_chunk) + ch->size > slabs_chunk_size(ch->slabs_clsid)) {
            unkeep_chain(it, kept);
            return false;
        }
        *link = ch;
        ch->head = it;
        ch->it_flags |= ITEM_LINKED;    /* kept, for item_chunk_restore */
        kept++;
        left -= ch->size;
        link = &ch->next;
    }
    if (left != 0) {
        unkeep_chain(it, kept);
        return false;
    }
    return true;
}

size_t item_chunk_restore(item *chunk)
{
    struct item_chunk *ch = (struct item_chunk *)(void *)chunk;
    if ((ch->it_flags & (ITEM_CHUNK | ITEM_LINKED)) != (ITEM_CHUNK | ITEM_LINKED))
        return 0;
    ch->it_flags = ITEM_CHUNK;
    return chunk_alloc_size(ch);
}

size_t item_restore(item *it, intptr_t delta, bool (*chunk_ok)(const void *))
{
    bool flushed;
    it->next = it->prev = it->h_next = NULL;
    it->refcount = 1;
    it->it_flags &= (ITEM_LINKED | ITEM_CAS | ITEM_FETCHED | ITEM_CHUNKED |
                     ITEM_KEY_BINARY | ITEM_STALE | ITEM_TOKEN_SENT);
    if (!(it->it_flags & ITEM_LINKED) || it->nkey == 0 || it->nkey > KEY_MAX_LENGTH ||
        item_is_dead(it, &flushed))
        return 0;
    size_t held = item_ntotal(it);
    if (it->it_flags & ITEM_CHUNKED) {
        if (!restore_chain(it, delta, chunk_ok))
            return 0;
        held = head_alloc_size(it);
    } else if (held > slabs_chunk_size(it->slabs_clsid)) {
        return 0;
    }
    it->lru_segment = SEG_COLD;
    uint32_t hv = hash_key(item_key(it), it->nkey);
    struct lru *l = LRU_OF(it);
    item_lock(hv);
    assoc_insert(it, hv);
    lru_insert_counted(l, it);
    item_unlock(hv);
    return held;
}

/* After an immediate flush_all: unlinks the items touched in this second
 * at once (they sit at the heads of the LRUs), as memcached does; older
 * ones are reclaimed lazily. Without CAS, nothing else tells this second's
 * items stored before the flush from those stored after it. */
static void flush_recent(void)
{
    /* The last two seconds: the clock may have ticked since the stores. */
    rel_time_t live = atomic_load(&oldest_live);
    rel_time_t since = live;
    bool by_time = atomic_load(&oldest_cas) == 0;
    for (unsigned id = 1; id <= slabs_class_count(); id++) {
        for (unsigned seg = 0; seg < SEGMENTS; seg++) {
            struct lru *l = &lrus[id][seg];
            pthread_mutex_lock(&l->lock);
            item *it = l->head;
            while (it != NULL) {
                item *next = it->next;
                if (item_flags(it) & ITEM_CRAWLER) {
                    it = next;
                    continue;
                }
                if (item_time(it) < since)
                    break;
                uint32_t hv = hash_key(item_key(it), it->nkey);
                bool flushed;
                if (item_trylock(hv)) {
                    bool dead = item_is_dead(it, &flushed);
                    if (!dead && by_time && item_time(it) > live)
                        dead = flushed = true;
                    if (dead && __atomic_load_n(&it->refcount, __ATOMIC_ACQUIRE) == 1) {
                        if (probe_item_expire_enabled())
                            probe_item_expire(item_key(it), it->nkey, value_len(it), (int)id,
                                              flushed ? "flushed" : "expired");
                        unlink_with_lru_held(it, hv, l);
                    }
                    item_unlock(hv);
                }
                it = next;
            }
            pthread_mutex_unlock(&l->lock);
        }
    }
}
