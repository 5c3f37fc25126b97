/* sandbox.h: -o drop_privileges on Linux. Once start-up is done (sockets
 * bound, threads running, files read), a seccomp filter limits the whole
 * process to the system calls serving needs; any other call kills it with
 * a message on stderr. Built only with libseccomp (configure finds it). */
#ifndef MC_SANDBOX_H
#define MC_SANDBOX_H

#include <stdbool.h>

/* True when this build can install the filter. */
bool sandbox_built(void);

/* Installs the filter on every thread of the process. Call from the main
 * thread after start-up, before serving. Which file system calls stay
 * allowed depends on the settings (-Y and -Z reload files on SIGHUP, -e
 * saves its metadata on SIGUSR1). Exits with status 1 (EX_OSERR) after a
 * message if the filter cannot be installed. No-op when not built. */
void sandbox_enter(void);

/* memcached-debug's "misbehave" command: makes a system call that no
 * serving path makes (getcwd). Returns true if the kernel let it through,
 * i.e. the filter is off; with the filter on, the process dies instead. */
bool sandbox_misbehave(void);

#endif
