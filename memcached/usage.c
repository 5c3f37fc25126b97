/* usage.c: the -h text. Flag names, their order and the column layout follow
 * memcached's -h; TLS (-Z, ssl_*, -l prefixes) is listed only when built in
 * (tls.c prints those lines), SASL (-S) only when built in; extstore (ext_*)
 * and the proxy are not listed because this server has none of them. docs/options.md says
 * what each -o option does here. */
#include "config.h"
#include "usage.h"

#include <stdio.h>

#include "probes.h"
#include "sandbox.h"
#include "sasl.h"
#include "settings.h"
#include "tls.h"

void usage(void)
{
    printf("memcached %s (memcached-sdt: with the memcached SDT provider%s)\n",
           MEMCACHED_VERSION, PROBES_BUILT_IN ? "" : " compiled out");
    printf("-p, --port=<num>          TCP port to listen on (default: 11211)\n"
           "                          0 turns TCP off; -1 takes any free port (see\n"
           "                          MEMCACHED_PORT_FILENAME below)\n"
           "-U, --udp-port=<num>      UDP port to listen on (default: 0, off)\n"
           "-s, --unix-socket=<file>  UNIX socket to listen on (disables network support)\n"
           "-a, --unix-mask=<mask>    access mask for UNIX socket, in octal (default: 700)\n"
           "-A, --enable-shutdown     enable ascii \"shutdown\" command\n"
           "-l, --listen=<addr>       interface to listen on (default: INADDR_ANY)\n"
           "                          several may be given, comma separated or repeated;\n"
           "                          <addr>:<port> overrides -p for that address\n");
    tls_usage_listen();
    printf("-d, --daemon              run as a daemon\n"
           "-r, --enable-coredumps    maximize core file limit\n"
           "-u, --user=<user>         assume identity of <username> (only when run as root)\n"
           "-m, --memory-limit=<num>  item memory in megabytes (default: 64)\n"
           "-M, --disable-evictions   return error on memory exhausted instead of evicting\n"
           "-c, --conn-limit=<num>    max simultaneous connections (default: 1024)\n"
           "-k, --lock-memory         lock down all paged memory\n"
           "-v, --verbose             verbose (print errors/warnings while in event loop)\n"
           "-vv                       very verbose (also print client commands/responses)\n"
           "-vvv                      extremely verbose (internal state transitions)\n"
           "-h, --help                print this help and exit\n"
           "-i, --license             print memcached and libevent license\n"
           "-V, --version             print version and exit\n"
           "-P, --pidfile=<file>      save PID in <file>, only used with -d option\n"
           "-f, --slab-growth-factor=<num> chunk size growth factor (default: 1.25)\n"
           "-n, --slab-min-size=<bytes> min space used for key+value+flags (default: 48)\n"
           "-L, --enable-largepages  try to use large memory pages (if available)\n"
           "-D <char>     Use <char> as the delimiter between key prefixes and IDs.\n"
           "              Per-prefix stats (\"stats detail\") are turned on with it.\n"
           "-t, --threads=<num>       number of threads to use (default: 4)\n"
           "-R, --max-reqs-per-event  maximum number of requests per event, limits the\n"
           "                          requests processed per connection to prevent \n"
           "                          starvation (default: 20)\n"
           "-C, --disable-cas         disable use of CAS\n"
           "-b, --listen-backlog=<num> set the backlog queue limit (default: 1024)\n"
           "-B, --protocol=<name>     protocol - one of ascii, binary, or auto (default: auto-negotiate)\n"
           "-I, --max-item-size=<num> adjusts max item size\n"
           "                          (default: 1m, min: 1k, max: 1024m)\n");
    if (sasl_built())
        printf("-S, --enable-sasl         turn on Sasl authentication (binary protocol; see\n"
               "                          SASL_CONF_PATH and MEMCACHED_SASL_PWDB below)\n");
    printf("-F, --disable-flush-all   disable flush_all command\n"
           "-X, --disable-dumping     disable stats cachedump, stats detail, and lru_crawler metadump\n"
           "-W  --disable-watch       disable watch commands (live logging)\n"
           "-Y, --auth-file=<file>    (EXPERIMENTAL) enable ASCII protocol authentication:\n"
           "                          a client sends \"set <key> 0 0 <len>\" with the value\n"
           "                          \"<user> <password>\" before anything else. The file\n"
           "                          holds user:password lines; SIGHUP reloads it.\n"
           "-e, --memory-file=<file>  (EXPERIMENTAL) mmap a file for item memory.\n"
           "                          use only in ram disks or persistent memory mounts!\n"
           "                          enables restartable cache (stop with SIGUSR1)\n");
    tls_usage_flag();
    printf("-o, --extended            comma separated list of extended options\n"
           "                          most options have a 'no_' prefix to disable\n"
           "   - maxconns_fast:       immediately close new connections after limit (default: enabled)\n"
           "   - hashpower:           an integer multiplier for how large the hash\n"
           "                          table should be. normally grows at runtime. (default starts at: 0)\n"
           "                          set based on \"STAT hash_power_level\"\n"
           "   - no_hashexpand:       never grow the hash table\n"
           "   - tail_repair_time:    accepted for compatibility (at least 10); no effect here\n"
           "   - hash_algorithm:      jenkins, murmur3 or xxh3; accepted for compatibility\n"
           "                          (this server always hashes keys with murmur3)\n"
           "   - no_lru_crawler:      disable LRU Crawler background thread.\n"
           "   - lru_crawler_sleep:   microseconds to sleep between items\n"
           "                          default is 100.\n"
           "   - lru_crawler_tocrawl: max items to crawl per slab per run\n"
           "                          default is 0 (unlimited)\n"
           "   - read_buf_mem_limit:  limit in megabytes for connection response objects,\n"
           "                          split over the worker threads. default is 0 (no limit)\n"
           "   - no_lru_maintainer:   disable new LRU system + background thread.\n"
           "   - hot_lru_pct:         pct of slab memory to reserve for hot lru.\n"
           "                          (requires lru_maintainer, default pct: 20)\n"
           "   - warm_lru_pct:        pct of slab memory to reserve for warm lru.\n"
           "                          (requires lru_maintainer, default pct: 40)\n"
           "   - hot_max_factor:      items idle > cold lru age * drop from hot lru. (default: 0.20)\n"
           "   - warm_max_factor:     items idle > cold lru age * this drop from warm. (default: 2.00)\n"
           "   - temporary_ttl:       TTL's below get separate LRU, can't be evicted.\n"
           "                          (requires lru_maintainer, default: 61)\n"
           "   - idle_timeout:        timeout for idle connections. (default: 0, no timeout)\n"
           "   - slab_chunk_max:      (EXPERIMENTAL) maximum slab size in kilobytes. use extreme care. (default: 512)\n"
           "   - no_chunked_items:    slab_chunk_max = the slab page size (1m)\n"
           "   - slab_sizes:          chunk sizes as \"s1-s2-...\", in increasing bytes,\n"
           "                          instead of -f steps\n"
           "   - slab_reassign, slab_automove[=0|1|2], slab_automove_ratio,\n"
           "     slab_automove_window: slab page moving (see docs/options.md)\n"
           "   - watcher_logbuf_size: kilobytes buffered per \"watch\" client\n"
           "   - worker_logbuf_size:  kilobytes; accepted for compatibility\n"
           "   - track_sizes:         enable reports for 'stats sizes' command.\n"
           "   - modern:              enables options which will be default in future.\n"
           "                          currently: nothing\n"
           "   - no_modern:           uses defaults of previous major version (1.4.x)\n");
    if (sandbox_built())    /* memcached lists these only where it can drop them */
        printf("   - drop_privileges:     enable dropping extra syscall privileges\n"
               "   - no_drop_privileges:  disable drop_privileges in case it causes issues with\n"
               "                          some customisation.\n"
               "                          (default is no_drop_privileges)\n");
    printf("   - [no_]inline_ascii_resp, resp_obj_mem_limit:\n"
           "                          accepted for compatibility; no effect here\n"
           "   - sock_cookie_id:      attributes an ID (SO_MARK) to listening sockets for\n"
           "                          ip filtering/firewalls\n"
           "   - probe_sample_rate:   the request__sample probe fires for 1 in N key\n"
           "                          operations per worker thread (default: 100; 0: never)\n"
           "   - latency_stats:       per-command latency histograms for 'stats latency'\n"
           "                          (default: off; no_latency_stats: off)\n");
    printf("   - metrics_listen:      HOST:PORT: serve Prometheus metrics over HTTP at\n"
           "                          /metrics there (default: off; see docs/metrics.md)\n");
    tls_usage_options();
    printf("-N, --napi_ids            number of napi ids (accepted for compatibility;\n"
           "                          connections are spread round-robin here)\n"
           "\n"
           "Environment: MEMCACHED_PORT_FILENAME=<file> writes the bound ports to <file>\n"
           "(\"TCP INET: <port>\" lines) once listening.\n");
    if (sasl_built())
        printf("With -S: SASL_CONF_PATH=<dir> holds memcached.conf (default: /etc/sasl or\n"
               "/etc/sasl2); MEMCACHED_SASL_PWDB=<file> checks passwords against\n"
               "user:password lines in <file>.\n");
    printf(
           "\n"
           "SDT probes: provider \"memcached\"%s. List them with\n"
           "  bpftrace -l 'usdt:<path to memcached>:memcached:*'\n"
           "and see which are being traced with the \"stats probes\" command.\n",
           PROBES_BUILT_IN ? "" : " (not built in: configure --enable-dtrace)");
}
