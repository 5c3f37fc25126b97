/* proto_text.h: the ASCII text protocol (get/set/... and the admin
 * commands). It parses one request at a time from a connection's read
 * buffer and calls the operations layer. */
#ifndef MC_PROTO_TEXT_H
#define MC_PROTO_TEXT_H

struct conn;

enum parse_result {
    PARSE_DONE,         /* one request consumed (the connection's state may
                           have moved on: reading a value, closing, ...) */
    PARSE_NEED_MORE     /* no complete request buffered */
};

/* Serves the next request in c's read buffer. */
enum parse_result proto_text_process(struct conn *c);

#endif
