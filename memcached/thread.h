/* thread.h: worker threads. Each worker runs its own libevent base and
 * serves the connections handed to it (round-robin) by the listener. */
#ifndef MC_THREAD_H
#define MC_THREAD_H

#include <pthread.h>
#include <stdbool.h>

#include <event2/event.h>

#include "counters.h"

struct conn;
struct listener;

typedef struct worker {
    pthread_t tid;
    int index;                      /* 0-based, as conn__dispatch reports it */
    struct event_base *base;
    struct event *notify_event;     /* wakes the worker for new connections */
    int notify_receive_fd;
    int notify_send_fd;
    pthread_mutex_t queue_lock;     /* guards the hand-over queue */
    struct new_conn *queue_head, *queue_tail;
    struct thread_stats stats;      /* written by this worker only */
    struct conn *conns;             /* connections it serves (for stats conns) */
    pthread_mutex_t conns_lock;     /* held to link/unlink conns, and by
                                     * stats conns (another thread) to walk them */
    struct event *idle_timer;       /* -o idle_timeout: once a second */
    struct event *stop_timer;       /* shutdown: deadline for pending replies */
    bool stopping;                  /* shutdown: serve no new requests */
} worker;

extern worker *workers;             /* settings.num_threads of them */

/* Starts the workers and returns once each is running. */
void threads_init(int nthreads);

/* Hands an accepted socket to the next worker (round-robin). l: the
 * listener it came from (listener.h), which must outlive the connection;
 * the peer text is copied. */
void thread_dispatch(int sfd, const struct listener *l, const char *peer);

/* Hands a UDP socket to worker w (index modulo the worker count), which
 * serves its datagrams until shutdown. l: its description (transport
 * TRANSPORT_UDP), kept for the life of the process. */
void thread_dispatch_udp(int sfd, int index, const struct listener *l);

/* Asks every worker to stop: replies already queued are sent (for up to
 * two seconds), then every connection is closed with reason "shutdown". */
void threads_stop(void);

#endif
