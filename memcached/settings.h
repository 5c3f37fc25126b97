/* settings.h: the server's configuration, filled once by main() from the
 * command line before any thread starts, then read-only (except the fields
 * marked "runtime", which commands on any worker may change while other
 * threads read them: those are atomics). */
#ifndef MC_SETTINGS_H
#define MC_SETTINGS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The memcached release whose behaviour this server reproduces; reported
 * by "version" and -V, which clients parse. */
#define MEMCACHED_VERSION "1.6.45"

enum protocol_choice {
    PROTOCOL_AUTO,      /* pick per connection from the first byte */
    PROTOCOL_ASCII,     /* text and meta commands only */
    PROTOCOL_BINARY     /* binary packets only */
};

struct settings {
    _Atomic size_t maxbytes;  /* -m: item memory limit in bytes (runtime: cache_memlimit) */
    int maxconns;             /* -c: simultaneous client connections */
    int port;                 /* -p: TCP port; 0 picks a free one */
    int udpport;              /* -U: UDP port; 0 is off */
    char *inter;              /* -l: comma separated listen addresses; NULL: all */
    char *socketpath;         /* -s: UNIX socket path; NULL: none */
    int access;               /* -a: UNIX socket mode */
    _Atomic int verbose;      /* -v count (runtime: verbosity) */
    double factor;            /* -f: slab chunk growth factor */
    int chunk_size;           /* -n: smallest key+value+flags space */
    int num_threads;          /* -t: worker threads */
    int reqs_per_event;       /* -R: requests served per connection per event */
    bool use_cas;             /* false with -C */
    bool evict_to_free;       /* false with -M */
    bool shutdown_command;    /* -A: the shutdown command is allowed */
    bool flush_enabled;       /* false with -F */
    bool dump_enabled;        /* false with -X */
    bool watch_enabled;       /* false with -W */
    bool lock_memory;         /* -k */
    bool maxconns_fast;       /* -o maxconns_fast: refuse over-limit clients at once */
    bool large_pages;         /* -L: preallocate a page per class (no huge pages) */
    int backlog;              /* -b: listen backlog */
    enum protocol_choice binding_protocol; /* -B */
    int item_size_max;        /* -I: largest value + key + header, bytes */
    int slab_page_size;       /* bytes per slab page (1 MB) */
    int slab_chunk_size_max;  /* -o slab_chunk_max: largest slab chunk, bytes */
    int hashpower_init;       /* -o hashpower: initial log2 of hash buckets (0: default) */
    int idle_timeout;         /* -o idle_timeout: seconds; 0 is off */
    char prefix_delimiter;    /* -D */
    _Atomic bool detail_enabled; /* stats detail on (runtime) */
    char *username;           /* -u */
    char *pid_file;           /* -P */
    bool daemonize;           /* -d */
    bool maxcore;             /* -r */
    char *memory_file;        /* -e: warm restart memory file; NULL: off */
    char *auth_file;          /* -Y: ASCII login password file; NULL: no login */
    int num_napi_ids;         /* -N (accepted; no NAPI-based thread choice) */
    /* LRU tuning (-o), used by the storage engine. */
    _Atomic bool lru_crawler;           /* runtime: lru_crawler enable/disable */
    _Atomic int lru_crawler_sleep;      /* runtime: lru_crawler sleep */
    _Atomic uint32_t lru_crawler_tocrawl; /* runtime: lru_crawler tocrawl */
    bool lru_maintainer_thread;
    _Atomic bool lru_segmented;         /* runtime: lru mode flat|segmented */
    _Atomic int hot_lru_pct;            /* runtime: lru tune (with the next three) */
    _Atomic int warm_lru_pct;
    _Atomic double hot_max_factor;
    _Atomic double warm_max_factor;
    _Atomic bool temp_lru;              /* runtime: lru temp_ttl (a negative ttl: off) */
    _Atomic uint32_t temporary_ttl;     /* runtime: lru temp_ttl */
    int slab_reassign;        /* -o slab_reassign (always on) */
    _Atomic int slab_automove; /* -o slab_automove: 0, 1 or 2 (runtime) */
    _Atomic double slab_automove_ratio; /* runtime: slabs automove ratio */
    _Atomic int slab_automove_window; /* automover runs its window looks back over
                                       * (runtime: slabs automove window) */
    _Atomic double slab_automove_freeratio; /* -o slab_automove_freeratio: accepted (an
                                             * extstore tunable in memcached; runtime) */
    _Atomic unsigned slab_automove_version; /* bumped by every runtime slabs automove
                                             * window/ratio/freeratio: the automover
                                             * starts a new window */
    int tail_repair_time;
    const char *hash_algorithm;
    uint32_t read_buf_mem_limit;  /* bytes (-o read_buf_mem_limit takes MB) */
    uint32_t watcher_logbuf_size; /* bytes (-o takes KB) */
    uint32_t worker_logbuf_size;  /* bytes (-o takes KB) */
    /* More -o options (see docs/options.md). */
    bool hash_expand;         /* false with no_hashexpand: the table never grows */
    uint32_t *slab_sizes;     /* slab_sizes: chunk sizes, 0-terminated; NULL: use -f */
    bool track_sizes;         /* track_sizes: "stats sizes" reports item sizes */
    bool drop_privileges;     /* -o drop_privileges: seccomp filter after start-up
                               * (sandbox.h; off by default, as memcached) */
    uint32_t sock_cookie_id;  /* sock_cookie_id: SO_MARK for listening sockets; 0: none */
    _Atomic uint32_t probe_sample_rate; /* -o probe_sample_rate: request__sample fires
                                   for 1 in this many key operations per worker; 0: never
                                   (runtime: probe_sample_rate; at most INT32_MAX) */
};

extern struct settings settings;

/* Fills settings with memcached's defaults. */
void settings_init(void);

#endif
