/* shutdown.c: the shutdown command's way to stop the server: a SIGTERM to
 * ourselves, which main's event loop turns into the orderly stop. */
#include "config.h"
#include "shutdown.h"

#include <signal.h>
#include <unistd.h>

void server_shutdown(void)
{
    kill(getpid(), SIGTERM);
}
