/* portfile.h: MEMCACHED_PORT_FILENAME. When it is set, the ports actually
 * bound (useful with -p -1, which picks a free one) are written to that file,
 * one "TCP INET: <port>" / "TCP INET6: <port>" / "UDP INET: <port>" line per
 * socket, through "<name>.lck" renamed into place once all are open, as
 * memcached does. Main thread only, at start-up. */
#ifndef MC_PORTFILE_H
#define MC_PORTFILE_H

#include <stdbool.h>

/* Opens "<name>.lck" (appending, as memcached does) if the variable is set;
 * prints memcached's message and carries on if it cannot. */
void portfile_begin(void);

/* Records the bound port of listening socket fd (INET and INET6 only). */
void portfile_record(int fd, bool udp);

/* Closes the file and renames it to its final name. */
void portfile_finish(void);

#endif
