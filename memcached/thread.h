/* thread.h: worker threads. Each worker runs its own libevent base and
 * serves the connections handed to it (round-robin) by the listener. */
#ifndef MC_THREAD_H
#define MC_THREAD_H

#include <pthread.h>
#include <stdbool.h>

#include <event2/event.h>

#include "stats.h"

struct conn;

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
} worker;

extern worker *workers;             /* settings.num_threads of them */

/* Starts the workers and returns once each is running. */
void threads_init(int nthreads);

/* Hands an accepted socket to the next worker (round-robin). transport is
 * "tcp" or "unix"; the peer text is copied. */
void thread_dispatch(int sfd, const char *transport, const char *peer);

/* Asks every worker to close its connections and stop (shutdown). */
void threads_stop(void);

#endif
