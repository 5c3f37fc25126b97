/* main.c: command-line parsing (memcached's flags and -o suboptions),
 * start-up checks, the main thread's event loop (listeners and the clock
 * tick) and orderly shutdown on SIGTERM/SIGINT or the shutdown command. */
#include "config.h"
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
#include "authfile.h"
#include "clock.h"
#include "conn.h"
#include "crawler.h"
#include "items.h"
#include "listen.h"
#include "memfile.h"
#include "metrics.h"
#include "options.h"
#include "portfile.h"
#include "probes.h"
#include "proto_binary.h"
#include "proto_text.h"
#include "settings.h"
#include "slab_mover.h"
#include "slabs.h"
#include "sandbox.h"
#include "sasl.h"
#include "thread.h"
#include "tls.h"
#include "usage.h"

static struct event_base *main_base;

static void clock_cb(evutil_socket_t fd, short which, void *arg)
{
    (void)fd;
    (void)which;
    (void)arg;
    clock_tick();
}

static bool save_on_stop;   /* SIGUSR1 with -e: keep the cache for a restart */

static void graceful_stop_cb(evutil_socket_t sig, short which, void *arg)
{
    (void)sig;
    (void)which;
    (void)arg;
    fprintf(stderr, "Gracefully stopping\n");
    save_on_stop = settings.memory_file != NULL;
    event_base_loopbreak(main_base);
}

/* SIGHUP with -Y: reload the password file; on failure the old one stays.
 * With -Z: reload the TLS certificates too (as refresh_certs does). */
static void reload_auth_cb(evutil_socket_t sig, short which, void *arg)
{
    (void)sig;
    (void)which;
    (void)arg;
    if (tls_enabled()) {
        char err[1024];
        if (!tls_refresh_certs(err, sizeof(err)))
            fprintf(stderr, "Could not reload TLS certificates on SIGHUP: %s\n", err);
    }
    if (settings.auth_file == NULL)
        return;
    enum authfile_result r = authfile_load(settings.auth_file);
    if (r != AUTHFILE_OK) {
        int err = errno;
        fprintf(stderr, "SIGHUP: keeping the previous password file: ");
        authfile_print_error(r, settings.auth_file, err);
        if (r == AUTHFILE_NO_MEMORY || r == AUTHFILE_MALFORMED)
            fputc('\n', stderr);
    } else if (settings.verbose) {
        fprintf(stderr, "SIGHUP: reloaded %s\n", settings.auth_file);
    }
}

static void stop_cb(evutil_socket_t sig, short which, void *arg)
{
    (void)which;
    (void)arg;
    (void)sig;
    if (settings.verbose)
        fprintf(stderr, "Exiting normally\n");  /* memcached's words */
    event_base_loopbreak(main_base);
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

/* A start-up step's result that means "go on"; any other is the exit status. */
#define GO_ON (-1)

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
    {"enable-ssl", no_argument, 0, 'Z'},
    {"enable-sasl", no_argument, 0, 'S'},
    {"napi-ids", required_argument, 0, 'N'},
    {0, 0, 0, 0}
};
static const char short_options[] = "a:Ab:B:c:dD:e:f:hiI:kl:LMm:n:N:o:p:P:rR:s:St:u:U:vVWXY:ZCF";

/* Flags that only store their argument or switch a setting. Returns false
 * for any other flag. */
static bool parse_plain_flag(int c, char *arg)
{
    switch (c) {
    case 'a': settings.access = (int)strtol(arg, NULL, 8); break;
    case 'A': settings.shutdown_command = true; break;
    case 'b': settings.backlog = atoi(arg); break;
    case 'C': settings.use_cas = false; break;
    case 'd': settings.daemonize = true; break;
    case 'e': settings.memory_file = arg; break;
    case 'F': settings.flush_enabled = false; break;
    case 'k': settings.lock_memory = true; break;
    case 'L': settings.large_pages = true; break;
    /* Megabytes, as memcached reads them (atoi: "-m 1g" is 1 MB). */
    case 'm': settings.maxbytes = (size_t)atoi(arg) * 1024 * 1024; break;
    case 'M': settings.evict_to_free = false; break;
    case 'p': settings.port = atoi(arg); break;
    case 'P': settings.pid_file = arg; break;
    case 'r': settings.maxcore = true; break;
    case 's': settings.socketpath = arg; break;
    case 'u': settings.username = arg; break;
    case 'U': settings.udpport = atoi(arg); break;
    case 'v': settings.verbose++; break;
    case 'W': settings.watch_enabled = false; break;
    case 'X': settings.dump_enabled = false; break;
    case 'Y': settings.auth_file = strdup(arg); break;
    default: return false;
    }
    return true;
}

/* Flags whose number must be above 0, with memcached's complaint. */
static const struct positive_flag {
    int flag;
    int *value;
    const char *complaint;
} positive_flags[] = {
    { 'c', &settings.maxconns, "Maximum connections must be greater than 0\n" },
    { 'n', &settings.chunk_size, "Chunk size must be greater than 0\n" },
    { 'N', &settings.num_napi_ids, "Maximum number of NAPI IDs must be greater than 0\n" },
    { 'R', &settings.reqs_per_event, "Number of requests per event must be greater than 0\n" },
    { 't', &settings.num_threads, "Number of threads must be greater than 0\n" },
};

/* Stores a positive_flags flag. Returns GO_ON, 1 after the complaint, or 0
 * when c is not one of them. */
static int parse_positive_flag(int c, const char *arg)
{
    for (size_t i = 0; i < sizeof(positive_flags) / sizeof(positive_flags[0]); i++) {
        if (positive_flags[i].flag != c)
            continue;
        *positive_flags[i].value = atoi(arg);
        if (*positive_flags[i].value <= 0) {
            fprintf(stderr, "%s", positive_flags[i].complaint);
            return 1;
        }
        if (c == 't' && settings.num_threads > 64)
            fprintf(stderr, "WARNING: Setting a high number of worker"
                    "threads is not recommended.\n"
                    " Set this value to the number of cores in"
                    " your machine or less.\n");
        return GO_ON;
    }
    return 0;
}

/* -B: memcached's three protocol names. */
static int parse_protocol(const char *arg)
{
    if (strcmp(arg, "auto") == 0)
        settings.binding_protocol = PROTOCOL_AUTO;
    else if (strcmp(arg, "binary") == 0)
        settings.binding_protocol = PROTOCOL_BINARY;
    else if (strcmp(arg, "ascii") == 0)
        settings.binding_protocol = PROTOCOL_ASCII;
    else {
        fprintf(stderr, "Invalid value for binding protocol: %s\n"
                " -- should be one of auto, binary, or ascii\n", arg);
        exit(EX_USAGE);
    }
    return GO_ON;
}

/* -I: memcached reads a number with an optional k or m (no g): "-I 1g" is
 * 1 byte. Checked with the other flags by options_check(). */
static void parse_item_size(const char *arg)
{
    size_t len = strlen(arg);
    char unit = len ? arg[len - 1] : '\0';
    long long size = atoi(arg);
    if (unit == 'k' || unit == 'K')
        size *= 1024;
    else if (unit == 'm' || unit == 'M')
        size *= 1024 * 1024;
    settings.item_size_max = size > INT32_MAX ? INT32_MAX : (int)size;
}

/* -l: addresses add up, comma-separated; one already given is ignored. */
static void add_listen_address(const char *arg)
{
    if (settings.inter == NULL) {
        settings.inter = strdup(arg);
    } else if (strstr(settings.inter, arg) == NULL) {
        size_t len = strlen(settings.inter) + strlen(arg) + 2;
        char *joined = malloc(len);
        snprintf(joined, len, "%s,%s", settings.inter, arg);
        free(settings.inter);
        settings.inter = joined;
    }
}

/* One flag of the command line. Returns GO_ON or the exit status after
 * memcached's message; -h, -i and -V exit here. */
static int parse_flag(int c, char *arg, struct option_facts *facts)
{
    if (parse_plain_flag(c, arg))
        return GO_ON;
    int status = parse_positive_flag(c, arg);
    if (status != 0)
        return status;
    switch (c) {
    case 'B':
        facts->protocol_given = true;
        return parse_protocol(arg);
    case 'D':
        if (!arg || !arg[0]) {        /* the first character is used */
            fprintf(stderr, "No delimiter specified\n");
            return 1;
        }
        settings.prefix_delimiter = arg[0];
        settings.detail_enabled = true;
        return GO_ON;
    case 'f':
        settings.factor = atof(arg);
        if (settings.factor <= 1.0) {
            fprintf(stderr, "Factor must be greater than 1\n");
            return 1;
        }
        return GO_ON;
    case 'h': usage(); exit(EXIT_SUCCESS);
    case 'i':
        printf("memcached-sdt: written by the memcached-sdt team; see the README.\n");
        exit(EXIT_SUCCESS);
    case 'I': parse_item_size(arg); return GO_ON;
    case 'l': add_listen_address(arg); return GO_ON;
    case 'o': return options_parse_extended(arg) ? GO_ON : 1;
    case 'S':
        if (!sasl_enable()) {
            fprintf(stderr, "This server is not built with SASL support.\n");
            return EX_USAGE;
        }
        return GO_ON;
    case 'V':
        printf("memcached %s\n", MEMCACHED_VERSION);
        exit(EXIT_SUCCESS);
    case 'Z':
        if (!tls_enable()) {
            fprintf(stderr, "This server is not built with TLS support.\n");
            return EX_USAGE;
        }
        return GO_ON;
    default:
        /* getopt has named the flag; memcached then prints '?'. */
        fprintf(stderr, "Illegal argument \"%c\"\n", c);
        return 1;
    }
}

/* The whole command line, flag by flag, stopping at the first bad one. */
static int parse_flags(int argc, char **argv, struct option_facts *facts)
{
    int c;
    while ((c = getopt_long(argc, argv, short_options, long_options, NULL)) != -1) {
        while (optarg && (*optarg == ' ' || (*optarg >= '\t' && *optarg <= '\r')))
            optarg++;       /* memcached skips leading blanks of every argument */
        int status = parse_flag(c, optarg, facts);
        if (status != GO_ON)
            return status;
    }
    return GO_ON;
}

/* Cross-checks, with memcached's messages; SASL and TLS set up (as
 * memcached: certificates are read before privileges drop). */
static int check_settings(const struct option_facts *facts)
{
    int status = options_check(facts);
    if (status != 0)
        return status;
    if (sasl_enabled())
        sasl_init();
    if (tls_enabled()) {
        if (settings.port == 0) {
            fprintf(stderr, "ERROR: You cannot enable SSL without a TCP port.\n");
            return EX_USAGE;
        }
        tls_init();
    }
    return GO_ON;
}

/* Core files with -r; room for the connections plus the server's own
 * descriptors. */
static int set_process_limits(void)
{
    if (settings.maxcore) {
        struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
        if (setrlimit(RLIMIT_CORE, &rl) != 0) {
            fprintf(stderr, "failed to ensure corefile creation\n");
            return EX_OSERR;
        }
    }
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
    return GO_ON;
}

/* Drops root, daemonizes (-d), locks memory (-k), sets the signals to
 * ignore and reads the password file (-Y). */
static int become_server(void)
{
    drop_privileges(settings.username);
    if (settings.daemonize) {
        /* As memcached: stay in the directory with -r (for the core). */
        if (daemon(settings.maxcore ? 1 : 0, settings.verbose ? 1 : 0) != 0) {
            fprintf(stderr, "failed to daemon() in order to daemonize\n");
            return EX_OSERR;
        }
    }
    if (settings.lock_memory && mlockall(MCL_CURRENT | MCL_FUTURE) != 0)
        fprintf(stderr, "warning: -k failed to lock down all paged memory\n");

    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);    /* with -Y, an event set in serve() reloads the file */

    if (settings.auth_file) {
        enum authfile_result r = authfile_load(settings.auth_file);
        if (r != AUTHFILE_OK) {
            authfile_print_error(r, settings.auth_file, errno);
            return EXIT_FAILURE;
        }
    }
    return GO_ON;
}

/* Item memory (from the memory file with -e), the item locks and LRUs,
 * the hash table (at the power a restored cache had), the restored items,
 * and the threads that look after them. */
static int set_up_storage(void)
{
    clock_init();
    slabs_init(settings.maxbytes);
    bool restorable = false;
    if (settings.memory_file) {
        char *region = memfile_open(settings.maxbytes, &restorable);
        if (region == NULL)
            return EX_OSERR;
        slabs_use_region(region, settings.maxbytes);
    }
    items_init();
    if (settings.hashpower_init != 0 && (unsigned)settings.hashpower_init <= item_lock_power()) {
        fprintf(stderr, "Hash table power size (%d) cannot be equal to or less than item lock table (%u)\n",
                settings.hashpower_init, item_lock_power());
        return 1;
    }
    int power = settings.hashpower_init;
    int saved = (int)memfile_saved_hashpower();
    if (saved > (int)item_lock_power() && (power == 0 || saved > power))
        power = saved;
    assoc_init(power);
    memfile_restore();
    /* -L, or a fresh memory file: every class gets its first page now
     * (memcached refuses to start when -m has no room for that). */
    if ((settings.large_pages && !settings.memory_file) || (settings.memory_file && !restorable)) {
        if (!slabs_preallocate()) {
            fprintf(stderr, "Error while preallocating slab memory!\n"
                    "If using -L or other prealloc options, max memory must be at least %u megabytes.\n",
                    slabs_class_count());
            return 1;
        }
    }
    if (settings.memory_file)       /* the rest of the file: the global page pool */
        slabs_region_prefill(restorable);
    if (settings.hash_expand)   /* -o no_hashexpand: never grow */
        assoc_start_expander();
    items_start_maintainer();
    crawler_start();
    if (settings.slab_reassign)     /* -o no_slab_reassign: pages never move */
        slab_mover_start();
    return GO_ON;
}

/* The main event base, the workers, the listeners, the port and pid files. */
static int open_listeners(void)
{
    main_base = event_base_new();
    if (main_base == NULL) {
        fprintf(stderr, "failed to create the main event base\n");
        return EX_OSERR;
    }
    conn_register_protocol(PROTO_ASCII, &proto_text_protocol);
    conn_register_protocol(PROTO_BINARY, &proto_binary_protocol);
    threads_init(settings.num_threads);
    if (settings.socketpath == NULL)
        portfile_begin();       /* MEMCACHED_PORT_FILENAME */
    listen_open(main_base);
    if (metrics_configured() && !metrics_start())   /* -o metrics_listen */
        return EX_OSERR;
    portfile_finish();
    if (settings.pid_file)
        write_pid_file(settings.pid_file);
    return GO_ON;
}

/* The main loop's events: the clock tick and the signals. */
struct main_events {
    struct event *tick, *term, *intr, *usr1;
    struct event *hup;      /* NULL without -Y and TLS */
};

static void add_main_events(struct main_events *ev)
{
    static struct timeval one_second = { 1, 0 };
    ev->tick = event_new(main_base, -1, EV_PERSIST, clock_cb, NULL);
    event_add(ev->tick, &one_second);
    ev->term = evsignal_new(main_base, SIGTERM, stop_cb, NULL);
    ev->intr = evsignal_new(main_base, SIGINT, stop_cb, NULL);
    event_add(ev->term, NULL);
    event_add(ev->intr, NULL);
    ev->usr1 = evsignal_new(main_base, SIGUSR1, graceful_stop_cb, NULL);
    event_add(ev->usr1, NULL);
    ev->hup = NULL;
    if (settings.auth_file || tls_enabled()) {   /* SIGHUP reloads the file, certificates */
        ev->hup = evsignal_new(main_base, SIGHUP, reload_auth_cb, NULL);
        event_add(ev->hup, NULL);
    }
}

/* Orderly stop: no new clients, close the open ones, save the cache when
 * SIGUSR1 asked for it. */
static void shut_down(struct main_events *ev)
{
    listen_close();
    threads_stop();
    if (save_on_stop)
        memfile_save();
    event_free(ev->usr1);
    if (ev->hup)
        event_free(ev->hup);
    if (settings.pid_file && settings.daemonize)
        unlink(settings.pid_file);  /* memcached leaves it without -d */
    event_free(ev->tick);
    event_free(ev->term);
    event_free(ev->intr);
    event_base_free(main_base);
}

/* Serves until a stop signal or the shutdown command, then stops; exits 0. */
static int serve(void)
{
    struct main_events ev;
    add_main_events(&ev);
    if (settings.drop_privileges)
        sandbox_enter();    /* -o drop_privileges: from here on, serving calls only */
    event_base_dispatch(main_base);
    shut_down(&ev);
    return EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
    struct option_facts facts = { .protocol_given = false };

    settings_init();
    setbuf(stderr, NULL);
    int status = parse_flags(argc, argv, &facts);
    if (status == GO_ON)
        status = check_settings(&facts);
    if (status == GO_ON)
        status = set_process_limits();
    if (status == GO_ON)
        status = become_server();
    if (status == GO_ON)
        status = set_up_storage();
    if (status == GO_ON)
        status = open_listeners();
    if (status == GO_ON)
        status = serve();
    return status;
}
