/* hash.h: the key hash used by the hash table and the item lock stripes. */
#ifndef MC_HASH_H
#define MC_HASH_H

#include <stddef.h>
#include <stdint.h>

/* MurmurHash3 (x86, 32-bit) of key[0..length), seed 0. */
uint32_t hash_key(const void *key, size_t length);

#endif
