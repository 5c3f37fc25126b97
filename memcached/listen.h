/* listen.h: the listening sockets (TCP on each -l address) and the accept
 * loop, run by the main thread's event base. */
#ifndef MC_LISTEN_H
#define MC_LISTEN_H

#include <event2/event.h>

/* Opens every listener from settings; exits with memcached's message on a
 * failure. Returns the number of sockets opened. */
int listen_open(struct event_base *base);

/* Stops accepting (shutdown). */
void listen_close(void);

#endif
