/* shutdown.h: stopping the server from inside it (the -A "shutdown"
 * command). The stop itself is main's SIGTERM path; this module only asks
 * for it, so the protocols need not know main. */
#ifndef MC_SHUTDOWN_H
#define MC_SHUTDOWN_H

/* Asks for the orderly stop SIGTERM starts (replies already queued are
 * sent, connections close with reason "shutdown"). Returns at once; any
 * thread. */
void server_shutdown(void);

#endif
