/* logger.c: the watchers of the "watch" command and the thread that feeds
 * them. Workers format an event line and copy it into each interested
 * watcher's ring buffer under one mutex; the logger thread (started with
 * the first watcher) writes the rings to the sockets without blocking and
 * drops watchers that hang up. A watcher whose ring is full loses lines,
 * and is told how many with a "skipped=N" line once there is room. */
#include "config.h"
#include "logger.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "items.h"
#include "settings.h"
#include "util.h"

unsigned logger_active_kinds;

struct watcher {
    struct watcher *next;
    int fd;
    unsigned kinds;
    char *ring;             /* ring_size bytes */
    size_t ring_size, head, used;   /* unsent bytes start at head */
    uint64_t skipped;       /* lines dropped since the last "skipped=" */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct watcher *watchers;        /* under lock */
static bool thread_started;             /* under lock */
static uint64_t next_gid = 1;           /* under lock */
static uint64_t watcher_count, lines_sent, lines_skipped;  /* under lock */

#define LINE_MAX_BYTES 1024     /* a key is at most 250 bytes, 750 encoded */
#define WATCHER_LIMIT 20        /* memcached's */

/* A key as memcached shows it in a line (util_encode_key's %XX), at most
 * KEY_SHOWN_MAX bytes of it; out has room for ENCODED_KEY_MAX bytes. */
#define KEY_SHOWN_MAX 250
#define ENCODED_KEY_MAX UTIL_ENCODED_KEY_SIZE(KEY_SHOWN_MAX)
static const char *encode_key(const char *key, size_t nkey, char *out)
{
    util_encode_key(key, nkey < KEY_SHOWN_MAX ? nkey : KEY_SHOWN_MAX, out);
    return out;
}

bool logger_watcher_room(void)
{
    pthread_mutex_lock(&lock);
    bool room = watcher_count < WATCHER_LIMIT;
    pthread_mutex_unlock(&lock);
    return room;
}

bool logger_parse_kinds(const char *const *words, int nwords, unsigned *kinds)
{
    static const struct { const char *name; unsigned kind; } names[] = {
        {"fetchers", LOG_FETCHERS}, {"mutations", LOG_MUTATIONS},
        {"evictions", LOG_EVICTIONS}, {"connevents", LOG_CONNEVENTS},
        {"deletions", LOG_DELETIONS}, {"sysevents", LOG_SYSEVENTS},
        {"rawcmds", LOG_RAWCMDS}, {"proxyreqs", LOG_PROXYREQS},
        {"proxyevents", LOG_PROXYEVENTS}, {"proxyuser", LOG_PROXYUSER},
    };
    unsigned k = 0;
    for (int i = 0; i < nwords; i++) {
        unsigned found = 0;
        for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++)
            if (strcmp(words[i], names[n].name) == 0)
                found = names[n].kind;
        if (found == 0)
            return false;
        k |= found;
    }
    *kinds = k ? k : LOG_FETCHERS;
    return true;
}

/* Recomputes logger_active_kinds. Caller holds lock. */
static void update_kinds_locked(void)
{
    unsigned k = 0;
    for (struct watcher *w = watchers; w != NULL; w = w->next)
        k |= w->kinds;
    __atomic_store_n(&logger_active_kinds, k, __ATOMIC_RELAXED);
}

/* Copies n bytes into w's ring. Caller holds lock and checked the room. */
static void ring_put(struct watcher *w, const char *s, size_t n)
{
    size_t tail = (w->head + w->used) % w->ring_size;
    size_t first = w->ring_size - tail < n ? w->ring_size - tail : n;
    memcpy(w->ring + tail, s, first);
    memcpy(w->ring, s + first, n - first);
    w->used += n;
}

/* Queues one line for w, or counts it skipped. Caller holds lock. */
static void watcher_put_line(struct watcher *w, const char *line, size_t n)
{
    char note[40];
    size_t nn = 0;
    if (w->skipped)
        nn = (size_t)snprintf(note, sizeof(note), "skipped=%llu\n",
                              (unsigned long long)w->skipped);
    if (w->ring_size - w->used < nn + n) {
        w->skipped++;
        lines_skipped++;
        return;
    }
    if (nn) {
        ring_put(w, note, nn);
        w->skipped = 0;
    }
    ring_put(w, line, n);
    lines_sent++;
}

static void *logger_thread(void *arg);

bool logger_add_watcher(int fd, unsigned kinds)
{
    struct watcher *w = calloc(1, sizeof(*w));
    size_t size = settings.watcher_logbuf_size ? settings.watcher_logbuf_size : 256 * 1024;
    if (w != NULL)
        w->ring = malloc(size);
    if (w == NULL || w->ring == NULL) {
        if (w)
            free(w);
        close(fd);
        return false;
    }
    w->fd = fd;
    w->kinds = kinds;
    w->ring_size = size;
    pthread_mutex_lock(&lock);
    if (watcher_count >= WATCHER_LIMIT) {   /* raced past logger_watcher_room */
        pthread_mutex_unlock(&lock);
        free(w->ring);
        free(w);
        close(fd);
        return false;
    }
    if (!thread_started) {
        pthread_t tid;
        if (pthread_create(&tid, NULL, logger_thread, NULL) != 0) {
            pthread_mutex_unlock(&lock);
            free(w->ring);
            free(w);
            close(fd);
            return false;
        }
        pthread_detach(tid);
        thread_started = true;
    }
    w->next = watchers;
    watchers = w;
    next_gid++;         /* as memcached, whose watcher takes a gid to start from */
    watcher_count++;
    update_kinds_locked();
    pthread_mutex_unlock(&lock);
    return true;
}

void logger_stats(uint64_t *count, uint64_t *sent, uint64_t *skipped)
{
    pthread_mutex_lock(&lock);
    *count = watcher_count;
    *sent = lines_sent;
    *skipped = lines_skipped;
    pthread_mutex_unlock(&lock);
}

/* Formats "ts=... gid=... <body>\n" and queues it for the watchers of kind. */
static void log_line(unsigned kind, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_line(unsigned kind, const char *fmt, ...)
{
    char line[LINE_MAX_BYTES];
    struct timeval tv;
    gettimeofday(&tv, NULL);
    va_list ap;
    va_start(ap, fmt);
    int body = vsnprintf(line + 64, sizeof(line) - 64 - 1, fmt, ap);
    va_end(ap);
    if (body < 0)
        return;
    if ((size_t)body > sizeof(line) - 64 - 2)
        body = (int)(sizeof(line) - 64 - 2);
    pthread_mutex_lock(&lock);
    char head[64];
    /* memcached prints the microseconds unpadded */
    int nh = snprintf(head, sizeof(head), "ts=%lld.%d gid=%llu ", (long long)tv.tv_sec,
                      (int)tv.tv_usec, (unsigned long long)next_gid++);
    /* head fits in 64 bytes: build the line in place just before the body */
    char *start = line + 64 - nh;
    memcpy(start, head, (size_t)nh);
    line[64 + body] = '\n';
    size_t n = (size_t)nh + (size_t)body + 1;
    bool queued = false;
    for (struct watcher *w = watchers; w != NULL; w = w->next)
        if (w->kinds & kind) {
            watcher_put_line(w, start, n);
            queued = true;
        }
    if (queued)
        pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
}

void logger_log_get(const char *key, size_t nkey, const char *status, const item *it, int cfd)
{
    char k[ENCODED_KEY_MAX];
    log_line(LOG_FETCHERS, "type=item_get key=%s status=%s clsid=%u cfd=%d size=%d",
             encode_key(key, nkey, k), status, it ? (unsigned)it->slabs_clsid : 0u,
             cfd, it ? (int)it->nbytes - 2 : 0);
}

static int ttl_left(const item *it, int never)
{
    rel_time_t exp = item_exptime(it);
    if (exp == 0)
        return never;
    return (int)((int64_t)exp - (int64_t)current_time);
}

void logger_log_store(const item *it, const char *status, const char *cmd, int cfd)
{
    char k[ENCODED_KEY_MAX];
    log_line(LOG_MUTATIONS, "type=item_store key=%s status=%s cmd=%s ttl=%d clsid=%u cfd=%d size=%d",
             encode_key(item_key((item *)it), it->nkey, k), status, cmd, ttl_left(it, 0), (unsigned)it->slabs_clsid,
             cfd, (int)it->nbytes - 2);
}

void logger_log_delete(const item *it, const char *cmd)
{
    char k[ENCODED_KEY_MAX];
    log_line(LOG_DELETIONS, "type=deleted key=%s cmd=%s clsid=%u size=%d",
             encode_key(item_key((item *)it), it->nkey, k), cmd, (unsigned)it->slabs_clsid, (int)it->nbytes - 2);
}

void logger_log_eviction(const item *it)
{
    char k[ENCODED_KEY_MAX];
    log_line(LOG_EVICTIONS, "type=eviction key=%s fetch=%s ttl=%d la=%d clsid=%u size=%d",
             encode_key(item_key((item *)it), it->nkey, k), (it->it_flags & ITEM_FETCHED) ? "yes" : "no",
             ttl_left(it, -1), (int)(current_time - it->time), (unsigned)it->slabs_clsid,
             (int)it->nbytes - 2);
}

void logger_log_slab_move(unsigned src, unsigned dst, bool ok)
{
    log_line(LOG_SYSEVENTS, "type=slab_move src=%u dst=%u state=%s", src, dst, ok ? "ok" : "fail");
}

void logger_log_lru_crawler(unsigned cls, const char *lru, uint64_t low_mark,
                            uint64_t next_reclaims, unsigned since_run, int next_run,
                            unsigned elapsed, uint64_t examined, uint64_t reclaimed)
{
    log_line(LOG_SYSEVENTS, "type=lru_crawler crawler=%u lru=%s low_mark=%llu next_reclaims=%llu "
             "since_run=%u next_run=%d elapsed=%u examined=%llu reclaimed=%llu",
             cls, lru, (unsigned long long)low_mark, (unsigned long long)next_reclaims,
             since_run, next_run, elapsed, (unsigned long long)examined,
             (unsigned long long)reclaimed);
}

/* Splits peer "addr:port" (addr maybe in brackets) for rip= and rport=;
 * a unix socket's client shows as "unix", port 0, as in memcached. */
static void split_peer(const char *peer, enum transport t, char *addr, size_t asize,
                       const char **port)
{
    if (t == TRANSPORT_UNIX) {
        snprintf(addr, asize, "unix");
        *port = "0";
        return;
    }
    const char *colon = strrchr(peer, ':');
    size_t n = colon ? (size_t)(colon - peer) : strlen(peer);
    if (n >= 2 && peer[0] == '[' && peer[n - 1] == ']') {
        peer++;
        n -= 2;
    }
    snprintf(addr, asize, "%.*s", (int)n, peer);
    *port = colon ? colon + 1 : "0";
}

/* The transport= word of connection events, as memcached's watch names
 * each transport (a unix socket is "local"). */
static const char *const watch_transport[] = {
    [TRANSPORT_TCP] = "tcp",
    [TRANSPORT_UNIX] = "local",
    [TRANSPORT_UDP] = "udp",
};

void logger_log_conn_new(int cfd, const char *peer, enum transport t)
{
    char addr[64];
    const char *port;
    split_peer(peer, t, addr, sizeof(addr), &port);
    log_line(LOG_CONNEVENTS, "type=conn_new rip=%s rport=%s transport=%s cfd=%d",
             addr, port, watch_transport[t], cfd);
}

void logger_log_conn_close(int cfd, const char *peer, enum transport t, const char *reason)
{
    char addr[64];
    const char *port;
    split_peer(peer, t, addr, sizeof(addr), &port);
    const char *why = strcmp(reason, "client") == 0 ? "normal" :
                      strcmp(reason, "idle_timeout") == 0 ? "idle_timeout" :
                      strcmp(reason, "shutdown") == 0 ? "shutdown" : "error";
    log_line(LOG_CONNEVENTS, "type=conn_close rip=%s rport=%s transport=%s reason=%s cfd=%d",
             addr, port, watch_transport[t], why, cfd);
}

/* Sends what w has queued, without blocking. Returns false when the
 * watcher is gone. Caller holds lock. */
static bool watcher_flush_locked(struct watcher *w)
{
    char probe;
    ssize_t r = recv(w->fd, &probe, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
        return false;   /* hung up */
    if (r > 0) {
        char junk[256];     /* watchers send nothing useful: drop it */
        if (recv(w->fd, junk, sizeof(junk), MSG_DONTWAIT) == 0)
            return false;
    }
    while (w->used > 0) {
        size_t chunk = w->ring_size - w->head < w->used ? w->ring_size - w->head : w->used;
        ssize_t n = send(w->fd, w->ring + w->head, chunk, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK;
        }
        w->head = (w->head + (size_t)n) % w->ring_size;
        w->used -= (size_t)n;
    }
    return true;
}

static void *logger_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    for (;;) {
        struct watcher **pw = &watchers;
        while (*pw != NULL) {
            struct watcher *w = *pw;
            if (watcher_flush_locked(w)) {
                pw = &w->next;
                continue;
            }
            *pw = w->next;
            close(w->fd);
            free(w->ring);
            free(w);
            watcher_count--;
            update_kinds_locked();
        }
        /* Wake on new lines, or after a while to retry a full socket and
         * notice hang-ups. */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 50 * 1000 * 1000;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&wake, &lock, &until);
    }
    return NULL;
}
