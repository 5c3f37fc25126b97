/* items.h: item layout and lifetime. An item is one key with its value,
 * living in a slab chunk; it is visible while linked (hash table + LRU) and
 * freed when unlinked and its last reference is dropped.
 *
 * Locking (item_locks.h has the whole contract): every access to a key's
 * hash chain, and any change to a linked item's fields, happens under
 * item_lock(hv) for the key's hash. LRU lists have a lock per slab class
 * and segment, taken inside the item lock (never the other way around
 * except by trylock). Reference counts are atomic.
 *
 * memcached-debug asserts these contracts where they are stated below:
 * the stripe held by every *_locked call; a reference count that never
 * goes below zero or wraps, and reaches zero only once unlinked; a linked
 * item on exactly one LRU (the one its class and lru_segment name), an
 * LRU unlink only of an item on that LRU; and (slabs.h) chunks freed
 * once, into the class that owns them. */
#ifndef MC_ITEMS_H
#define MC_ITEMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "item_locks.h"

#define KEY_MAX_LENGTH 250

/* it_flags bits. */
#define ITEM_LINKED  0x01   /* in the hash table and an LRU */
#define ITEM_CAS     0x02   /* carries an 8-byte CAS unique before the key */
#define ITEM_SLABBED 0x04   /* the chunk is free, on its class's free list */
#define ITEM_FETCHED 0x08   /* read at least once since stored */
#define ITEM_CRAWLER 0x10   /* not an item: the LRU crawler's place marker */
#define ITEM_ACTIVE  0x20   /* fetched again since it last moved between LRUs */
#define ITEM_KEY_BINARY 0x40 /* meta: stored under a base64 key (b): k and me answer in base64 */
#define ITEM_STALE   0x80   /* meta: invalidated (md I, or ms I with an older CAS): mg says X */
#define ITEM_TOKEN_SENT 0x100 /* meta: one client was told it won the recache (W); others see Z */
#define ITEM_CHUNKED 0x200  /* value continues in a chain of item_chunks (see below) */
#define ITEM_CHUNK   0x400  /* not an item: one link of a chunked item's value */

typedef struct item {
    struct item *next;      /* LRU: the next older item */
    struct item *prev;      /* LRU: the next newer item */
    struct item *h_next;    /* hash table bucket chain */
    rel_time_t time;        /* last access (item_time: see below) */
    rel_time_t exptime;     /* expiry; 0 never (item_exptime: see below) */
    uint32_t nbytes;        /* value length including the trailing "\r\n" */
    uint32_t client_flags;  /* opaque flags the client stored */
    uint16_t refcount;      /* atomic: 1 for the link, 1 per user */
    uint16_t it_flags;      /* ITEM_* bits (item_flags: see below) */
    uint8_t slabs_clsid;    /* slab class of the chunk; of a chunked item,
                             * the largest class, whose LRU and stats hold it */
    uint8_t nkey;           /* key length, without its NUL */
    uint8_t lru_segment;    /* which of its class's LRUs holds it (HOT, WARM, ...;
                             * item_lru_segment: see below) */
    uint8_t head_clsid;     /* chunked item: slab class of its own chunk */
    /* [cas if ITEM_CAS] key NUL value "\r\n"; 8-aligned for the CAS. */
    char data[] __attribute__((aligned(8)));
} item;

/* Items larger than the largest slab chunk (slab_chunk_max) are chunked,
 * laid out over the slab classes as memcached does, so that stats slabs
 * and stats items read the same: the item itself is a small header (the
 * key and a pointer to the first item_chunk) in the class that fits
 * item_chunked_head_size() (head_clsid), while it is counted and kept on
 * the LRU of the largest class (slabs_clsid). The whole value follows in
 * item_chunks: full chunks of the largest class, then one from the class
 * that fits what remains plus its item_chunk header (an appended or
 * prepended value is chained part by part instead, empty chunks included:
 * see item_alloc_joined). Chunks are freed with their item. A chunk's it_flags and slabs_clsid sit where an item's do, so
 * the slab allocator and the page mover can tell the two apart. */
struct item_chunk {
    struct item_chunk *next;    /* the next part of the value, or NULL */
    void *unused1;
    struct item *head;          /* the item whose value this is */
    uint32_t size;              /* value bytes held in data (may be 0) */
    uint32_t unused2[3];
    uint16_t unused3;
    uint16_t it_flags;          /* ITEM_CHUNK (ITEM_SLABBED once freed) */
    uint8_t slabs_clsid;        /* slab class of the chunk */
    char data[] __attribute__((aligned(8)));
};

/* it_flags, time and lru_segment are read by threads that do not hold the
 * item's stripe: the LRU walkers (maintainer, crawler, eviction, under an
 * LRU lock), the page mover (under no lock), and a worker sending a value
 * it holds a reference to. Contract: they change only under the item's
 * stripe, or while the item is unlinked and its creator's alone (or, for
 * it_flags, in the slab allocator for a free chunk), so there is one
 * writer at a time, and every change goes through the stores below; a
 * reader without the stripe reads through the loads below. Relaxed order
 * is enough: each read is one word, used for a decision taken again under
 * the stripe (a flag, a tail's age) or for a statistic. Under the stripe a
 * plain read is fine. On x86 all of these are plain moves. */
static inline uint16_t item_flags(const item *it)
{
    return __atomic_load_n(&it->it_flags, __ATOMIC_RELAXED);
}
static inline void item_flags_store(item *it, uint16_t flags)
{
    __atomic_store_n(&it->it_flags, flags, __ATOMIC_RELAXED);
}
/* Single writer: a load and a store, no locked read-modify-write. */
static inline void item_flags_set(item *it, uint16_t bits)
{
    item_flags_store(it, (uint16_t)(item_flags(it) | bits));
}
static inline void item_flags_clear(item *it, uint16_t bits)
{
    item_flags_store(it, (uint16_t)(item_flags(it) & ~bits));
}
static inline rel_time_t item_time(const item *it)
{
    return __atomic_load_n(&it->time, __ATOMIC_RELAXED);
}
static inline void item_set_time(item *it, rel_time_t t)
{
    __atomic_store_n(&it->time, t, __ATOMIC_RELAXED);
}
/* exptime: the same contract (metadump, stats cachedump and the LRU
 * walkers read it under an LRU lock only; touch and gat change it under the
 * stripe). */
static inline rel_time_t item_exptime(const item *it)
{
    return __atomic_load_n(&it->exptime, __ATOMIC_RELAXED);
}
static inline void item_set_exptime(item *it, rel_time_t t)
{
    __atomic_store_n(&it->exptime, t, __ATOMIC_RELAXED);
}
static inline uint8_t item_lru_segment(const item *it)
{
    return __atomic_load_n(&it->lru_segment, __ATOMIC_RELAXED);
}
static inline void item_set_lru_segment(item *it, uint8_t seg)
{
    __atomic_store_n(&it->lru_segment, seg, __ATOMIC_RELAXED);
}

static inline uint64_t *item_cas_slot(item *it) { return (uint64_t *)(void *)it->data; }
/* The CAS unique: changed under the stripe, read by metadump without it,
 * so relaxed atomics too (plain moves on x86). */
static inline uint64_t item_get_cas(const item *it)
{
    return (item_flags(it) & ITEM_CAS)
        ? __atomic_load_n((const uint64_t *)(const void *)it->data, __ATOMIC_RELAXED) : 0;
}
static inline void item_set_cas(item *it, uint64_t cas)
{
    if (item_flags(it) & ITEM_CAS)
        __atomic_store_n(item_cas_slot(it), cas, __ATOMIC_RELAXED);
}
/* The key, NUL-terminated. */
static inline char *item_key(item *it) { return it->data + ((item_flags(it) & ITEM_CAS) ? 8 : 0); }
/* Offset in data[] where a chunked item's first-chunk pointer sits, for an
 * item with it_flags flags (one load of them serves every layout helper:
 * relaxed atomic loads are not merged by the compiler). */
static inline size_t item_chunk_link_offset_of(const item *it, uint16_t flags)
{
    return (((flags & ITEM_CAS) ? 8u : 0u) + it->nkey + 1 + 7) & ~(size_t)7;
}
static inline size_t item_chunk_link_offset(const item *it)
{
    return item_chunk_link_offset_of(it, item_flags(it));
}
/* The value: nbytes bytes, ending in "\r\n". For a chunked item, only its
 * first part (see item_value_span). */
static inline char *item_value(item *it)
{
    uint16_t flags = item_flags(it);
    if (flags & ITEM_CHUNKED)
        return it->data + item_chunk_link_offset_of(it, flags) + sizeof(struct item_chunk *);
    return it->data + ((flags & ITEM_CAS) ? 8 : 0) + it->nkey + 1;
}
/* The contiguous run of value bytes that starts at byte offset of it's
 * value (offset < nbytes): returns its address, *len its length. Works for
 * every item, chunked or not; inline for the one-piece value of every
 * request's path, item_value_span_chunked (items.c, any item) otherwise. */
char *item_value_span_chunked(item *it, uint32_t offset, uint32_t *len);
static inline char *item_value_span(item *it, uint32_t offset, uint32_t *len)
{
    uint16_t flags = item_flags(it);
    if (flags & ITEM_CHUNKED)
        return item_value_span_chunked(it, offset, len);
    *len = it->nbytes - offset;
    return it->data + ((flags & ITEM_CAS) ? 8 : 0) + it->nkey + 1 + offset;
}
/* Copy len value bytes out of / into it, starting at offset. */
void item_value_read(item *it, uint32_t offset, void *dst, uint32_t len);
void item_value_write(item *it, uint32_t offset, const void *src, uint32_t len);
/* Copies the first len value bytes of src into dst's value at offset. */
void item_value_copy(item *dst, uint32_t offset, item *src, uint32_t len);
/* True when the value ends in "\r\n" (a stored value is well formed). */
bool item_value_ends_crlf(item *it);
/* Bytes the item takes in its chunk (all its chunks, for a chunked item).
 * Non-zero client flags count 4 bytes more, as in memcached, whose header
 * holds them only then: sizes, slab classes and "size=" agree with it. */
static inline size_t item_total_size(size_t nkey, uint32_t nbytes, bool with_cas,
                                     bool with_flags)
{
    return sizeof(item) + (with_cas ? 8 : 0) + (with_flags ? 4 : 0) + nkey + 1 + nbytes;
}
/* Bytes a chunked item's header chunk is taken for: as memcached sizes
 * it (an item with its key and room for one item_chunk header), which
 * picks its slab class (head_clsid). */
static inline size_t item_chunked_head_size(size_t nkey, bool with_cas, bool with_flags)
{
    return item_total_size(nkey, 0, with_cas, with_flags) + sizeof(struct item_chunk);
}
static inline size_t item_ntotal(const item *it)
{
    return item_total_size(it->nkey, it->nbytes, item_flags(it) & ITEM_CAS, it->client_flags != 0);
}

/* Why an allocation failed. */
enum alloc_failure {
    ALLOC_TOO_LARGE,        /* larger than -I allows */
    ALLOC_NO_MEMORY,        /* memory full and nothing could be evicted */
    ALLOC_NO_MEMORY_CHUNKED /* the same, for a value over slab_chunk_max:
                             * memcached finds out while reading the value
                             * ("Out of memory during read") */
};

/* Outcome of a lookup, for the get_expired / get_flushed stats. */
enum lookup_outcome {
    LOOKUP_HIT,
    LOOKUP_MISS,
    LOOKUP_EXPIRED,         /* found but past its exptime: reclaimed */
    LOOKUP_FLUSHED          /* found but invalidated by flush_all: reclaimed */
};

/* Sets up the item lock stripes and the LRUs; call after slabs_init(). */
void items_init(void);

/* Starts the LRU maintainer thread (segmented LRU: moves items from HOT
 * and WARM to COLD as they age or the segments outgrow their share, and
 * drains the workers' bump queues). */
void items_start_maintainer(void);

/* Gives the calling thread worker index's queue of LRU bumps (index below
 * settings.num_threads as items_init saw it; see item_get_locked). Each
 * worker calls it once, from its own thread, before serving; a thread
 * without a queue moves the items it bumps itself. */
void items_worker_attach(unsigned index);

/* Allocates an unlinked item holding the key, with room for nbytes of value
 * (which must include "\r\n"); the value is left for the caller to fill.
 * Evicts from the target class's LRU when memory is full (unless -M).
 * Returns the item with one reference owned by the caller, or NULL with
 * *why set. Takes no item lock but trylocks victims, so callers may hold one. */
item *item_alloc(const char *key, size_t nkey, uint32_t client_flags,
                 rel_time_t exptime, uint32_t nbytes, enum alloc_failure *why);

/* The item an append or prepend stores: first's value without its "\r\n",
 * then second's whole value, under old's key, client flags and exptime
 * (old is first or second; the caller holds old's item lock and both
 * references). Unlinked, with one reference owned by the caller. A
 * chunked result is laid out as memcached lays out a joined value, so
 * stats slabs read the same: each part starts in a chunk of its own,
 * sized to that part, and a part that ends a chunk exactly is followed
 * by an empty chunk of the class for a bare chunk header. NULL with *why
 * set when the joined value is over -I or memory is short. */
item *item_alloc_joined(item *old, item *first, item *second, enum alloc_failure *why);

/* Looks a key up. Caller holds item_lock(hv). An expired or flushed item is
 * unlinked on the way. On a hit returns the item with a new reference and,
 * if do_update, marks it fetched and bumps it in its LRU. With the
 * segmented LRU, a second fetch of an item in COLD does not move it here:
 * a worker (items_worker_attach) queues it, with a reference, for the LRU
 * maintainer, which moves it to WARM and stamps its access time on its
 * next pass (within about a second); a full queue drops the bump
 * (lru_bumps_dropped). A fetch elsewhere stamps the time at once. */
item *item_get_locked(const char *key, size_t nkey, uint32_t hv,
                      bool do_update, enum lookup_outcome *outcome);

/* Records a read of an item found with do_update false: bumps it in its
 * LRU and marks it fetched, as do_update would have. Caller holds
 * item_lock(hv), hv being its key's hash, and a reference. (mg reads the
 * before-state first.) */
void item_mark_fetched_locked(item *it, uint32_t hv);

/* Makes an unlinked item visible and stamps it with the next CAS unique
 * unless the caller set one (item_set_cas) before. Caller holds
 * item_lock(hv), hv being its key's hash, and a reference; no item with
 * the key may be linked. */
void item_link_locked(item *it, uint32_t hv);

/* Hides a linked item (no-op if not linked). Caller holds item_lock(hv). */
void item_unlink_locked(item *it, uint32_t hv);

/* Unlinks old_it and links new_it in its place. Caller holds item_lock(hv). */
void item_replace_locked(item *old_it, item *new_it, uint32_t hv);

/* References a lookup for a reply may leave on one item: a multi-get that
 * names a key again and again keeps one per mention until it is sent, and
 * the 16-bit count must never wrap (CVE-2018-1000127). Past this, such a
 * lookup reads as a miss, as memcached's does (near 60000 there too). */
#define ITEM_REFCOUNT_READERS_MAX 60000

/* Drops one reference; frees the item when it was the last, which must
 * not be the link's (the item is unlinked first). No lock needed. */
void item_release(item *it);

/* Adds a reference (for a second user of an item already referenced:
 * never one whose count reached zero). */
void item_ref(item *it);

/* True when the item is past its exptime or invalidated by flush_all. */
bool item_is_dead(const item *it, bool *flushed);

/* A fresh CAS unique. */
uint64_t item_next_cas(void);

/* Invalidates every item at rel time `when` (0: now); see flush_all. */
void items_flush(rel_time_t when, bool immediate);

/* The last flush_all's cut-off (`stats settings` oldest): items touched at
 * or before it are dead once current_time reaches it; 0: none. */
rel_time_t items_oldest_live(void);

/* A slab class has this many LRUs, numbered as lru_segment numbers them:
 * HOT 0, WARM 1, COLD 2, TEMP 3. */
#define ITEMS_LRU_SEGMENTS 4
/* Minutes ahead the crawler sorts live items by time left (one hour). */
#define ITEMS_CRAWL_MINUTES 60

/* What a walk of one LRU found (items_crawl_lru). */
struct items_crawl_counts {
    uint64_t checked;       /* items looked at (crawler_items_checked) */
    uint64_t reclaimed;     /* expired or flushed items unlinked (crawler_reclaimed) */
    uint64_t live;          /* items left alive that no client was using */
    uint64_t live_no_ttl;   /* of those, the ones without an exptime */
    uint64_t live_by_minute[ITEMS_CRAWL_MINUTES];
                            /* of those, [m]: the ones with m whole minutes
                             * to live (one expiring this second: 0) */
};

/* Walks LRU seg of class id (any id below SLAB_CLASS_MAX: a class that
 * does not exist has empty LRUs) from its tail to its head, reclaiming
 * expired and flushed items no client is using, looking at at most limit
 * items (0: all); fills *out. Takes the LRU's lock for one item at a time
 * and items' locks by trylock. One walker per LRU at a time (the crawler
 * thread is the only caller). */
void items_crawl_lru(unsigned id, unsigned seg, uint32_t limit, struct items_crawl_counts *out);

/* Items on LRU seg of class id now. */
uint64_t items_lru_count(unsigned id, unsigned seg);

/* Calls fn for every live item of class id, oldest first in each LRU
 * segment, under the LRU lock (fn must not block or take item locks).
 * Used by lru_crawler metadump/mgdump. */
void items_foreach(unsigned id, void (*fn)(item *it, void *arg), void *arg);

/* Calls fn for the items of class id's COLD LRU (every item without the
 * segmented LRU), newest first, until fn returns false; under the LRU
 * lock (fn must not block or take item locks). Used by stats cachedump. */
void items_foreach_cold(unsigned id, bool (*fn)(item *it, void *arg), void *arg);

/* Items linked in class id (for the slab mover and stats). */
uint64_t items_class_count(unsigned id);
/* Evictions so far in class id. */
uint64_t items_class_evictions(unsigned id);

/* Frees the chunk of a linked, idle item so its slab page can move: the
 * item moves to a free chunk of its class if there is one (returns 2),
 * else it is evicted (returns 1). Returns 0 if the item is in use (try
 * again later), -1 if it is no longer a linked item. Given an item_chunk
 * (ITEM_CHUNK) of an idle item, the chunk moves to a free chunk of its
 * class (returns 3), else the item that owns it is evicted (1); 0 to wait
 * for it. Takes the item lock by trylock. */
int item_evict_for_move(item *it);

/* Warm restart (single-threaded start-up): the CAS counter, and relinking
 * an item found in a restored page. item_restore returns the bytes its
 * chunk holds, or 0, leaving the chunk for the caller to free, when it is
 * not a live item. A chunked item's chain was saved with the memory file
 * at another address: its pointers are moved by delta (new address minus
 * old), each chunk must pass chunk_ok (inside the file, on a chunk
 * boundary of a page of the class it names), and its chunks are marked kept for
 * item_chunk_restore. */
uint64_t items_cas_counter(void);
void items_set_cas_counter(uint64_t cas);
/* The flush_all state (cut-off, CAS bound) a warm restart carries over. */
void items_flush_state(rel_time_t *live, uint64_t *cas);
void items_set_flush_state(rel_time_t live, uint64_t cas);
size_t item_restore(item *it, intptr_t delta, bool (*chunk_ok)(const void *chunk));
/* For an item_chunk found in a restored page: the bytes it holds when a
 * restored item kept it, else 0 (the caller frees it). */
size_t item_chunk_restore(item *chunk);

/* Storage totals for the stats command. */
struct items_totals {
    uint64_t curr_items, total_items, bytes;
    uint64_t evictions, reclaimed, expired_unfetched, evicted_unfetched;
    uint64_t evicted_active, crawler_reclaimed, crawler_items_checked;
    uint64_t moves_to_cold, moves_to_warm, moves_within_lru;
    uint64_t direct_reclaims;   /* allocation tries that had to make room */
    uint64_t lru_maintainer_juggles;
    uint64_t lru_bumps_dropped; /* bumps lost to a full worker queue (not zeroed
                                 * by stats reset, as in memcached) */
};

/* Per-class numbers for stats items. */
struct items_class_stats {
    uint64_t number, evicted, evicted_nonzero, reclaimed, expired_unfetched;
    uint64_t evicted_unfetched, crawler_reclaimed, crawler_items_checked;
    uint64_t outofmemory, mem_requested;
    rel_time_t age;             /* seconds since the COLD tail's last access */
    rel_time_t age_hot, age_warm; /* same for the HOT and WARM tails */
    rel_time_t evicted_time;    /* idle seconds of the last evicted item */
    uint64_t number_hot, number_warm, number_cold, number_temp;
    uint64_t moves_to_cold, moves_to_warm, moves_within_lru;
    uint64_t direct_reclaims;
};
void items_class_stats(unsigned id, struct items_class_stats *out);

/* Counts an allocation that failed for lack of memory in class id. */
void items_count_outofmemory(unsigned id);
void items_totals(struct items_totals *out);
/* stats reset: zeroes every counter above (not the item and byte counts). */
void items_stats_reset(void);

#endif
