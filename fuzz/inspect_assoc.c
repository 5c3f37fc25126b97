/* fuzz/inspect_assoc.c: assoc.c compiled with a walk the fuzz shim uses to
 * check that the hash table and the LRUs hold the same items. */
#include "../memcached/assoc.c"

#include "fuzz_inspect.h"

static uint64_t check_chain(item *it)
{
    uint64_t n = 0;
    for (; it != NULL; it = it->h_next) {
        fuzz_require(it->it_flags & ITEM_LINKED, "an item in the hash table is not linked");
        uint32_t hv = hash_key(item_key(it), it->nkey);
        item_lock(hv);      /* assoc_find's contract, asserted */
        item *found = assoc_find(item_key(it), it->nkey, hv);
        item_unlock(hv);
        fuzz_require(found == it, "a hashed item is not found by its own key");
        n++;
    }
    return n;
}

uint64_t fuzz_assoc_check(void)
{
    uint64_t n = 0;
    fuzz_require(!expanding, "the table is growing with no expander running");
    for (uint64_t b = 0; b < BUCKETS(hashpower); b++)
        n += check_chain(primary[b]);
    fuzz_require(n == atomic_load(&hash_items), "the hash table's count disagrees with its chains");
    return n;
}
