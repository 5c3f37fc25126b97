/* proto_meta.h: the meta commands of the ASCII protocol (mg, ms, md, ma,
 * mn, me), served through the operations layer with memcached 1.6's
 * replies, flag rules and error strings. */
#ifndef MC_PROTO_META_H
#define MC_PROTO_META_H

#include <stdbool.h>
#include <stddef.h>

struct conn;

/* True when the command name cmd[0..clen) is a meta command. */
static inline bool proto_meta_is_command(const char *cmd, size_t clen)
{
    if (clen != 2 || cmd[0] != 'm')
        return false;
    char c = cmd[1];
    return c == 'g' || c == 's' || c == 'd' || c == 'a' || c == 'n' || c == 'e';
}

/* Serves one meta command line: line[0..len) without its "\r\n", with a
 * NUL at line[len]; the caller checked proto_meta_is_command on its name.
 * The line is the caller's read buffer and is modified in place. Queues
 * the reply on c->out; an ms leaves c in CONN_NREAD for its value (or
 * CONN_SWALLOW after an error). */
void proto_meta_command(struct conn *c, char *line, size_t len);

/* One "mg <key>\r\n" line of "lru_crawler mgdump" for it, queued on
 * arg (a reply *); a key stored with b is given in base64, then " b".
 * Fits items_foreach's callback. */
struct item;
void proto_meta_mgdump_item(struct item *it, void *arg);

#endif
