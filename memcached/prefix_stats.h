/* prefix_stats.h: per-key-prefix counters behind "stats detail" (a prefix is
 * a key's bytes before the first settings.prefix_delimiter). Callers record
 * only while settings.detail_enabled; every call takes the module's own
 * mutex, so any thread may call any function. */
#ifndef MC_PREFIX_STATS_H
#define MC_PREFIX_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Count one get (and a hit when hit), set or delete of key[0..nkey).
 * Keys without the delimiter are not counted; past 65536 prefixes new
 * ones are not counted either. */
void prefix_stats_record_get(const char *key, size_t nkey, bool hit);
void prefix_stats_record_set(const char *key, size_t nkey);
void prefix_stats_record_delete(const char *key, size_t nkey);

/* One prefix's counts. */
struct prefix_counts {
    const char *prefix;         /* NUL-terminated, without the delimiter */
    uint64_t gets;              /* get-type lookups of its keys */
    uint64_t hits;              /* ... that found the key */
    uint64_t sets;              /* stores of its keys */
    uint64_t deletes;           /* deletes of its keys */
};

/* Calls fn(ctx, counts) for each prefix, in memcached's order of "stats
 * detail dump". Holds the module's mutex throughout: fn must not call
 * back into prefix_stats. counts lives only during the call. */
void prefix_stats_foreach(void (*fn)(void *ctx, const struct prefix_counts *p), void *ctx);

/* Forgets every prefix (stats reset). */
void prefix_stats_clear(void);

#endif
