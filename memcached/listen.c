/* listen.c: listening sockets and accepting clients. Accepted sockets are
 * made non-blocking and handed to a worker; over the -c limit they are
 * told "ERROR Too many open connections" and closed, as memcached does. */
#include "listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <unistd.h>

#include "conn.h"
#include "probes.h"
#include "settings.h"
#include "stats.h"
#include "thread.h"

#define MAX_LISTENERS 32

struct listener {
    int fd;
    struct event *event;
};
static struct listener listeners[MAX_LISTENERS];
static int nlisteners;

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

static void accept_cb(evutil_socket_t lfd, short which, void *arg)
{
    (void)which;
    (void)arg;
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage ss;
        socklen_t sslen = sizeof(ss);
        int fd = accept4(lfd, (struct sockaddr *)&ss, &sslen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                if (settings.verbose > 0)
                    perror("Too many open connections");
                probe_conn_limit(conn_count(), settings.maxconns);
            } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                       settings.verbose > 0) {
                perror("accept()");
            }
            return;
        }
        if (conn_count() >= settings.maxconns) {
            static const char msg[] = "ERROR Too many open connections\r\n";
            ssize_t ignored = write(fd, msg, sizeof(msg) - 1);
            (void)ignored;
            close(fd);
            atomic_fetch_add(&global_stats.rejected_conns, 1);
            probe_conn_limit(conn_count(), settings.maxconns);
            continue;
        }
        int one = 1;
        if (ss.ss_family != AF_UNIX)
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        char peer[64];
        format_peer(&ss, peer, sizeof(peer));
        thread_dispatch(fd, ss.ss_family == AF_UNIX ? "unix" : "tcp", peer);
    }
}

static int open_one(struct event_base *base, const char *host, int port)
{
    struct addrinfo hints, *ai, *res;
    char portbuf[16];
    memset(&hints, 0, sizeof(hints));
    hints.ai_flags = AI_PASSIVE;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(portbuf, sizeof(portbuf), "%d", port);
    int err = getaddrinfo(host, portbuf, &hints, &res);
    if (err != 0) {
        if (err != EAI_SYSTEM)
            fprintf(stderr, "getaddrinfo(): %s\n", gai_strerror(err));
        else
            perror("getaddrinfo()");
        return -1;
    }
    int opened = 0;
    bool failed = false;
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        ai->ai_protocol);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
        if (ai->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            perror("bind()");
            failed = true;
            close(fd);
            continue;
        }
        if (listen(fd, settings.backlog) != 0) {
            perror("listen()");
            close(fd);
            failed = true;
            continue;
        }
        if (nlisteners == MAX_LISTENERS) {
            close(fd);
            continue;
        }
        struct listener *l = &listeners[nlisteners++];
        l->fd = fd;
        l->event = event_new(base, fd, EV_READ | EV_PERSIST, accept_cb, NULL);
        event_add(l->event, NULL);
        opened++;
    }
    freeaddrinfo(res);
    return failed && opened == 0 ? -1 : opened;
}

int listen_open(struct event_base *base)
{
    if (settings.port == -1)
        return 0;
    if (settings.inter == NULL) {
        if (open_one(base, NULL, settings.port) <= 0) {
            fprintf(stderr, "failed to listen on TCP port %d: %s\n", settings.port,
                    strerror(errno));
            exit(EX_OSERR);
        }
        return nlisteners;
    }
    char *list = strdup(settings.inter);
    char *save = NULL;
    for (char *addr = strtok_r(list, ", ", &save); addr; addr = strtok_r(NULL, ", ", &save)) {
        char *host = addr;
        int port = settings.port;
        /* [v6addr]:port, v4addr:port, or a bare address. */
        if (host[0] == '[') {
            char *close = strchr(host, ']');
            if (close) {
                *close = '\0';
                if (close[1] == ':')
                    port = atoi(close + 2);
                host++;
            }
        } else {
            char *colon = strchr(host, ':');
            if (colon && strchr(colon + 1, ':') == NULL) {
                *colon = '\0';
                port = atoi(colon + 1);
            }
        }
        if (strcmp(host, "INADDR_ANY") == 0 || *host == '\0')
            host = NULL;
        if (open_one(base, host, port) <= 0) {
            fprintf(stderr, "failed to listen on TCP port %d: %s\n", port, strerror(errno));
            exit(EX_OSERR);
        }
    }
    free(list);
    return nlisteners;
}

void listen_close(void)
{
    for (int i = 0; i < nlisteners; i++) {
        event_free(listeners[i].event);
        close(listeners[i].fd);
    }
    nlisteners = 0;
}
