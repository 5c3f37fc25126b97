/* authfile.h: the -Y password file ("user:password" lines) and the check of
 * a login against it. The main thread loads it at start and on SIGHUP; any
 * thread may check a login at any time, without waiting on a lock. */
#ifndef MC_AUTHFILE_H
#define MC_AUTHFILE_H

#include <stdbool.h>
#include <stddef.h>

enum authfile_result {
    AUTHFILE_OK,
    AUTHFILE_OPEN_FAILED,   /* errno tells why */
    AUTHFILE_STAT_FAILED,   /* errno tells why */
    AUTHFILE_NO_MEMORY,
    AUTHFILE_MALFORMED      /* a line (or the whole file) without ':' */
};

/* Reads path and, if it is well formed, makes it the table that logins are
 * checked against. On any failure the table in use (if any) stays. Call
 * from one thread at a time (the main thread). */
enum authfile_result authfile_load(const char *path);

/* Prints memcached's start-up message for a failed load to stderr. errnum:
 * errno as left by authfile_load. */
void authfile_print_error(enum authfile_result r, const char *path, int errnum);

/* True if user[0..ulen) / pass[0..plen) is an entry of the loaded table.
 * The time taken does not depend on the bytes compared. Never blocks. */
bool authfile_check(const char *user, size_t ulen, const char *pass, size_t plen);

#endif
