/* assoc.h: the hash table from key to item. Buckets are a power of two in
 * number; the table doubles in a background thread when it holds 1.5 items
 * per bucket, while lookups and inserts go on. Every call needs
 * item_lock(hv) held for the key's hash hv. */
#ifndef MC_ASSOC_H
#define MC_ASSOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "item_locks.h"
#include "items.h"

/* The table always has more buckets than item lock stripes
 * (item_lock_power()), so a bucket is covered by exactly one stripe. */

/* Allocates the table with 1 << hashpower buckets (0: the default, 16). */
void assoc_init(int hashpower);

/* Starts the thread that grows the table. */
void assoc_start_expander(void);

/* The linked item with this key, or NULL. */
item *assoc_find(const char *key, size_t nkey, uint32_t hv);

/* Adds an item whose key is not in the table. */
void assoc_insert(item *it, uint32_t hv);

/* Removes the item with this key, if any. */
void assoc_delete(const char *key, size_t nkey, uint32_t hv);

/* For stats: log2 of buckets, bytes of bucket array, growth under way. */
unsigned assoc_hashpower(void);
size_t assoc_hash_bytes(void);
bool assoc_expanding(void);

#endif
