/* main.c: command-line parsing (memcached's flags and -o suboptions),
 * start-up checks, the main thread's event loop (listeners and the clock
 * tick) and orderly shutdown on SIGTERM/SIGINT or the shutdown command. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sysexits.h>
#include <unistd.h>

#include <event2/event.h>

#include "assoc.h"
#include "clock.h"
#include "crawler.h"
#include "items.h"
#include "listen.h"
#include "memfile.h"
#include "probes.h"
#include "settings.h"
#include "slab_mover.h"
#include "slabs.h"
#include "thread.h"

static struct event_base *main_base;

static void usage(void)
{
    printf("memcached %s (memcached-sdt: with the memcached SDT provider%s)\n",
           MEMCACHED_VERSION, PROBES_BUILT_IN ? "" : " compiled out");
    printf("-p, --port=<num>          TCP port to listen on (default: 11211)\n"
           "-U, --udp-port=<num>      UDP port to listen on (default: 0, off)\n"
           "-s, --unix-socket=<file>  UNIX socket to listen on (disables network support)\n"
           "-a, --unix-mask=<mask>    access mask for UNIX socket, in octal (default: 700)\n"
           "-A, --enable-shutdown     enable ascii \"shutdown\" command\n"
           "-l, --listen=<addr>       interface to listen on (default: INADDR_ANY)\n"
           "-d, --daemon              run as a daemon\n"
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
           "-t, --threads=<num>       number of threads to use (default: 4)\n"
           "-R, --max-reqs-per-event  maximum number of requests per event, limits the\n"
           "                          requests processed per connection to prevent \n"
           "                          starvation (default: 20)\n"
           "-C, --disable-cas         disable use of CAS\n"
           "-b, --listen-backlog=<num> set the backlog queue limit (default: 1024)\n"
           "-B, --protocol=<name>     protocol - one of ascii, binary, or auto (default: auto-negotiate)\n"
           "-I, --max-item-size=<num> adjusts max item size\n"
           "                          (default: 1m, min: 1k, max: 1024m)\n"
           "-F, --disable-flush-all   disable flush_all command\n"
           "-X, --disable-dumping     disable stats cachedump, stats detail, and lru_crawler metadump\n"
           "-W  --disable-watch       disable watch commands (live logging)\n"
           "-o, --extended            comma separated list of extended options\n"
           "                          most options have a 'no_' prefix to disable\n"
           "   - maxconns_fast:       immediately close new connections after limit (default: enabled)\n"
           "   - hashpower:           an integer multiplier for how large the hash\n"
           "                          table should be. normally grows at runtime. (default starts at: 0)\n"
           "   - idle_timeout:        timeout for idle connections. (default: 0, no timeout)\n"
           "   - slab_chunk_max:      (EXPERIMENTAL) maximum slab size in kilobytes. use extreme care. (default: 512)\n"
           "   - hot_lru_pct, warm_lru_pct, hot_max_factor, warm_max_factor, temporary_ttl,\n"
           "     lru_crawler_sleep, lru_crawler_tocrawl, slab_automove, tail_repair_time,\n"
           "     hash_algorithm, no_lru_crawler, no_lru_maintainer: LRU tuning, as memcached\n"
           "\n"
           "SDT probes: provider \"memcached\"%s. List them with\n"
           "  bpftrace -l 'usdt:<path to memcached>:memcached:*'\n"
           "and see which are being traced with the \"stats probes\" command.\n",
           PROBES_BUILT_IN ? "" : " (not built in: configure --enable-dtrace)");
}

/* Parses a size with an optional k/m/g suffix (for -I). */
static bool parse_size(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || v < 0)
        return false;
    switch (*end) {
    case 'k': case 'K': v *= 1024; end++; break;
    case 'm': case 'M': v *= 1024 * 1024; end++; break;
    case 'g': case 'G': v *= 1024LL * 1024 * 1024; end++; break;
    }
    if (*end != '\0')
        return false;
    *out = v;
    return true;
}

static bool parse_int_arg(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < INT32_MIN || v > INT32_MAX)
        return false;
    *out = (int)v;
    return true;
}

/* -o name[=value],... Returns false after printing memcached's message. */
static bool parse_suboptions(char *opts)
{
    char *save = NULL;
    for (char *opt = strtok_r(opts, ",", &save); opt; opt = strtok_r(NULL, ",", &save)) {
        char *value = strchr(opt, '=');
        if (value)
            *value++ = '\0';
#define NEED_VALUE(name) \
        if (value == NULL) { fprintf(stderr, "Missing numeric argument for %s\n", name); return false; }
#define INT_OPTION(name, field) \
        if (strcmp(opt, name) == 0) { \
            NEED_VALUE(name) \
            int v; \
            if (!parse_int_arg(value, &v)) { fprintf(stderr, "could not parse argument to %s\n", name); return false; } \
            settings.field = v; continue; }
#define DOUBLE_OPTION(name, field) \
        if (strcmp(opt, name) == 0) { \
            NEED_VALUE(name) \
            settings.field = strtod(value, NULL); continue; }
#define FLAG_OPTION(name, field, val) \
        if (strcmp(opt, name) == 0) { settings.field = val; continue; }
        INT_OPTION("hashpower", hashpower_init)
        INT_OPTION("idle_timeout", idle_timeout)
        INT_OPTION("hot_lru_pct", hot_lru_pct)
        INT_OPTION("warm_lru_pct", warm_lru_pct)
        INT_OPTION("lru_crawler_sleep", lru_crawler_sleep)
        INT_OPTION("slab_automove", slab_automove)
        INT_OPTION("slab_automove_window", slab_automove_window)
        INT_OPTION("tail_repair_time", tail_repair_time)
        INT_OPTION("read_buf_mem_limit", read_buf_mem_limit)
        INT_OPTION("watcher_logbuf_size", watcher_logbuf_size)
        INT_OPTION("worker_logbuf_size", worker_logbuf_size)
        DOUBLE_OPTION("hot_max_factor", hot_max_factor)
        DOUBLE_OPTION("warm_max_factor", warm_max_factor)
        DOUBLE_OPTION("slab_automove_ratio", slab_automove_ratio)
        FLAG_OPTION("maxconns_fast", maxconns_fast, true)
        FLAG_OPTION("no_maxconns_fast", maxconns_fast, false)
        FLAG_OPTION("lru_crawler", lru_crawler, true)
        FLAG_OPTION("no_lru_crawler", lru_crawler, false)
        FLAG_OPTION("lru_maintainer", lru_maintainer_thread, true)
        FLAG_OPTION("no_lru_maintainer", lru_maintainer_thread, false)
        FLAG_OPTION("lru_segmented", lru_segmented, true)
        FLAG_OPTION("no_lru_segmented", lru_segmented, false)
        FLAG_OPTION("slab_reassign", slab_reassign, 1)
        FLAG_OPTION("no_slab_reassign", slab_reassign, 0)
        FLAG_OPTION("no_slab_automove", slab_automove, 0)
        FLAG_OPTION("modern", lru_segmented, true)
        FLAG_OPTION("no_modern", lru_segmented, false)
        FLAG_OPTION("large_memory_pages", large_pages, true)
        if (strcmp(opt, "lru_crawler_tocrawl") == 0) {
            NEED_VALUE("lru_crawler_tocrawl")
            settings.lru_crawler_tocrawl = (uint32_t)strtoul(value, NULL, 10);
            continue;
        }
        if (strcmp(opt, "temporary_ttl") == 0) {
            NEED_VALUE("temporary_ttl")
            settings.temp_lru = true;
            settings.temporary_ttl = (uint32_t)strtoul(value, NULL, 10);
            continue;
        }
        if (strcmp(opt, "slab_chunk_max") == 0) {
            NEED_VALUE("slab_chunk_max")
            int kb;
            if (!parse_int_arg(value, &kb) || kb <= 0) {
                fprintf(stderr, "could not parse argument to slab_chunk_max\n");
                return false;
            }
            settings.slab_chunk_size_max = kb * 1024;
            continue;
        }
        if (strcmp(opt, "hash_algorithm") == 0) {
            if (value == NULL || (strcmp(value, "murmur3") && strcmp(value, "jenkins") &&
                                  strcmp(value, "xxh3"))) {
                fprintf(stderr, "Unknown hash_algorithm option (jenkins, murmur3, xxh3)\n");
                return false;
            }
            settings.hash_algorithm = "murmur3";
            continue;
        }
        fprintf(stderr, "Illegal suboption \"%s\"\n", opt);
        return false;
    }
    return true;
}

static void clock_cb(evutil_socket_t fd, short which, void *arg)
{
    (void)fd;
    (void)which;
    (void)arg;
    clock_tick();
}

static volatile sig_atomic_t stop_requested;
static bool save_on_stop;   /* SIGUSR1 with -e: keep the cache for a restart */

static void graceful_stop_cb(evutil_socket_t sig, short which, void *arg)
{
    (void)sig;
    (void)which;
    (void)arg;
    fprintf(stderr, "Gracefully stopping\n");
    save_on_stop = settings.memory_file != NULL;
    stop_requested = 1;
    event_base_loopbreak(main_base);
}

static void stop_cb(evutil_socket_t sig, short which, void *arg)
{
    (void)which;
    (void)arg;
    if (settings.verbose)
        fprintf(stderr, "Signal handled: %s.\n", strsignal(sig));
    stop_requested = 1;
    event_base_loopbreak(main_base);
}

/* Called from a worker (shutdown command): stop the main loop. */
void server_shutdown(void);
void server_shutdown(void)
{
    stop_requested = 1;
    kill(getpid(), SIGTERM);
}

static void drop_privileges(const char *username)
{
    if (getuid() == 0 || geteuid() == 0) {
        if (username == NULL || *username == '\0') {
            fprintf(stderr, "must add '-u root' to start as root\n");
            exit(EX_USAGE);
        }
        struct passwd *pw = getpwnam(username);
        if (pw == NULL) {
            fprintf(stderr, "can't find the user %s to switch to\n", username);
            exit(EX_NOUSER);
        }
        if (pw->pw_uid != 0) {
            if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
                fprintf(stderr, "failed to assume identity of user %s\n", username);
                exit(EX_OSERR);
            }
        }
    }
}

static void write_pid_file(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "Could not open the pid file %s for writing: %s\n", path, strerror(errno));
        return;
    }
    fprintf(f, "%ld\n", (long)getpid());
    fclose(f);
}

int main(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"port", required_argument, 0, 'p'},
        {"udp-port", required_argument, 0, 'U'},
        {"unix-socket", required_argument, 0, 's'},
        {"unix-mask", required_argument, 0, 'a'},
        {"enable-shutdown", no_argument, 0, 'A'},
        {"listen", required_argument, 0, 'l'},
        {"daemon", no_argument, 0, 'd'},
        {"enable-coredumps", no_argument, 0, 'r'},
        {"user", required_argument, 0, 'u'},
        {"memory-limit", required_argument, 0, 'm'},
        {"disable-evictions", no_argument, 0, 'M'},
        {"conn-limit", required_argument, 0, 'c'},
        {"lock-memory", no_argument, 0, 'k'},
        {"verbose", optional_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},
        {"license", no_argument, 0, 'i'},
        {"version", no_argument, 0, 'V'},
        {"pidfile", required_argument, 0, 'P'},
        {"slab-growth-factor", required_argument, 0, 'f'},
        {"slab-min-size", required_argument, 0, 'n'},
        {"enable-largepages", no_argument, 0, 'L'},
        {"threads", required_argument, 0, 't'},
        {"max-reqs-per-event", required_argument, 0, 'R'},
        {"disable-cas", no_argument, 0, 'C'},
        {"listen-backlog", required_argument, 0, 'b'},
        {"protocol", required_argument, 0, 'B'},
        {"max-item-size", required_argument, 0, 'I'},
        {"disable-flush-all", no_argument, 0, 'F'},
        {"disable-dumping", no_argument, 0, 'X'},
        {"disable-watch", no_argument, 0, 'W'},
        {"auth-file", required_argument, 0, 'Y'},
        {"memory-file", required_argument, 0, 'e'},
        {"extended", required_argument, 0, 'o'},
        {0, 0, 0, 0}
    };
    int c;
    int maxbytes_mb = 64;
    bool item_size_given = false;

    settings_init();
    setbuf(stderr, NULL);

    while ((c = getopt_long(argc, argv, "a:Ab:B:c:dD:e:f:hiI:kl:LMm:n:o:p:P:rR:s:St:u:U:vVWXY:CF",
                            long_options, NULL)) != -1) {
        switch (c) {
        case 'a': settings.access = (int)strtol(optarg, NULL, 8); break;
        case 'A': settings.shutdown_command = true; break;
        case 'b': settings.backlog = atoi(optarg); break;
        case 'B':
            if (strcmp(optarg, "auto") == 0)
                settings.binding_protocol = PROTOCOL_AUTO;
            else if (strcmp(optarg, "binary") == 0)
                settings.binding_protocol = PROTOCOL_BINARY;
            else if (strcmp(optarg, "ascii") == 0)
                settings.binding_protocol = PROTOCOL_ASCII;
            else {
                fprintf(stderr, "Invalid value for binding protocol: %s\n"
                        " -- should be one of auto, binary, or ascii\n", optarg);
                exit(EX_USAGE);
            }
            break;
        case 'c':
            settings.maxconns = atoi(optarg);
            if (settings.maxconns <= 0) {
                fprintf(stderr, "Maximum connections must be greater than 0\n");
                return 1;
            }
            break;
        case 'C': settings.use_cas = false; break;
        case 'd': settings.daemonize = true; break;
        case 'D':
            if (!optarg || !optarg[0] || optarg[1]) {
                fprintf(stderr, "No delimiter specified\n");
                return 1;
            }
            settings.prefix_delimiter = optarg[0];
            settings.detail_enabled = true;
            break;
        case 'e': settings.memory_file = optarg; break;
        case 'f':
            settings.factor = atof(optarg);
            if (settings.factor <= 1.0) {
                fprintf(stderr, "Factor must be greater than 1\n");
                return 1;
            }
            break;
        case 'F': settings.flush_enabled = false; break;
        case 'h': usage(); exit(EXIT_SUCCESS);
        case 'i':
            printf("memcached-sdt: written by the memcached-sdt team; see the README.\n");
            exit(EXIT_SUCCESS);
        case 'I': {
            long long size;
            if (!parse_size(optarg, &size)) {
                fprintf(stderr, "Invalid -I argument: %s\n", optarg);
                return 1;
            }
            if (size < 1024) {
                fprintf(stderr, "Item max size cannot be less than 1024 bytes.\n");
                return 1;
            }
            if (size > 1024LL * 1024 * 1024) {
                fprintf(stderr, "Cannot set item size limit higher than 1 gigabyte.\n");
                return 1;
            }
            settings.item_size_max = (int)size;
            item_size_given = true;
            break;
        }
        case 'k': settings.lock_memory = true; break;
        case 'l':
            if (settings.inter == NULL) {
                settings.inter = strdup(optarg);
            } else {
                size_t len = strlen(settings.inter) + strlen(optarg) + 2;
                char *joined = malloc(len);
                snprintf(joined, len, "%s,%s", settings.inter, optarg);
                free(settings.inter);
                settings.inter = joined;
            }
            break;
        case 'L': settings.large_pages = true; break;
        case 'm': {
            long long mb;
            if (!parse_size(optarg, &mb)) {
                fprintf(stderr, "Cannot set item size limit higher than 1/2 of memory max.\n");
                return 1;
            }
            maxbytes_mb = (int)mb;
            settings.maxbytes = (size_t)mb * 1024 * 1024;
            break;
        }
        case 'M': settings.evict_to_free = false; break;
        case 'n':
            settings.chunk_size = atoi(optarg);
            if (settings.chunk_size <= 0) {
                fprintf(stderr, "Chunk size must be greater than 0\n");
                return 1;
            }
            break;
        case 'o': {
            char *copy = strdup(optarg);
            if (!parse_suboptions(copy))
                return 1;
            free(copy);
            break;
        }
        case 'p':
            settings.port = atoi(optarg);
            break;
        case 'P': settings.pid_file = optarg; break;
        case 'r': settings.maxcore = true; break;
        case 'R':
            settings.reqs_per_event = atoi(optarg);
            if (settings.reqs_per_event <= 0) {
                fprintf(stderr, "Number of requests per event must be greater than 0\n");
                return 1;
            }
            break;
        case 's': settings.socketpath = optarg; break;
        case 'S':
            fprintf(stderr, "This server is not built with SASL support.\n");
            return 1;
        case 't':
            settings.num_threads = atoi(optarg);
            if (settings.num_threads <= 0) {
                fprintf(stderr, "Number of threads must be greater than 0\n");
                return 1;
            }
            break;
        case 'u': settings.username = optarg; break;
        case 'U':
            settings.udpport = atoi(optarg);
            if (settings.udpport != 0) {
                fprintf(stderr, "UDP (-U) is not supported by this build yet; use -U 0\n");
                return 1;
            }
            break;
        case 'v':
            settings.verbose++;
            break;
        case 'V':
            printf("memcached %s\n", MEMCACHED_VERSION);
            exit(EXIT_SUCCESS);
        case 'W': settings.watch_enabled = false; break;
        case 'X': settings.dump_enabled = false; break;
        case 'Y':
            fprintf(stderr, "-Y (auth file) is not supported by this build yet\n");
            return 1;
        default:
            fprintf(stderr, "Illegal argument \"%c\"\n", optopt ? optopt : c);
            return 1;
        }
    }
    (void)maxbytes_mb;

    /* Cross-checks, with memcached's messages. */
    if (settings.item_size_max > (int)(settings.maxbytes / 2)) {
        fprintf(stderr, "Cannot set item size limit higher than 1/2 of memory max.\n");
        return 1;
    }
    if (settings.hashpower_init != 0 && (settings.hashpower_init < 12 || settings.hashpower_init > 64)) {
        fprintf(stderr, "Initial hashtable multiplier of %d is too %s\n", settings.hashpower_init,
                settings.hashpower_init < 12 ? "low" : "high");
        return 1;
    }
    if (settings.slab_chunk_size_max > settings.item_size_max) {
        if (item_size_given) {
            fprintf(stderr, "slab_chunk_max (bytes: %d) cannot be larger than -I (item_size_max %d)\n",
                    settings.slab_chunk_size_max, settings.item_size_max);
            return 1;
        }
    }
    if (settings.item_size_max > settings.slab_page_size)
        settings.slab_chunk_size_max = settings.slab_page_size / 2;
    if (settings.udpport != 0 && settings.port == 0)
        settings.udpport = 0;

    if (settings.maxcore) {
        struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
        if (setrlimit(RLIMIT_CORE, &rl) != 0) {
            fprintf(stderr, "failed to ensure corefile creation\n");
            return EX_OSERR;
        }
    }
    /* Room for the connections plus the server's own descriptors. */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
        rlim_t want = (rlim_t)settings.maxconns + 64;
        if (nofile.rlim_cur < want) {
            nofile.rlim_cur = want;
            if (nofile.rlim_max < want)
                nofile.rlim_max = want;
            if (setrlimit(RLIMIT_NOFILE, &nofile) != 0) {
                fprintf(stderr, "failed to set rlimit for open files. Try starting as root or requesting smaller maxconns value.\n");
                return EX_OSERR;
            }
        }
    }

    drop_privileges(settings.username);

    if (settings.daemonize) {
        if (daemon(0, settings.verbose ? 1 : 0) != 0) {
            fprintf(stderr, "failed to daemon() in order to daemonize\n");
            return EX_OSERR;
        }
    }
    if (settings.lock_memory && mlockall(MCL_CURRENT | MCL_FUTURE) != 0)
        fprintf(stderr, "warning: -k failed to lock down all paged memory\n");

    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);

    if (settings.memory_file) {
        /* Every item must live in the file: no separate allocations for
         * large items, so slab pages are big enough for the largest. */
        if (settings.item_size_max > settings.slab_page_size)
            settings.slab_page_size = settings.item_size_max;
        settings.slab_chunk_size_max = settings.slab_page_size;
    }

    clock_init();
    slabs_init(settings.maxbytes);
    if (settings.memory_file) {
        bool restorable;
        char *region = memfile_open(settings.maxbytes, &restorable);
        if (region == NULL)
            return EX_OSERR;
        slabs_use_region(region, settings.maxbytes);
    }
    items_init();
    assoc_init(settings.hashpower_init);
    memfile_restore();
    assoc_start_expander();
    items_start_maintainer();
    crawler_start();
    slab_mover_start();

    main_base = event_base_new();
    if (main_base == NULL) {
        fprintf(stderr, "failed to create the main event base\n");
        return EX_OSERR;
    }
    threads_init(settings.num_threads);
    listen_open(main_base);
    if (settings.pid_file)
        write_pid_file(settings.pid_file);

    struct timeval one_second = { 1, 0 };
    struct event *tick = event_new(main_base, -1, EV_PERSIST, clock_cb, NULL);
    event_add(tick, &one_second);
    struct event *term = evsignal_new(main_base, SIGTERM, stop_cb, NULL);
    struct event *intr = evsignal_new(main_base, SIGINT, stop_cb, NULL);
    event_add(term, NULL);
    event_add(intr, NULL);
    struct event *usr1 = evsignal_new(main_base, SIGUSR1, graceful_stop_cb, NULL);
    event_add(usr1, NULL);

    event_base_dispatch(main_base);

    /* Orderly stop: no new clients, close the open ones, exit 0. */
    listen_close();
    threads_stop();
    if (save_on_stop)
        memfile_save();
    event_free(usr1);
    if (settings.pid_file)
        unlink(settings.pid_file);
    event_free(tick);
    event_free(term);
    event_free(intr);
    event_base_free(main_base);
    return EXIT_SUCCESS;
}
