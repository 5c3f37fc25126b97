/* authfile.c: the -Y password file. A load parses the file into a new,
 * immutable table and publishes it with an atomic pointer swap; checks read
 * whichever table is current. The old table is freed once no check is still
 * reading it (a count of checks in flight, which the loader waits out). */
#include "config.h"
#include "authfile.h"

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Longest user name memcached accepts in the file; a longer one makes the
 * whole file malformed (a file with overlong entries is the input class of
 * CVE-2021-37519). */
#define AUTH_USER_MAX 254

struct auth_entry {
    const char *user;
    size_t ulen;
    const char *pass;
    size_t plen;
};

struct auth_table {
    size_t count;
    struct auth_entry *entries;     /* point into text */
    char *text;                     /* the file's bytes */
    size_t len;
};

static _Atomic(struct auth_table *) current_table;
static atomic_uint checks_in_flight;

static void table_free(struct auth_table *t)
{
    if (t == NULL)
        return;
    free(t->entries);
    free(t->text);
    free(t);
}

/* Reads the whole file into a NUL-terminated buffer. */
static enum authfile_result read_file(const char *path, char **out, size_t *outlen)
{
    if (path == NULL || *path == '\0') {
        errno = ENOENT;
        return AUTHFILE_OPEN_FAILED;
    }
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return AUTHFILE_OPEN_FAILED;
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        int saved = errno;
        fclose(f);
        errno = saved;
        return AUTHFILE_STAT_FAILED;
    }
    char *text = malloc((size_t)st.st_size + 1);
    if (text == NULL) {
        fclose(f);
        return AUTHFILE_NO_MEMORY;
    }
    size_t len = fread(text, 1, (size_t)st.st_size, f);
    fclose(f);
    text[len] = '\0';
    *out = text;
    *outlen = len;
    return AUTHFILE_OK;
}

/* Splits text into entries. Each line, the last one with or without a
 * newline, is "user:password"; the password ends at '\r' or the line's end.
 * A line without ':' before any NUL byte (an empty line, or an empty file),
 * or whose user name is longer than AUTH_USER_MAX, is malformed, as in
 * memcached; a NUL also ends a password. */
static enum authfile_result parse(struct auth_table *t)
{
    const char *p = t->text, *end = t->text + t->len;
    size_t lines = 0;
    for (const char *q = p; q < end; q++)
        if (*q == '\n')
            lines++;
    lines++;
    t->entries = calloc(lines, sizeof(*t->entries));
    if (t->entries == NULL)
        return AUTHFILE_NO_MEMORY;
    do {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        const char *colon = memchr(p, ':', (size_t)(line_end - p));
        if (colon == NULL || memchr(p, '\0', (size_t)(colon - p)) != NULL ||
            (size_t)(colon - p) > AUTH_USER_MAX)
            return AUTHFILE_MALFORMED;
        struct auth_entry *e = &t->entries[t->count++];
        e->user = p;
        e->ulen = (size_t)(colon - p);
        e->pass = colon + 1;
        e->plen = 0;
        while (e->pass + e->plen < line_end && e->pass[e->plen] != '\r' &&
               e->pass[e->plen] != '\0')
            e->plen++;
        p = nl ? nl + 1 : end;
    } while (p < end);
    return AUTHFILE_OK;
}

enum authfile_result authfile_load(const char *path)
{
    struct auth_table *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return AUTHFILE_NO_MEMORY;
    enum authfile_result r = read_file(path, &t->text, &t->len);
    if (r == AUTHFILE_OK)
        r = parse(t);
    if (r != AUTHFILE_OK) {
        int saved = errno;
        table_free(t);
        errno = saved;
        return r;
    }
    struct auth_table *old = atomic_exchange(&current_table, t);
    /* A check that started before the swap may still read old; one that
     * starts after it reads t. Wait for the former (they are short). */
    while (atomic_load(&checks_in_flight) != 0)
        sched_yield();
    table_free(old);
    return AUTHFILE_OK;
}

void authfile_print_error(enum authfile_result r, const char *path, int errnum)
{
    switch (r) {
    case AUTHFILE_OK:
        break;
    case AUTHFILE_STAT_FAILED:
        fprintf(stderr, "Could not stat authfile [%s], error %s: %s\n", path,
                strerror(errnum), strerror(errnum));
        break;
    case AUTHFILE_OPEN_FAILED:
        fprintf(stderr, "Could not open authfile [%s] for reading, error %s: %s\n", path,
                strerror(errnum), strerror(errnum));
        break;
    case AUTHFILE_NO_MEMORY:
        /* memcached prints these two without a newline. */
        fprintf(stderr, "Out of memory reading password file: %s", path);
        break;
    case AUTHFILE_MALFORMED:
        fprintf(stderr, "Authfile [%s] has a malformed entry. Should be 'user:password'", path);
        break;
    }
}

/* Nonzero unless given equals stored; looks at every stored byte whatever
 * the outcome, so the time depends on the stored length only. */
static unsigned differs(const char *given, size_t glen, const char *stored, size_t slen)
{
    unsigned diff = glen != slen;
    for (size_t i = 0; i < slen; i++) {
        unsigned char g = i < glen ? (unsigned char)given[i] : 0;
        diff |= g ^ (unsigned char)stored[i];
    }
    return diff;
}

bool authfile_check(const char *user, size_t ulen, const char *pass, size_t plen)
{
    atomic_fetch_add(&checks_in_flight, 1);
    const struct auth_table *t = atomic_load(&current_table);
    unsigned found = 0;
    if (t != NULL) {
        /* Every entry is compared: no early exit tells which matched. */
        for (size_t i = 0; i < t->count; i++) {
            const struct auth_entry *e = &t->entries[i];
            unsigned diff = differs(user, ulen, e->user, e->ulen) |
                            differs(pass, plen, e->pass, e->plen);
            found |= diff == 0;
        }
    }
    atomic_fetch_sub(&checks_in_flight, 1);
    return found != 0;
}
