/* thread.c: the worker threads and the hand-over of accepted sockets from
 * the listener to them (a locked queue plus a one-byte pipe wake-up). */
#include "config.h"
#include "thread.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "items.h"
#include "listener.h"
#include "probes.h"
#include "settings.h"

struct new_conn {
    struct new_conn *next;
    int sfd;
    const struct listener *listener;    /* where it came from (a UDP socket's own) */
    char peer[64];
};

#define STOP_DEADLINE_SECONDS 2     /* shutdown: time given to pending replies */

worker *workers;
static int nworkers;
static int next_worker;     /* listener thread only */
static pthread_mutex_t started_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t started_cond = PTHREAD_COND_INITIALIZER;
static int started;

/* Shutdown deadline: whatever is still writing is closed. */
static void stop_deadline_cb(evutil_socket_t fd, short which, void *arg)
{
    worker *w = arg;
    (void)fd;
    (void)which;
    while (w->conns)
        conn_close(w->conns, "shutdown");
    event_base_loopbreak(w->base);
}

/* Shutdown: no more requests are served; queued replies are sent, then
 * the connections close. The loop ends when the last one has gone (see
 * conn_close) or at the deadline. */
static void worker_begin_stop(worker *w)
{
    w->stopping = true;
    if (w->idle_timer)
        event_del(w->idle_timer);
    for (struct conn *c = w->conns, *next; c; c = next) {
        next = c->next;
        conn_shutdown(c);
    }
    if (w->conns == NULL) {
        event_base_loopbreak(w->base);
        return;
    }
    struct timeval deadline = { STOP_DEADLINE_SECONDS, 0 };
    w->stop_timer = evtimer_new(w->base, stop_deadline_cb, w);
    if (w->stop_timer == NULL || evtimer_add(w->stop_timer, &deadline) != 0)
        stop_deadline_cb(-1, 0, w);
}

/* -o idle_timeout: once a second, close the connections idle too long. */
static void idle_cb(evutil_socket_t fd, short which, void *arg)
{
    worker *w = arg;
    (void)fd;
    (void)which;
    for (struct conn *c = w->conns, *next; c; c = next) {
        next = c->next;
        conn_check_idle(c);
    }
}

/* Wake-up bytes: 'c' a new connection is queued, 's' stop. */
static void notify_cb(evutil_socket_t fd, short which, void *arg)
{
    worker *w = arg;
    char buf[64];
    (void)which;
    ssize_t n = read(fd, buf, sizeof(buf));
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == 's') {
            if (!w->stopping)
                worker_begin_stop(w);
            return;
        }
        pthread_mutex_lock(&w->queue_lock);
        struct new_conn *nc = w->queue_head;
        if (nc) {
            w->queue_head = nc->next;
            if (w->queue_head == NULL)
                w->queue_tail = NULL;
        }
        pthread_mutex_unlock(&w->queue_lock);
        if (nc == NULL)
            continue;
        if (nc->listener->transport == TRANSPORT_UDP) {
            conn_new_udp(nc->sfd, w, nc->listener);
        } else if (conn_new(nc->sfd, w, nc->listener, nc->peer) == NULL) {
            conn_count_sub();
        }
        free(nc);
    }
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    items_worker_attach((unsigned)w->index);
    pthread_mutex_lock(&started_lock);
    started++;
    pthread_cond_signal(&started_cond);
    pthread_mutex_unlock(&started_lock);
    event_base_dispatch(w->base);
    return NULL;
}

void threads_init(int nthreads)
{
    nworkers = nthreads;
    workers = calloc((size_t)nthreads, sizeof(worker));
    if (workers == NULL) {
        fprintf(stderr, "Can't allocate thread descriptors\n");
        exit(EXIT_FAILURE);
    }
    for (int i = 0; i < nthreads; i++) {
        worker *w = &workers[i];
        int fds[2];
        if (pipe(fds) != 0) {
            perror("Can't create notify pipe");
            exit(EXIT_FAILURE);
        }
        w->index = i;
        w->notify_receive_fd = fds[0];
        w->notify_send_fd = fds[1];
        pthread_mutex_init(&w->queue_lock, NULL);
        pthread_mutex_init(&w->conns_lock, NULL);
        w->base = event_base_new();
        if (w->base == NULL) {
            fprintf(stderr, "Can't allocate event base\n");
            exit(EXIT_FAILURE);
        }
        w->notify_event = event_new(w->base, fds[0], EV_READ | EV_PERSIST, notify_cb, w);
        if (w->notify_event == NULL || event_add(w->notify_event, NULL) != 0) {
            fprintf(stderr, "Can't monitor libevent notify pipe\n");
            exit(EXIT_FAILURE);
        }
        if (settings.idle_timeout > 0) {
            struct timeval second = { 1, 0 };
            w->idle_timer = event_new(w->base, -1, EV_PERSIST, idle_cb, w);
            if (w->idle_timer == NULL || event_add(w->idle_timer, &second) != 0) {
                fprintf(stderr, "Can't create the idle connection timer\n");
                exit(EXIT_FAILURE);
            }
        }
    }
    for (int i = 0; i < nthreads; i++) {
        if (pthread_create(&workers[i].tid, NULL, worker_main, &workers[i]) != 0) {
            perror("Can't create thread");
            exit(EXIT_FAILURE);
        }
    }
    pthread_mutex_lock(&started_lock);
    while (started < nthreads)
        pthread_cond_wait(&started_cond, &started_lock);
    pthread_mutex_unlock(&started_lock);
}

static void queue_to_worker(worker *w, int sfd, const struct listener *l, const char *peer)
{
    struct new_conn *nc = malloc(sizeof(*nc));
    if (nc == NULL) {
        close(sfd);
        if (l->transport != TRANSPORT_UDP)
            conn_count_sub();
        return;
    }
    nc->next = NULL;
    nc->sfd = sfd;
    nc->listener = l;
    snprintf(nc->peer, sizeof(nc->peer), "%s", peer);

    pthread_mutex_lock(&w->queue_lock);
    if (w->queue_tail)
        w->queue_tail->next = nc;
    else
        w->queue_head = nc;
    w->queue_tail = nc;
    pthread_mutex_unlock(&w->queue_lock);
    probe_conn_dispatch(sfd, (int64_t)w->index);
    if (write(w->notify_send_fd, "c", 1) != 1)
        perror("Writing to thread notify pipe");
}

void thread_dispatch(int sfd, const struct listener *l, const char *peer)
{
    worker *w = &workers[next_worker];
    next_worker = (next_worker + 1) % nworkers;
    queue_to_worker(w, sfd, l, peer);
}

void thread_dispatch_udp(int sfd, int index, const struct listener *l)
{
    queue_to_worker(&workers[index % nworkers], sfd, l, "");
}

void threads_stop(void)
{
    for (int i = 0; i < nworkers; i++) {
        if (write(workers[i].notify_send_fd, "s", 1) != 1)
            perror("Writing to thread notify pipe");
    }
    for (int i = 0; i < nworkers; i++)
        pthread_join(workers[i].tid, NULL);
}
