/* conn_stats.c: the data of "stats conns": one entry per listening socket,
 * UDP socket and client connection, in descriptor order. Connections belong
 * to their workers; each worker's list is walked under its conns_lock,
 * which only connection set-up and tear-down take. Renders nothing. */
#include "config.h"
#include "conn_stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "conn.h"
#include "listen.h"
#include "listener.h"
#include "settings.h"
#include "thread.h"

#define MAX_LISTEN_ENTRIES 64

struct conn_entry {
    int fd;
    bool listening;
    bool udp;
    const char *listen_addr;    /* clients: the listener's text */
    const char *state;
    unsigned secs;              /* since the last request */
    char addr[96];
};

/* memcached's state names for what a connection is doing. */
static const char *state_name(enum conn_state state, bool seen_data)
{
    switch (state) {
    case CONN_PARSE: return "conn_parse_cmd";
    case CONN_READ: return seen_data ? "conn_read" : "conn_new_cmd";
    case CONN_NREAD: return "conn_nread";
    case CONN_SWALLOW: return "conn_swallow";
    case CONN_WRITE: return "conn_mwrite";
    case CONN_CLOSE: return "conn_closing";
    }
    return "conn_read";
}

static unsigned secs_since(rel_time_t then)
{
    rel_time_t now = current_time;
    return now > then ? (unsigned)(now - then) : 0;
}

static int by_fd(const void *a, const void *b)
{
    const struct conn_entry *x = a, *y = b;
    return (x->fd > y->fd) - (x->fd < y->fd);
}

/* Copies what stats conns shows of c. The fields that c's worker changes
 * (state, time, seen_data) are single words read once; the text fields
 * are fixed when c is created. */
static void describe_conn(const conn *c, struct conn_entry *e)
{
    enum conn_state state = __atomic_load_n(&c->state, __ATOMIC_RELAXED);
    bool seen = __atomic_load_n(&c->seen_data, __ATOMIC_RELAXED);
    e->fd = c->sfd;
    e->listening = false;
    e->secs = secs_since(__atomic_load_n(&c->last_cmd_time, __ATOMIC_RELAXED));
    if (c->udp) {
        e->udp = true;
        e->listen_addr = NULL;
        e->state = "conn_read";
        snprintf(e->addr, sizeof(e->addr), "%.95s", c->listener->addr);
        return;
    }
    e->udp = false;
    e->listen_addr = c->listener->addr;
    e->state = state_name(state, seen);
    if (c->listener->transport == TRANSPORT_UNIX)
        snprintf(e->addr, sizeof(e->addr), "?:<AF 0>");   /* memcached's text */
    else
        snprintf(e->addr, sizeof(e->addr), "%s%s:%s", transport_name(c->listener->transport),
                 c->peer[0] == '[' ? "6" : "", c->peer);
}

bool conn_stats_foreach(void (*fn)(void *ctx, const struct conn_stats_entry *e), void *ctx)
{
    size_t cap = 64, n = 0;
    struct conn_entry *entries = malloc(cap * sizeof(*entries));
    if (entries == NULL)
        return false;

    struct listen_info li[MAX_LISTEN_ENTRIES];
    int nl = listen_info(li, MAX_LISTEN_ENTRIES);
    for (int i = 0; i < nl && n < cap; i++, n++) {
        struct conn_entry *e = &entries[n];
        memset(e, 0, sizeof(*e));
        e->fd = li[i].fd;
        e->listening = true;
        e->state = "conn_listening";
        e->secs = secs_since(li[i].opened);
        snprintf(e->addr, sizeof(e->addr), "%s", li[i].addr);
    }

    for (int t = 0; t < settings.num_threads; t++) {
        worker *w = &workers[t];
        pthread_mutex_lock(&w->conns_lock);
        for (const conn *c = w->conns; c; c = c->next) {
            if (n == cap) {
                struct conn_entry *bigger = realloc(entries, cap * 2 * sizeof(*entries));
                if (bigger == NULL)
                    break;
                entries = bigger;
                cap *= 2;
            }
            describe_conn(c, &entries[n++]);
        }
        pthread_mutex_unlock(&w->conns_lock);
    }

    qsort(entries, n, sizeof(*entries), by_fd);
    for (size_t i = 0; i < n; i++) {
        const struct conn_entry *e = &entries[i];
        struct conn_stats_entry out = {
            .fd = e->fd, .udp = e->udp, .addr = e->addr, .listen_addr = e->listen_addr,
            .state = e->state, .secs = e->secs,
        };
        fn(ctx, &out);
    }
    free(entries);
    return true;
}
