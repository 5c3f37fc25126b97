/* prefix_stats.c: the "stats detail" table. A fixed array of 256 chains
 * keyed by the prefix's hash, newest first, so "stats detail dump" lists
 * prefixes in the same order memcached does. One mutex guards it all. */
#include "config.h"
#include "prefix_stats.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "settings.h"

#define PREFIX_BUCKETS 256
#define PREFIX_LIMIT 65536

struct prefix_entry {
    struct prefix_entry *next;
    uint64_t gets, hits, sets, deletes;
    size_t nprefix;
    char prefix[];              /* NUL-terminated */
};

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct prefix_entry *buckets[PREFIX_BUCKETS];
static unsigned entry_count;

/* The entry for key's prefix, created on first use; NULL when the key has
 * no delimiter (a NUL byte ends the search, as in memcached), at the
 * limit, or out of memory. Caller holds table_lock. */
static struct prefix_entry *entry_for_key_locked(const char *key, size_t nkey)
{
    const char delim = settings.prefix_delimiter;
    size_t n = 0;
    while (n < nkey && key[n] != '\0' && key[n] != delim)
        n++;
    if (n == nkey || key[n] != delim)
        return NULL;
    struct prefix_entry **head = &buckets[hash_key(key, n) % PREFIX_BUCKETS];
    for (struct prefix_entry *e = *head; e != NULL; e = e->next)
        if (e->nprefix == n && memcmp(e->prefix, key, n) == 0)
            return e;
    if (entry_count >= PREFIX_LIMIT)
        return NULL;
    struct prefix_entry *e = calloc(1, sizeof(*e) + n + 1);
    if (e == NULL)
        return NULL;
    memcpy(e->prefix, key, n);
    e->nprefix = n;
    e->next = *head;
    *head = e;
    entry_count++;
    return e;
}

void prefix_stats_record_get(const char *key, size_t nkey, bool hit)
{
    pthread_mutex_lock(&table_lock);
    struct prefix_entry *e = entry_for_key_locked(key, nkey);
    if (e != NULL) {
        e->gets++;
        if (hit)
            e->hits++;
    }
    pthread_mutex_unlock(&table_lock);
}

void prefix_stats_record_set(const char *key, size_t nkey)
{
    pthread_mutex_lock(&table_lock);
    struct prefix_entry *e = entry_for_key_locked(key, nkey);
    if (e != NULL)
        e->sets++;
    pthread_mutex_unlock(&table_lock);
}

void prefix_stats_record_delete(const char *key, size_t nkey)
{
    pthread_mutex_lock(&table_lock);
    struct prefix_entry *e = entry_for_key_locked(key, nkey);
    if (e != NULL)
        e->deletes++;
    pthread_mutex_unlock(&table_lock);
}

void prefix_stats_foreach(void (*fn)(void *ctx, const struct prefix_counts *p), void *ctx)
{
    pthread_mutex_lock(&table_lock);
    for (unsigned b = 0; b < PREFIX_BUCKETS; b++)
        for (const struct prefix_entry *e = buckets[b]; e != NULL; e = e->next) {
            struct prefix_counts p = {
                .prefix = e->prefix, .gets = e->gets, .hits = e->hits,
                .sets = e->sets, .deletes = e->deletes,
            };
            fn(ctx, &p);
        }
    pthread_mutex_unlock(&table_lock);
}

void prefix_stats_clear(void)
{
    pthread_mutex_lock(&table_lock);
    for (unsigned b = 0; b < PREFIX_BUCKETS; b++) {
        struct prefix_entry *e = buckets[b];
        while (e != NULL) {
            struct prefix_entry *next = e->next;
            free(e);
            e = next;
        }
        buckets[b] = NULL;
    }
    entry_count = 0;
    pthread_mutex_unlock(&table_lock);
}
