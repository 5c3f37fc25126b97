/* listen.h: the listening sockets (TCP on each -l address) and the accept
 * loop, run by the main thread's event base. */
#ifndef MC_LISTEN_H
#define MC_LISTEN_H

#include <event2/event.h>

#include "clock.h"

/* Opens every listener from settings (TCP on each -l address, or the -s
 * UNIX socket) and hands the -U UDP sockets to the workers, which must be
 * running; exits with memcached's message on a failure. Returns the number
 * of listening sockets. */
int listen_open(struct event_base *base);

/* Stops accepting (shutdown). */
void listen_close(void);

/* How many workers read each UDP socket (stats settings:
 * num_threads_per_udp). */
int listen_udp_threads(void);

/* stats conns: the listening sockets. Fills up to max entries and returns
 * the count. The strings stay valid for the life of the process. */
struct listen_info {
    int fd;
    const char *addr;       /* "tcp:127.0.0.1:11211", "tcp6:[::1]:11211", "unix:/path" */
    rel_time_t opened;      /* when it was opened (secs_since_last_cmd) */
};
int listen_info(struct listen_info *out, int max);

#endif
