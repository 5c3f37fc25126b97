/* proto_text.h: the ASCII text protocol (get/set/... and the admin
 * commands). It parses one request at a time from a connection's read
 * buffer and calls the operations layer. */
#ifndef MC_PROTO_TEXT_H
#define MC_PROTO_TEXT_H

#include "protocol.h"

struct conn;

/* Serves the next request in c's read buffer. */
enum parse_result proto_text_process(struct conn *c);

/* The ASCII protocol (text and meta commands) for the connection's table:
 * the one spoken when the first byte names no other. */
extern const struct protocol proto_text_protocol;

#endif
