/* listen.c: listening sockets (TCP on each -l address, or the -s UNIX
 * socket), the UDP sockets handed to the workers, and accepting clients.
 * Accepted sockets are made non-blocking and handed to a worker. At the -c
 * limit, as memcached does: by default they are told "ERROR Too many open
 * connections" and closed; with -o no_maxconns_fast accepting pauses until
 * a client leaves. Main thread only, except listen_info(). */
#include "config.h"
#include "listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sysexits.h>
#include <unistd.h>

#include "conn.h"
#include "listener.h"
#include "portfile.h"
#include "probes.h"
#include "settings.h"
#include "counters.h"
#include "thread.h"
#include "tls.h"
#include "util.h"

#define MAX_LISTENERS 32
#define ADDR_TEXT LISTENER_ADDR_TEXT
#define RESUME_POLL_USEC 10000      /* paused accepts: check every 10 ms */

/* A listening socket and what its connections are told of it. */
struct listen_socket {
    int fd;
    struct event *event;
    rel_time_t opened;
    struct listener desc;           /* handed to every connection accepted */
};
static struct listen_socket listeners[MAX_LISTENERS];
static _Atomic int nlisteners;    /* stats conns (a worker) reads it while shutdown clears it */

/* UDP sockets: each served by a worker; their descriptions must outlive it. */
static struct listener udp_listeners[MAX_LISTENERS];
static int nudp_addrs;
static int next_udp_worker;

/* Accepting is paused (no_maxconns_fast at the limit, or out of fds). */
static struct event *resume_timer;
static bool paused;
static struct timeval paused_since;
static int resume_below;            /* resume once fewer clients than this */

#define FD_RETRY_POLLS 100          /* out of fds: retry anyway after 1 s */

/* "tcp:1.2.3.4:5" / "tcp6:[::1]:5" for a socket's own address. */
static void format_local(int fd, const char *proto, char *out, size_t outlen)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char host[INET6_ADDRSTRLEN] = "?";
    memset(&ss, 0, sizeof(ss));
    getsockname(fd, (struct sockaddr *)&ss, &len);
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const void *)&ss;
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
        snprintf(out, outlen, "%s6:[%s]:%d", proto, host, ntohs(sin6->sin6_port));
    } else {
        const struct sockaddr_in *sin = (const void *)&ss;
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
        snprintf(out, outlen, "%s:%s:%d", proto, host, ntohs(sin->sin_port));
    }
}

/* A listening or UDP socket counts as a connection in memcached's stats. */
static void count_server_socket(void)
{
    uint64_t curr = atomic_fetch_add(&global_stats.curr_conns, 1) + 1;
    atomic_fetch_add(&global_stats.total_conns, 1);
    if (curr > atomic_load(&global_stats.conn_structs))
        atomic_store(&global_stats.conn_structs, curr);
}

static void format_peer(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const void *)ss;
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
        port = ntohs(sin->sin_port);
        snprintf(out, outlen, "%s:%d", host, port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const void *)ss;
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
        port = ntohs(sin6->sin6_port);
        snprintf(out, outlen, "[%s]:%d", host, port);
    } else {
        snprintf(out, outlen, "%s", settings.socketpath ? settings.socketpath : "unix");
    }
}

static void resume_cb(evutil_socket_t fd, short which, void *arg);

/* Stops accepting until fewer than resume_at clients are connected
 * (resume_cb polls). */
static void accept_pause(int resume_at)
{
    if (paused)
        return;
    paused = true;
    resume_below = resume_at;
    for (int i = 0; i < nlisteners; i++)
        event_del(listeners[i].event);
    atomic_store(&global_stats.accepting_conns, 0);
    atomic_fetch_add(&global_stats.listen_disabled_num, 1);
    gettimeofday(&paused_since, NULL);
    probe_conn_limit(conn_count(), settings.maxconns);
    struct timeval poll = { 0, RESUME_POLL_USEC };
    evtimer_add(resume_timer, &poll);
}

static void resume_cb(evutil_socket_t fd, short which, void *arg)
{
    (void)fd;
    (void)which;
    (void)arg;
    static int polls;
    if (!paused)
        return;
    /* Out of descriptors (resume_below is the count then): wait for a
     * client to leave, or retry after a second, as memcached waits for
     * one to leave. */
    bool fd_pause = resume_below < settings.maxconns;
    if (conn_count() >= resume_below && !(fd_pause && ++polls >= FD_RETRY_POLLS)) {
        struct timeval poll = { 0, RESUME_POLL_USEC };
        evtimer_add(resume_timer, &poll);
        return;
    }
    polls = 0;
    struct timeval now;
    gettimeofday(&now, NULL);
    int64_t us = (int64_t)(now.tv_sec - paused_since.tv_sec) * 1000000 +
                 (now.tv_usec - paused_since.tv_usec);
    atomic_fetch_add(&global_stats.time_in_listen_disabled_us, (uint64_t)(us > 0 ? us : 0));
    paused = false;
    atomic_store(&global_stats.accepting_conns, 1);
    for (int i = 0; i < nlisteners; i++)
        event_add(listeners[i].event, NULL);
}

/* maxconns_fast: the client over the limit is told so and closed. */
static void reject_client(int fd, const struct listen_socket *l, const struct sockaddr_storage *ss)
{
    static const char msg[] = "ERROR Too many open connections\r\n";
    probe_conn_limit(conn_count(), settings.maxconns);
    if (probe_conn_open_enabled()) {
        char peer[64];
        format_peer(ss, peer, sizeof(peer));
        probe_conn_open(fd, transport_name(l->desc.transport), peer);
    }
    ssize_t ignored = write(fd, msg, sizeof(msg) - 1);
    (void)ignored;
    probe_conn_close(fd, "limit");
    close(fd);
    atomic_fetch_add(&global_stats.rejected_conns, 1);
}

static void accept_cb(evutil_socket_t lfd, short which, void *arg)
{
    struct listen_socket *l = arg;
    (void)which;
    for (int i = 0; i < 64; i++) {
        if (!settings.maxconns_fast && conn_count() >= settings.maxconns) {
            /* At the limit. Woken for a waiting client: leave it in the
             * backlog and stop accepting until one goes. After accepting
             * some: stop here; if more wait, the next wake-up pauses. */
            if (i == 0)
                accept_pause(settings.maxconns);
            return;
        }
        struct sockaddr_storage ss;
        socklen_t sslen = sizeof(ss);
        memset(&ss, 0, sizeof(ss));
        int fd = accept4(lfd, (struct sockaddr *)&ss, &sslen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                perror("accept4()");
                accept_pause(conn_count() < settings.maxconns ? conn_count() : settings.maxconns);
            } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                       errno != ECONNABORTED && settings.verbose > 0) {
                perror("accept()");
            }
            return;
        }
        if (conn_count() >= settings.maxconns) {
            reject_client(fd, l, &ss);
            continue;
        }
        int one = 1;
        if (ss.ss_family != AF_UNIX)
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        char peer[64];
        format_peer(&ss, peer, sizeof(peer));
        conn_count_add();
        thread_dispatch(fd, &l->desc, peer);
    }
}

/* The protocol a listener's clients speak: its proto[...] prefix (a
 * PROTOCOL_* of settings.h, -1 for none), else -B's. */
static enum conn_protocol protocol_of(int prefix)
{
    int binding = prefix >= 0 ? prefix : (int)settings.binding_protocol;
    return binding == PROTOCOL_ASCII ? PROTO_ASCII :
           binding == PROTOCOL_BINARY ? PROTO_BINARY : PROTO_NEGOTIATE;
}

/* spec: the -l entry's TLS mode and protocol; the rest is filled here. */
static bool add_listener(struct event_base *base, int fd, enum transport transport,
                         const struct listener *spec)
{
    if (nlisteners == MAX_LISTENERS) {
        fprintf(stderr, "too many listening sockets (at most %d)\n", MAX_LISTENERS);
        return false;
    }
    struct listen_socket *l = &listeners[nlisteners];
    l->fd = fd;
    l->opened = current_time;
    l->desc = *spec;
    l->desc.transport = transport;
    if (transport == TRANSPORT_UNIX) {
        l->desc.tls = TLS_LISTEN_OFF;
        snprintf(l->desc.addr, sizeof(l->desc.addr), "unix:%s", settings.socketpath);
    } else {
        format_local(fd, "tcp", l->desc.addr, sizeof(l->desc.addr));
    }
    l->event = event_new(base, fd, EV_READ | EV_PERSIST, accept_cb, l);
    if (l->event == NULL || event_add(l->event, NULL) != 0) {
        fprintf(stderr, "failed to watch a listening socket\n");
        return false;
    }
    nlisteners++;
    count_server_socket();
    return true;
}

/* Hands a bound UDP socket to workers: memcached gives each worker its own
 * descriptor (a dup) of the one socket with a single -l address, and one
 * worker per socket with several. */
static bool add_udp(int fd)
{
    if (nudp_addrs == MAX_LISTENERS) {
        fprintf(stderr, "too many UDP sockets (at most %d)\n", MAX_LISTENERS);
        return false;
    }
    struct listener *u = &udp_listeners[nudp_addrs++];
    u->transport = TRANSPORT_UDP;
    u->tls = TLS_LISTEN_OFF;
    u->protocol = protocol_of(-1);      /* -B: no proto[] prefix for UDP */
    format_local(fd, "udp", u->addr, sizeof(u->addr));
    int per_socket = listen_udp_threads();
    for (int i = 0; i < per_socket; i++) {
        int dfd = i == 0 ? fd : fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (dfd < 0) {
            perror("dup");
            return false;
        }
        count_server_socket();
        thread_dispatch_udp(dfd, next_udp_worker++, u);
    }
    return true;
}

/* Opens TCP (udp false) or UDP sockets on every address host resolves to;
 * spec: the TCP listeners' TLS mode and protocol. Like memcached, an
 * address already in use is skipped quietly; any other failure ends it.
 * Returns the number opened, -1 on failure (errno set). */
static int open_one(struct event_base *base, const char *host, int port, bool udp,
                    const struct listener *spec)
{
    struct addrinfo hints, *ai, *res;
    char portbuf[16];
    memset(&hints, 0, sizeof(hints));
    hints.ai_flags = AI_PASSIVE;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = udp ? SOCK_DGRAM : SOCK_STREAM;
    /* -1: any free port; other negative ports are no service name, and
     * getaddrinfo refuses them (as memcached's start fails). */
    snprintf(portbuf, sizeof(portbuf), "%d", port == -1 ? 0 : port);
    int err = getaddrinfo(host, portbuf, &hints, &res);
    if (err != 0) {
        if (err != EAI_SYSTEM) {
            fprintf(stderr, "getaddrinfo(): %s\n", gai_strerror(err));
            errno = 0;      /* memcached's next line then ends in "Success" */
        } else {
            perror("getaddrinfo()");
        }
        return -1;
    }
    int opened = 0;
    int saved_errno = 0;
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        ai->ai_protocol);
        if (fd < 0) {
            if (errno == EMFILE) {
                perror("server_socket");
                exit(EX_OSERR);
            }
            saved_errno = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (udp) {
            /* Room for bursts of reply datagrams. */
            int sndbuf = 4 * 1024 * 1024;
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
        } else {
            struct linger no_linger = { 0, 0 };
            setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &no_linger, sizeof(no_linger));
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        if (settings.sock_cookie_id != 0 &&
            setsockopt(fd, SOL_SOCKET, SO_MARK, &settings.sock_cookie_id,
                       sizeof(settings.sock_cookie_id)) != 0)
            perror("setsockopt");
        if (ai->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            saved_errno = errno;
            close(fd);
            if (saved_errno == EADDRINUSE)
                continue;
            errno = saved_errno;
            perror("bind()");
            freeaddrinfo(res);
            errno = saved_errno;
            return -1;
        }
        if (!udp && listen(fd, settings.backlog) != 0) {
            saved_errno = errno;
            perror("listen()");
            close(fd);
            freeaddrinfo(res);
            errno = saved_errno;
            return -1;
        }
        portfile_record(fd, udp);
        if (!(udp ? add_udp(fd) : add_listener(base, fd, TRANSPORT_TCP, spec))) {
            close(fd);
            freeaddrinfo(res);
            errno = EINVAL;
            return -1;
        }
        opened++;
    }
    freeaddrinfo(res);
    if (opened == 0) {
        errno = saved_errno;
        return -1;
    }
    return opened;
}

/* -s: the UNIX socket (a stale socket file is replaced; -a sets its mode). */
static bool open_unix(struct event_base *base, const char *path)
{
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun.sun_path)) {
        errno = ENAMETOOLONG;
        return false;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("socket()");
        return false;
    }
    int one = 1;
    struct linger no_linger = { 0, 0 };
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &no_linger, sizeof(no_linger));
    mode_t old_umask = umask((mode_t)(~settings.access & 0777));
    int r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
    int saved_errno = errno;
    umask(old_umask);
    if (r != 0) {
        errno = saved_errno;
        perror("bind()");
        close(fd);
        errno = saved_errno;
        return false;
    }
    if (listen(fd, settings.backlog) != 0) {
        saved_errno = errno;
        perror("listen()");
        close(fd);
        errno = saved_errno;
        return false;
    }
    struct listener spec = { .protocol = protocol_of(-1) };
    if (!add_listener(base, fd, TRANSPORT_UNIX, &spec)) {
        close(fd);
        errno = EINVAL;
        return false;
    }
    return true;
}

/* The port of a "host:port" -l entry: a number as memcached's safe_strtol
 * reads it (util.h's UTIL_NUM_SAFE, any int64, then kept to its low 32
 * bits as memcached keeps it: ":4294990753" is port 23457), else
 * memcached's message and false. */
static bool parse_port(const char *text, int *port)
{
    int64_t v;
    if (!util_parse_i64(text, UTIL_NUL_TERMINATED, UTIL_NUM_SAFE, INT64_MIN, INT64_MAX, &v)) {
        fprintf(stderr, "Invalid port number: \"%s\"\n", text);
        return false;
    }
    *port = (int32_t)(uint32_t)v;
    return true;
}

/* memcached's listener prefixes, in its order: "proto[ascii]:" or
 * "proto[binary]:" (the protocol of that listener, whatever -B says; any
 * other name leaves it to -B, "proxy" is refused: no proxy here), then
 * "tag[name]:" (1 to 8 characters; a tag only names a listener for
 * memcached's proxy, so it changes nothing here). Moves *host past them
 * and sets *protocol (a PROTOCOL_*, -1: none). False after memcached's
 * message. */
static bool listener_prefixes(char **host, int *protocol)
{
    char *h = *host;
    *protocol = -1;
    if (strncmp(h, "proto[", 6) == 0) {
        char *name = h + 6;
        char *end = strchr(name, ']');
        if (end == NULL) {
            fprintf(stderr, "Invalid protocol spec: \"%s\"\n", name - 1);
            return false;
        }
        size_t n = (size_t)(end - name);
        if (n == 5 && memcmp(name, "ascii", 5) == 0) {
            *protocol = PROTOCOL_ASCII;
        } else if (n == 6 && memcmp(name, "binary", 6) == 0) {
            *protocol = PROTOCOL_BINARY;
        } else if (n == 5 && memcmp(name, "proxy", 5) == 0) {
            fprintf(stderr, "Server not built with proxy: \"%.*s\"\n", (int)(end - h), h);
            return false;
        }
        /* memcached takes the byte after "]" to be the ":" */
        h = end[1] != '\0' ? end + 2 : end + 1;
    }
    if (strncmp(h, "tag[", 4) == 0) {
        char *name = h + 4;
        char *end = strchr(name, ']');
        if (end == NULL) {
            fprintf(stderr, "Invalid tag in socket config: \"%s\"\n", name - 1);
            return false;
        }
        size_t n = (size_t)(end - name);
        if (n < 1 || n > 8) {
            fprintf(stderr, "Listener tags must be between 1 and 8 characters: \"%.*s\"\n",
                    (int)n, name);
            return false;
        }
        h = end[1] != '\0' ? end + 2 : end + 1;
    }
    if (h != *host && *h == '\0') {
        /* a prefix and no address: memcached looks up an empty name */
        fprintf(stderr, "getaddrinfo(): %s\n", gai_strerror(EAI_NONAME));
        return false;
    }
    *host = h;
    return true;
}

/* Opens TCP or UDP sockets on every -l entry ("host", "host:port",
 * "[v6]", "[v6]:port"; separated by commas). False after a message of
 * memcached's when an entry is malformed or a socket fails. */
static bool open_interfaces(struct event_base *base, int default_port, bool udp)
{
    if (settings.inter == NULL) {
        struct listener spec = { .tls = tls_listen_default(), .protocol = protocol_of(-1) };
        return open_one(base, NULL, default_port, udp, &spec) > 0;
    }
    char *list = strdup(settings.inter);
    if (list == NULL)
        return false;
    bool ok = true;
    char *save = NULL;
    for (char *entry = strtok_r(list, ";,", &save); entry && ok;
         entry = strtok_r(NULL, ";,", &save)) {
        char *host = entry;
        int prefix;
        if (!listener_prefixes(&host, &prefix)) {
            errno = 0;
            ok = false;
            break;
        }
        int tls_mode = tls_listen_prefix(&host);
        if (tls_mode < 0) {
            errno = 0;
            ok = false;
            break;
        }
        struct listener spec = {
            .tls = (enum tls_listen_mode)tls_mode,
            .protocol = protocol_of(prefix),
        };
        int port = default_port;
        if (host[0] == '[') {
            char *end = strchr(host, ']');
            if (end == NULL) {
                fprintf(stderr, "Invalid IPV6 address: \"%s\"", entry);
                errno = 0;
                ok = false;
                break;
            }
            *end = '\0';
            if (end[1] == ':' && !parse_port(end + 2, &port)) {
                errno = 0;
                ok = false;
                break;
            }
            host++;
        } else {
            char *colon = strchr(host, ':');
            if (colon && strchr(colon + 1, ':') == NULL) {
                *colon = '\0';
                if (!parse_port(colon + 1, &port)) {
                    errno = 0;
                    ok = false;
                    break;
                }
            }
        }
        if (strcmp(host, "INADDR_ANY") == 0 || *host == '\0')
            host = NULL;
        ok = open_one(base, host, port, udp, &spec) > 0;
    }
    free(list);
    return ok;
}

/* open_interfaces, or exit with memcached's message when it fails. */
static void open_interfaces_or_exit(struct event_base *base, int port, bool udp)
{
    if (open_interfaces(base, port, udp))
        return;
    if (settings.inter)
        fprintf(stderr, "failed to listen on one of interface(s) %s: %s\n",
                settings.inter, strerror(errno));
    else
        fprintf(stderr, "failed to listen on %s port %d: %s\n", udp ? "UDP" : "TCP", port,
                strerror(errno));
    exit(EX_OSERR);
}

int listen_udp_threads(void)
{
    /* memcached: one worker per UDP socket when -l names several
     * addresses, else every worker reads the one socket. */
    if (settings.inter && strchr(settings.inter, ','))
        return 1;
    return settings.num_threads;
}

int listen_open(struct event_base *base)
{
    resume_timer = evtimer_new(base, resume_cb, NULL);
    if (resume_timer == NULL) {
        fprintf(stderr, "failed to create the accept timer\n");
        exit(EX_OSERR);
    }
    /* -s: the UNIX socket only; TCP and UDP are off, as in memcached. */
    if (settings.socketpath) {
        if (!open_unix(base, settings.socketpath)) {
            fprintf(stderr, "failed to listen on UNIX socket: %s: %s\n", settings.socketpath,
                    strerror(errno));
            exit(EX_OSERR);
        }
        return nlisteners;
    }
    /* -p 0: no TCP, as in memcached (-p -1 picks a free port). */
    if (settings.port != 0)
        open_interfaces_or_exit(base, settings.port, false);
    if (settings.udpport != 0)
        open_interfaces_or_exit(base, settings.udpport, true);
    return nlisteners;
}

void listen_close(void)
{
    if (resume_timer) {
        event_free(resume_timer);
        resume_timer = NULL;
    }
    /* The UNIX socket file stays, as memcached leaves it. */
    for (int i = 0; i < nlisteners; i++) {
        event_free(listeners[i].event);
        close(listeners[i].fd);
    }
    nlisteners = 0;
}

int listen_info(struct listen_info *out, int max)
{
    int n = 0;
    for (int i = 0; i < nlisteners && n < max; i++, n++) {
        out[n].fd = listeners[i].fd;
        out[n].addr = listeners[i].desc.addr;
        out[n].opened = listeners[i].opened;
    }
    return n;
}
