/* metrics.c: the Prometheus endpoint's listening socket and thread. The
 * thread polls the socket and up to METRICS_CLIENTS connections; each
 * connection reads one request, gets one reply (rendered by prom.c from
 * the stats reporter) and is closed. No worker takes part. */
#include "config.h"     /* _GNU_SOURCE: accept4 */

#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "prom.h"

/* Milliseconds a reply may take to send, and a closing connection to
 * drain what the client still sends (so the reply is not lost to a
 * reset). */
#define WRITE_TIMEOUT_MS 10000
#define DRAIN_MS 500

/* The configured address; set by metrics_configure (main thread) and read
 * by metrics_start, also on the main thread. */
static struct addrinfo *metrics_addr;
static char metrics_text[128];      /* the value as given, for messages */
static int listen_fd = -1;          /* owned by the metrics thread once started */

enum client_state { CLIENT_FREE, CLIENT_READ, CLIENT_WRITE, CLIENT_DRAIN };

/* One connection. Only the metrics thread touches these. */
struct client {
    enum client_state state;
    int fd;
    int64_t deadline;               /* monotonic ms: the current step's limit */
    size_t in_len;                  /* request bytes in in */
    char in[METRICS_REQUEST_MAX];   /* the request so far */
    struct prom_buf out;            /* the reply */
    size_t out_sent;                /* bytes of out written */
};

static struct client clients[METRICS_CLIENTS];

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool metrics_configure(const char *value)
{
    const char *host, *port;
    char buf[sizeof(metrics_text)];
    if (value == NULL || strlen(value) >= sizeof(buf))
        return false;
    strcpy(buf, value);
    if (buf[0] == '[') {                        /* [IPv6]:PORT */
        char *close = strchr(buf, ']');
        if (close == NULL || close[1] != ':')
            return false;
        *close = '\0';
        host = buf + 1;
        port = close + 2;
    } else {
        char *colon = strrchr(buf, ':');
        if (colon == NULL || strchr(buf, ':') != colon)
            return false;
        *colon = '\0';
        host = buf;
        port = colon + 1;
    }
    char *end;
    long p = strtol(port, &end, 10);
    if (*port == '\0' || *end != '\0' || p < 1 || p > 65535)
        return false;
    struct addrinfo hints = { .ai_flags = AI_PASSIVE | AI_NUMERICSERV,
                              .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    struct addrinfo *ai = NULL;
    if (getaddrinfo(*host ? host : NULL, port, &hints, &ai) != 0 || ai == NULL)
        return false;
    if (metrics_addr)
        freeaddrinfo(metrics_addr);
    metrics_addr = ai;
    snprintf(metrics_text, sizeof(metrics_text), "%s", value);
    return true;
}

bool metrics_configured(void)
{
    return metrics_addr != NULL;
}

/* ---- replies ---- */

/* Queues a reply with no body but a one-line text, and closes after. */
static void reply_status(struct client *c, int code, const char *reason, const char *extra)
{
    char body[96];
    int blen = snprintf(body, sizeof(body), "%d %s\n", code, reason);
    char head[256];
    int hlen = snprintf(head, sizeof(head),
                        "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                        "Content-Length: %d\r\n%sConnection: close\r\n\r\n",
                        code, reason, blen, extra);
    prom_buf_add(&c->out, head, (size_t)hlen);
    prom_buf_add(&c->out, body, (size_t)blen);
}

/* The metrics, as a 200 reply; head: HEAD, the headers alone. */
static void reply_metrics(struct client *c, bool head_only)
{
    struct prom_buf body = { 0 };
    if (!prom_render(&body)) {
        prom_buf_free(&body);
        reply_status(c, 500, "Internal Server Error", "");
        return;
    }
    char head[256];
    int hlen = snprintf(head, sizeof(head),
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                        "Content-Length: %zu\r\nConnection: close\r\n\r\n", body.len);
    prom_buf_add(&c->out, head, (size_t)hlen);
    if (!head_only && body.len)
        prom_buf_add(&c->out, body.data, body.len);
    prom_buf_free(&body);
}

/* True when the in buffer holds a whole request head. */
static bool request_complete(const struct client *c)
{
    for (size_t i = 0; i + 1 < c->in_len; i++)
        if (c->in[i] == '\n' && (c->in[i + 1] == '\n' ||
                                 (c->in[i + 1] == '\r' && i + 2 < c->in_len && c->in[i + 2] == '\n')))
            return true;
    return false;
}

/* Answers the whole request head in c->in: 400 for a malformed request
 * line or header, 405 for a method other than GET and HEAD, 404 for a
 * path other than /metrics. */
static void answer(struct client *c)
{
    char *eol = memchr(c->in, '\n', c->in_len);
    size_t line_len = (size_t)(eol - c->in);
    if (line_len > 0 && c->in[line_len - 1] == '\r')
        line_len--;
    char line[METRICS_REQUEST_MAX + 1];
    memcpy(line, c->in, line_len);
    line[line_len] = '\0';
    /* METHOD SP TARGET SP HTTP/1.x, one space each. */
    char *sp1 = strchr(line, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (sp1 == NULL || sp2 == NULL || sp1 == line || sp2 == sp1 + 1 || strchr(sp2 + 1, ' ')) {
        reply_status(c, 400, "Bad Request", "");
        return;
    }
    *sp1 = *sp2 = '\0';
    const char *method = line, *target = sp1 + 1, *version = sp2 + 1;
    bool method_ok = true;
    for (const char *p = method; *p; p++)
        method_ok = method_ok && *p >= 'A' && *p <= 'Z';
    if (!method_ok || target[0] != '/' ||
        (strcmp(version, "HTTP/1.0") != 0 && strcmp(version, "HTTP/1.1") != 0)) {
        reply_status(c, 400, "Bad Request", "");
        return;
    }
    /* Each header line needs a name and a colon. */
    for (char *p = eol + 1; p < c->in + c->in_len;) {
        char *next = memchr(p, '\n', (size_t)(c->in + c->in_len - p));
        size_t len = (size_t)(next - p);
        if (len > 0 && p[len - 1] == '\r')
            len--;
        if (len == 0)
            break;                          /* the blank line: end of head */
        char *colon = memchr(p, ':', len);
        if (colon == NULL || colon == p || *p == ' ' || *p == '\t') {
            reply_status(c, 400, "Bad Request", "");
            return;
        }
        p = next + 1;
    }
    bool head = strcmp(method, "HEAD") == 0;
    if (!head && strcmp(method, "GET") != 0) {
        reply_status(c, 405, "Method Not Allowed", "Allow: GET, HEAD\r\n");
        return;
    }
    size_t path_len = strcspn(target, "?");
    if (path_len != 8 || memcmp(target, "/metrics", 8) != 0) {
        reply_status(c, 404, "Not Found", "");
        return;
    }
    reply_metrics(c, head);
}

/* ---- connections ---- */

static void client_close(struct client *c)
{
    close(c->fd);
    prom_buf_free(&c->out);
    c->state = CLIENT_FREE;
    c->fd = -1;
}

static void start_write(struct client *c)
{
    c->state = CLIENT_WRITE;
    c->out_sent = 0;
    c->deadline = now_ms() + WRITE_TIMEOUT_MS;
    if (c->out.failed)
        client_close(c);
}

static void on_readable(struct client *c)
{
    for (;;) {
        if (c->in_len == sizeof(c->in)) {
            reply_status(c, 431, "Request Header Fields Too Large", "");
            start_write(c);
            return;
        }
        ssize_t n = read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        if (n <= 0) {           /* gone before a whole request */
            client_close(c);
            return;
        }
        c->in_len += (size_t)n;
        if (request_complete(c)) {
            answer(c);
            start_write(c);
            return;
        }
    }
}

static void on_writable(struct client *c)
{
    while (c->out_sent < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_sent, c->out.len - c->out_sent, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        if (n <= 0) {
            client_close(c);
            return;
        }
        c->out_sent += (size_t)n;
    }
    /* Sent: tell the client, then read what it still sends until it closes. */
    shutdown(c->fd, SHUT_WR);
    prom_buf_free(&c->out);
    c->state = CLIENT_DRAIN;
    c->deadline = now_ms() + DRAIN_MS;
}

static void on_drain(struct client *c)
{
    char sink[4096];
    for (;;) {
        ssize_t n = read(c->fd, sink, sizeof(sink));
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        if (n <= 0) {
            client_close(c);
            return;
        }
    }
}

static void on_deadline(struct client *c)
{
    if (c->state == CLIENT_READ) {
        reply_status(c, 408, "Request Timeout", "");
        start_write(c);
        if (c->state == CLIENT_WRITE)
            on_writable(c);
        if (c->state == CLIENT_WRITE)   /* the client does not read either */
            client_close(c);
    } else {
        client_close(c);
    }
}

static void accept_clients(void)
{
    for (;;) {
        struct client *c = NULL;
        for (int i = 0; i < METRICS_CLIENTS && c == NULL; i++)
            if (clients[i].state == CLIENT_FREE)
                c = &clients[i];
        if (c == NULL)
            return;
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        memset(&c->out, 0, sizeof(c->out));
        c->fd = fd;
        c->in_len = 0;
        c->out_sent = 0;
        c->state = CLIENT_READ;
        c->deadline = now_ms() + METRICS_READ_TIMEOUT_MS;
    }
}

static void *metrics_thread(void *arg)
{
    (void)arg;
    struct pollfd fds[METRICS_CLIENTS + 1];
    struct client *owner[METRICS_CLIENTS + 1];
    for (;;) {
        int n = 0, free_slots = 0;
        int64_t now = now_ms(), wake = now + 60000;
        for (int i = 0; i < METRICS_CLIENTS; i++) {
            struct client *c = &clients[i];
            if (c->state == CLIENT_FREE) {
                free_slots++;
                continue;
            }
            if (c->deadline <= now) {
                on_deadline(c);
                if (c->state == CLIENT_FREE) {
                    free_slots++;
                    continue;
                }
            }
            if (c->deadline < wake)
                wake = c->deadline;
            fds[n] = (struct pollfd){ .fd = c->fd,
                                      .events = c->state == CLIENT_WRITE ? POLLOUT : POLLIN };
            owner[n++] = c;
        }
        if (free_slots > 0) {
            fds[n] = (struct pollfd){ .fd = listen_fd, .events = POLLIN };
            owner[n++] = NULL;
        }
        int timeout = (int)(wake - now);
        if (poll(fds, (nfds_t)n, timeout < 0 ? 0 : timeout) <= 0)
            continue;
        for (int i = 0; i < n; i++) {
            if (fds[i].revents == 0)
                continue;
            struct client *c = owner[i];
            if (c == NULL)
                accept_clients();
            else if (c->state == CLIENT_READ)
                on_readable(c);
            else if (c->state == CLIENT_WRITE)
                on_writable(c);
            else if (c->state == CLIENT_DRAIN)
                on_drain(c);
            if (c && c->state == CLIENT_WRITE)     /* try the reply at once */
                on_writable(c);
        }
    }
    return NULL;
}

bool metrics_start(void)
{
    int err = 0;
    for (struct addrinfo *ai = metrics_addr; ai && listen_fd < 0; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int on = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 64) != 0) {
            err = errno;
            close(fd);
            continue;
        }
        listen_fd = fd;
    }
    if (listen_fd < 0) {
        fprintf(stderr, "metrics_listen=%s: cannot listen: %s\n", metrics_text, strerror(err));
        return false;
    }
    for (int i = 0; i < METRICS_CLIENTS; i++)
        clients[i].fd = -1;
    pthread_t tid;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&tid, &attr, metrics_thread, NULL);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        fprintf(stderr, "metrics_listen=%s: cannot start its thread: %s\n", metrics_text,
                strerror(rc));
        return false;
    }
    return true;
}
