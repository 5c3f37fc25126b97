/* prefix_stats.h: per-key-prefix counters behind "stats detail" (a prefix is
 * a key's bytes before the first settings.prefix_delimiter). Callers record
 * only while settings.detail_enabled; every call takes the module's own
 * mutex, so any thread may call any function. */
#ifndef MC_PREFIX_STATS_H
#define MC_PREFIX_STATS_H

#include <stdbool.h>
#include <stddef.h>

struct reply;

/* Count one get (and a hit when hit), set or delete of key[0..nkey).
 * Keys without the delimiter are not counted; past 65536 prefixes new
 * ones are not counted either. */
void prefix_stats_record_get(const char *key, size_t nkey, bool hit);
void prefix_stats_record_set(const char *key, size_t nkey);
void prefix_stats_record_delete(const char *key, size_t nkey);

/* Appends "PREFIX <p> get <n> hit <n> set <n> del <n>\r\n" per prefix, in
 * memcached's order, without the closing "END\r\n". */
void prefix_stats_dump(struct reply *r);

/* Forgets every prefix (stats reset). */
void prefix_stats_clear(void);

#endif
