/* fuzz/inspect_items.c: items.c compiled with two extra functions the fuzz
 * shim needs and the server must not have: a walk over every LRU (dead
 * items included) that checks each item, and a reset that unlinks all. */
#include "../memcached/items.c"

#include "fuzz_inspect.h"

uint64_t fuzz_items_check(void)
{
    uint64_t n = 0;
    for (unsigned id = 0; id < SLAB_CLASS_MAX; id++) {
        uint64_t in_class = 0;
        for (unsigned seg = 0; seg < SEGMENTS; seg++) {
            struct lru *l = &lrus[id][seg];
            for (item *it = l->head; it != NULL; it = it->next) {
                if (it->it_flags & ITEM_CRAWLER)
                    continue;
                fuzz_require(it->it_flags & ITEM_LINKED, "an item on an LRU is not linked");
                fuzz_require(!(it->it_flags & (ITEM_SLABBED | ITEM_CHUNK)),
                             "a free chunk or value chunk is on an LRU");
                fuzz_require(it->slabs_clsid == id && it->lru_segment == seg,
                             "an item sits on another class's or segment's LRU");
                fuzz_require(atomic_load((_Atomic uint16_t *)&it->refcount) == 1,
                             "a linked item is still referenced after its connection closed");
                fuzz_require(item_value_ends_crlf(it), "a stored value does not end in \\r\\n");
                in_class++;
            }
        }
        fuzz_require(in_class == atomic_load(&class_items[id]),
                     "a class's item count disagrees with its LRUs");
        n += in_class;
    }
    return n;
}

void fuzz_items_reset(void)
{
    for (unsigned id = 0; id < SLAB_CLASS_MAX; id++) {
        for (unsigned seg = 0; seg < SEGMENTS; seg++) {
            struct lru *l = &lrus[id][seg];
            item *it = l->tail;
            while (it != NULL) {
                item *prev = it->prev;
                if (!(it->it_flags & ITEM_CRAWLER)) {
                    uint32_t hv = hash_key(item_key(it), it->nkey);
                    item_lock(hv);
                    item_unlink_locked(it, hv);
                    item_unlock(hv);
                }
                it = prev;
            }
        }
    }
    atomic_store(&oldest_live, 0);
    atomic_store(&oldest_cas, 0);
}
