/* logger.h: the "watch" log stream. Watchers are connections handed over
 * by the "watch" command; events are formatted in memcached's line format
 * only while some watcher asks for their kind, so with nobody watching
 * each hook costs one relaxed load. Any thread may call any function. */
#ifndef MC_LOGGER_H
#define MC_LOGGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "listener.h"

struct item;

/* Event kinds a watcher can ask for ("watch fetchers mutations ..."). */
enum {
    LOG_FETCHERS = 1u << 0,     /* item_get: every key lookup */
    LOG_MUTATIONS = 1u << 1,    /* item_store: storage outcomes */
    LOG_EVICTIONS = 1u << 2,    /* eviction */
    LOG_CONNEVENTS = 1u << 3,   /* conn_new, conn_close */
    LOG_DELETIONS = 1u << 4,    /* deleted: removed by a delete command */
    LOG_SYSEVENTS = 1u << 5,    /* slab_move: the automover's decisions;
                                 * lru_crawler: the crawler's automatic schedule */
    /* Accepted as memcached accepts them; nothing here logs these (the
     * proxy's, which this build, like memcached without it, does not have). */
    LOG_RAWCMDS = 1u << 6,
    LOG_PROXYREQS = 1u << 7,
    LOG_PROXYEVENTS = 1u << 8,
    LOG_PROXYUSER = 1u << 9
};

/* The union of the watchers' kinds (private to logger.c; read through
 * logger_wants). */
extern unsigned logger_active_kinds;

static inline bool logger_wants(unsigned kind)
{
    return (__atomic_load_n(&logger_active_kinds, __ATOMIC_RELAXED) & kind) != 0;
}

/* Parses the "watch" arguments into kinds (none: fetchers). Returns false
 * on a word that is not a kind. */
bool logger_parse_kinds(const char *const *words, int nwords, unsigned *kinds);

/* Whether another watcher may be added (memcached allows 20). */
bool logger_watcher_room(void);

/* Takes ownership of connected socket fd (its own replies all sent) and
 * streams the events of kinds to it until it fails or hangs up. Returns
 * false (fd closed) when out of memory. */
bool logger_add_watcher(int fd, unsigned kinds);

/* Counters for "stats": watchers now, lines sent, lines dropped. */
void logger_stats(uint64_t *watchers, uint64_t *sent, uint64_t *skipped);

/* ---- events (call only when logger_wants(kind)) ---- */

/* A lookup of key: status "found" (it: the item), "not_found", "expired"
 * or "flushed" (it: NULL). cfd: the client's fd. */
void logger_log_get(const char *key, size_t nkey, const char *status,
                    const struct item *it, int cfd);
/* A store request's outcome: it is the stored item, or the request's. */
void logger_log_store(const struct item *it, const char *status, const char *cmd, int cfd);
/* A delete command (cmd as named: "delete", "md") removed it. */
void logger_log_delete(const struct item *it, const char *cmd);
/* it is being evicted. */
void logger_log_eviction(const struct item *it);
/* The automover chose to move a page from class src to dst (0: the global
 * page pool); ok: whether the move could start (memcached's state=ok|fail). */
void logger_log_slab_move(unsigned src, unsigned dst, bool ok);
/* The LRU crawler's automatic crawl of LRU lru ("hot", "warm", "cold",
 * "temp") of class cls, and when it comes next; memcached's fields (see
 * crawler.c): low_mark and next_reclaims the counts its wait was moved by,
 * since_run seconds since the crawl ended, next_run seconds to the next,
 * elapsed seconds it took, examined the live items it saw, reclaimed the
 * dead ones it freed. */
void logger_log_lru_crawler(unsigned cls, const char *lru, uint64_t low_mark,
                            uint64_t next_reclaims, unsigned since_run, int next_run,
                            unsigned elapsed, uint64_t examined, uint64_t reclaimed);
/* A client connection opened or closed. peer: "addr:port" or a path;
 * t: its listener's transport; reason: the server's close reason
 * ("client", "error", ...). */
void logger_log_conn_new(int cfd, const char *peer, enum transport t);
void logger_log_conn_close(int cfd, const char *peer, enum transport t, const char *reason);

#endif
