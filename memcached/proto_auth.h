/* proto_auth.h: the ASCII login that -Y requires before any other command:
 * "set <any key> <flags> <exptime> <len>\r\n<user> <password>\r\n". */
#ifndef MC_PROTO_AUTH_H
#define MC_PROTO_AUTH_H

#include "protocol.h"

struct conn;

/* Serves the next request of a connection that has not logged in yet:
 * the login itself, or a refusal. On success c->authenticated is set and
 * later requests go to the ASCII parser. May set c->state to CONN_CLOSE
 * (reason "auth") on input that cannot be a login, as memcached does. */
enum parse_result proto_auth_process(struct conn *c);

#endif
