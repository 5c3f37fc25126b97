/* mctop.c: the hottest memcached keys, live. Loads mctop.bpf.c's object
 * (through its generated skeleton), attaches it to request__sample (or
 * request__done with --exact) of one server (-p) or of every process of a
 * binary (-b), and shows the per-key counters as a full-screen table (plain
 * ANSI, no curses) or prints them as text, CSV or JSON (--batch). Needs
 * libbpf and a kernel with BTF and uprobes at run time; see mctop(8). */
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "mctop.h"
#include "mctop.skel.h"

/* ---- options ------------------------------------------------------------ */

enum out_format { OUT_TEXT, OUT_CSV, OUT_JSON };

static struct {
    int pid;                /* -p: one server; 0: none */
    const char *binary;     /* -b: every process of this binary; NULL: none */
    bool exact;             /* --exact: request__done instead of request__sample */
    bool batch;             /* --batch: no TUI */
    enum out_format format; /* --csv, --json (batch) */
    double duration;        /* -d: seconds to run; 0: until interrupted */
    double interval;        /* positional: seconds between tables/refreshes; 0: one table at the end (batch) */
    int rows;               /* -n: rows shown; 0: all that fit (TUI) or all (batch) */
    unsigned map_keys;      /* -K: key map entries */
    char delimiter;         /* -D: prefix delimiter */
    bool prefix;            /* -P: start with keys rolled up by prefix */
    const char *dump_file;  /* -o: where "d" writes; NULL: mctop-<time>.json */
    char target[300];       /* what the header calls the target */
} opt = { .map_keys = 4096, .delimiter = ':' };

static void usage(FILE *f)
{
    fprintf(f,
        "usage: mctop [options] [-p PID | -b BINARY] [interval]\n"
        "  the hottest keys of a memcached-sdt server, live (see mctop(8))\n"
        "  -p PID        trace this server process (default: the only process\n"
        "                named memcached or memcached-debug)\n"
        "  -b BINARY     trace every process running BINARY (with -p: only PID)\n"
        "  --exact       count every operation (request__done) instead of a\n"
        "                sample of them (request__sample, the default)\n"
        "  --batch       print tables instead of the full-screen view\n"
        "  --json, --csv batch output as JSON lines or CSV (default: text)\n"
        "  -d SECONDS    stop after SECONDS (default: run until q or ^C)\n"
        "  -n ROWS       show at most ROWS keys\n"
        "  -K KEYS       key map size (default 4096; the least recent keys give\n"
        "                way when it is full; totals always count everything)\n"
        "  -P            start with keys rolled up by prefix\n"
        "  -D CHAR       prefix delimiter (default ':')\n"
        "  -o FILE       file the d key dumps JSON to (default mctop-<time>.json)\n"
        "  interval      seconds between refreshes (TUI, default 1) or between\n"
        "                tables (batch; default: one table at the end)\n"
        "keys: 1-9 or n c r e s h b m l sort (again: reverse), j/k move, g/G\n"
        "  top/bottom, Enter detail, / filter, P prefixes, d dump JSON,\n"
        "  space pause, z zero, q quit\n");
}

/* ---- counters and the key table ------------------------------------------ */

#define CMDS_GET(s) ((s)->cmds[MC_GET] + (s)->cmds[MC_GETS] + (s)->cmds[MC_GAT] + \
                     (s)->cmds[MC_GATS] + (s)->cmds[MC_MG])
#define CMDS_SET(s) ((s)->cmds[MC_SET] + (s)->cmds[MC_ADD] + (s)->cmds[MC_REPLACE] + \
                     (s)->cmds[MC_APPEND] + (s)->cmds[MC_PREPEND] + (s)->cmds[MC_CAS] + \
                     (s)->cmds[MC_MS])

#define NAME_OF(id, name) name,
static const char *const cmd_names[] = { MCTOP_COMMANDS(NAME_OF) };
static const char *const status_names[] = { MCTOP_STATUSES(NAME_OF) };
#undef NAME_OF

static unsigned long long calls_of(const struct mctop_stats *s)
{
    unsigned long long n = 0;
    for (int i = 0; i < MCTOP_NCMD; i++)
        n += s->cmds[i];
    return n;
}

static void stats_sub(struct mctop_stats *d, const struct mctop_stats *a,
                      const struct mctop_stats *b)
{
    const unsigned long long *pa = (const void *)a, *pb = (const void *)b;
    unsigned long long *pd = (void *)d;
    for (size_t i = 0; i < sizeof(*d) / sizeof(*pd); i++)
        pd[i] = pa[i] >= pb[i] ? pa[i] - pb[i] : 0;
}

static void stats_add(struct mctop_stats *d, const struct mctop_stats *a)
{
    const unsigned long long *pa = (const void *)a;
    unsigned long long *pd = (void *)d;
    for (size_t i = 0; i < sizeof(*d) / sizeof(*pd); i++)
        pd[i] += pa[i];
}

/* Microseconds in the middle of latency class c (see mctop.h). */
static double lat_class_us(int c)
{
    if (c == 0)
        return (double)(1 << MCTOP_LAT_MIN_LOG2) / 2 / 1000;
    double base = (double)(1ULL << (MCTOP_LAT_MIN_LOG2 + (c - 1) / 2));
    double lo = base * (1 + 0.5 * ((c - 1) % 2));
    return (lo + base * 0.25) / 1000;
}

/* The p-quantile (0..1) of s's latencies in microseconds; -1 with none. */
static double quantile_us(const struct mctop_stats *s, double p)
{
    unsigned long long total = 0, acc = 0;
    for (int i = 0; i < MCTOP_NLAT; i++)
        total += s->lat[i];
    if (total == 0)
        return -1;
    for (int i = 0; i < MCTOP_NLAT; i++) {
        acc += s->lat[i];
        if ((double)acc >= p * (double)total)
            return lat_class_us(i);
    }
    return lat_class_us(MCTOP_NLAT - 1);
}

/* A key as the map last showed it. cur: the map's counters; base: cur at
 * the last reset (z, or a batch table); prev_*: at the previous poll. */
struct entry {
    char key[MCTOP_KEY_MAX];
    struct mctop_stats cur, base;
    unsigned long long prev_calls, prev_bytes;
    double calls_rate, bytes_rate;      /* per second over the last poll */
    unsigned gen;                       /* the poll that last saw the key in the map */
};

/* The keys the map held at the last poll, with an open-addressed index;
 * keys gone from the map are dropped after each poll. */
struct table {
    struct entry *e;
    unsigned n, cap;        /* entries used, allocated */
    unsigned *slot;         /* hash slot -> entry index + 1; 0: empty */
    unsigned nslot;         /* a power of two, >= 2 * cap */
};

static unsigned long key_hash(const char *k)
{
    unsigned long h = 1469598103934665603UL;
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 1099511628211UL;
    return h;
}

static void table_init(struct table *t, unsigned cap)
{
    t->cap = cap;
    t->n = 0;
    t->e = calloc(cap, sizeof(*t->e));
    for (t->nslot = 1; t->nslot < 2 * cap; t->nslot <<= 1)
        ;
    t->slot = calloc(t->nslot, sizeof(*t->slot));
    if (!t->e || !t->slot) {
        fprintf(stderr, "mctop: out of memory\n");
        exit(1);
    }
}

static struct entry *table_find(const struct table *t, const char *key)
{
    for (unsigned h = (unsigned)key_hash(key) & (t->nslot - 1);; h = (h + 1) & (t->nslot - 1)) {
        if (t->slot[h] == 0)
            return NULL;
        struct entry *e = &t->e[t->slot[h] - 1];
        if (strcmp(e->key, key) == 0)
            return e;
    }
}

/* Adds key (not yet present); NULL when full. */
static struct entry *table_add(struct table *t, const char *key)
{
    if (t->n == t->cap)
        return NULL;
    unsigned h = (unsigned)key_hash(key) & (t->nslot - 1);
    while (t->slot[h] != 0)
        h = (h + 1) & (t->nslot - 1);
    struct entry *e = &t->e[t->n++];
    memset(e, 0, sizeof(*e));
    snprintf(e->key, sizeof(e->key), "%s", key);
    t->slot[h] = t->n;
    return e;
}

/* Drops the entries the poll gen did not see; rebuilds the index. */
static void table_compact(struct table *t, unsigned gen)
{
    unsigned j = 0;
    for (unsigned i = 0; i < t->n; i++)
        if (t->e[i].gen == gen) {
            if (i != j)
                t->e[j] = t->e[i];
            j++;
        }
    t->n = j;
    memset(t->slot, 0, t->nslot * sizeof(*t->slot));
    for (unsigned i = 0; i < t->n; i++) {
        unsigned h = (unsigned)key_hash(t->e[i].key) & (t->nslot - 1);
        while (t->slot[h] != 0)
            h = (h + 1) & (t->nslot - 1);
        t->slot[h] = i + 1;
    }
}

/* ---- the tracer's state ---------------------------------------------------- */

static struct mctop_bpf *skel;
static struct table table;
static struct table *keys_now = &table;
static unsigned poll_gen;
static struct mctop_stats totals_cur, totals_base;
static unsigned long long new_keys, last_rate;
static unsigned long long totals_prev_calls, totals_prev_bytes;
static double totals_calls_rate, totals_bytes_rate;
static double t_start, t_poll, t_base;     /* monotonic seconds */
static int ncpus;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void read_totals(void)
{
    struct mctop_totals *per = calloc((size_t)ncpus, sizeof(*per));
    __u32 zero = 0;
    if (!per || bpf_map_lookup_elem(bpf_map__fd(skel->maps.totals), &zero, per) != 0) {
        free(per);
        return;
    }
    memset(&totals_cur, 0, sizeof(totals_cur));
    new_keys = 0;
    for (int i = 0; i < ncpus; i++) {
        stats_add(&totals_cur, &per[i].all);
        new_keys += per[i].new_keys;
        if (per[i].last_rate)
            last_rate = per[i].last_rate;
    }
    free(per);
}

/* Reads the key map and the totals into the tables. */
static void poll_maps(void)
{
    double t = now_s(), dt = t - t_poll;
    poll_gen++;
    int fd = bpf_map__fd(skel->maps.keys);
    char k[MCTOP_KEY_MAX], next[MCTOP_KEY_MAX];
    struct mctop_stats v;
    void *prev = NULL;
    while (bpf_map_get_next_key(fd, prev, next) == 0) {
        memcpy(k, next, sizeof(k));
        prev = k;
        if (bpf_map_lookup_elem(fd, k, &v) != 0)
            continue;
        k[MCTOP_KEY_MAX - 1] = '\0';
        struct entry *e = table_find(keys_now, k);
        if (e && e->gen == poll_gen)
            continue;       /* seen twice: the walk restarted */
        if (!e && !(e = table_add(keys_now, k)))
            break;
        unsigned long long calls = calls_of(&v);
        if (calls < e->prev_calls) {
            /* evicted and back since the last poll: counts restarted */
            memset(&e->base, 0, sizeof(e->base));
            e->prev_calls = e->prev_bytes = 0;
        }
        /* a key new to mctop counts from zero: its base is 0 */
        e->cur = v;
        e->gen = poll_gen;
        e->calls_rate = dt > 0 ? (double)(calls - e->prev_calls) / dt : 0;
        e->bytes_rate = dt > 0 && v.bytes >= e->prev_bytes
                        ? (double)(v.bytes - e->prev_bytes) / dt : 0;
        e->prev_calls = calls;
        e->prev_bytes = v.bytes;
    }
    table_compact(keys_now, poll_gen);

    read_totals();
    unsigned long long tc = calls_of(&totals_cur);
    totals_calls_rate = dt > 0 ? (double)(tc - totals_prev_calls) / dt : 0;
    totals_bytes_rate = dt > 0 ? (double)(totals_cur.bytes - totals_prev_bytes) / dt : 0;
    totals_prev_calls = tc;
    totals_prev_bytes = totals_cur.bytes;
    t_poll = t;
}

/* Starts counting from now (z, and each batch table). */
static void reset_counts(void)
{
    for (unsigned i = 0; i < keys_now->n; i++)
        keys_now->e[i].base = keys_now->e[i].cur;
    totals_base = totals_cur;
    t_base = t_poll;
}

/* ---- rows: what a table shows ---------------------------------------------- */

enum column { COL_KEY, COL_CALLS, COL_RATE, COL_GETS, COL_SETS, COL_HIT, COL_BYTES,
              COL_P50, COL_P99, NCOLS };
static const struct { const char *title; int width; char key; } columns[NCOLS] = {
    [COL_KEY] = { "KEY", 0, 'n' },
    [COL_CALLS] = { "CALLS", 11, 'c' },
    [COL_RATE] = { "CALLS/s", 10, 'r' },
    [COL_GETS] = { "GETS", 11, 'e' },
    [COL_SETS] = { "SETS", 10, 's' },
    [COL_HIT] = { "HIT%", 6, 'h' },
    [COL_BYTES] = { "BYTES/s", 10, 'b' },
    [COL_P50] = { "P50us", 8, 'm' },
    [COL_P99] = { "P99us", 8, 'l' },
};

struct row {
    const char *key;            /* the entry's key; NULL when rolled up (see prefix) */
    char prefix[MCTOP_KEY_MAX]; /* the rolled-up prefix, when rolled up */
    struct mctop_stats d;       /* counts since the base */
    double calls_rate, bytes_rate;
    unsigned long long calls, gets, sets, hits, misses;
    double hit_pct, p50, p99;
};

static struct row *rows;
static unsigned nrows, rows_cap;
static enum column sort_col = COL_CALLS;
static bool sort_reverse;
static char filter[128];
static bool rolled_up;

/* The row's key or prefix (rows move when sorted: no pointer to prefix). */
static const char *row_key(const struct row *r) { return r->key ? r->key : r->prefix; }

static void row_finish(struct row *r)
{
    r->calls = calls_of(&r->d);
    r->gets = CMDS_GET(&r->d);
    r->sets = CMDS_SET(&r->d);
    r->hits = r->d.status[ST_HIT];
    r->misses = r->d.status[ST_MISS];
    r->hit_pct = r->hits + r->misses ? 100.0 * (double)r->hits / (double)(r->hits + r->misses) : -1;
    r->p50 = quantile_us(&r->d, 0.50);
    r->p99 = quantile_us(&r->d, 0.99);
}

static double col_value(const struct row *r, enum column c)
{
    switch (c) {
    case COL_CALLS: return (double)r->calls;
    case COL_RATE: return r->calls_rate;
    case COL_GETS: return (double)r->gets;
    case COL_SETS: return (double)r->sets;
    case COL_HIT: return r->hit_pct;
    case COL_BYTES: return r->bytes_rate;
    case COL_P50: return r->p50;
    case COL_P99: return r->p99;
    default: return 0;
    }
}

static int row_cmp(const void *pa, const void *pb)
{
    const struct row *a = pa, *b = pb;
    int c;
    if (sort_col == COL_KEY) {
        c = strcmp(row_key(a), row_key(b));
    } else {
        double va = col_value(a, sort_col), vb = col_value(b, sort_col);
        c = va > vb ? -1 : va < vb ? 1 : 0;     /* biggest first */
        if (c == 0)
            c = a->calls > b->calls ? -1 : a->calls < b->calls ? 1 : strcmp(row_key(a), row_key(b));
    }
    return sort_reverse ? -c : c;
}

static bool key_matches(const char *key)
{
    if (!filter[0])
        return true;
    if (strpbrk(filter, "*?["))
        return fnmatch(filter, key, 0) == 0;
    return strstr(key, filter) != NULL;
}

/* Rebuilds rows from the key table: filtered, rolled up, sorted. */
static void build_rows(void)
{
    if (rows_cap < keys_now->n) {
        free(rows);
        rows_cap = keys_now->n + 64;
        rows = calloc(rows_cap ? rows_cap : 1, sizeof(*rows));
        if (!rows) {
            fprintf(stderr, "mctop: out of memory\n");
            exit(1);
        }
    }
    nrows = 0;
    for (unsigned i = 0; i < keys_now->n; i++) {
        struct entry *e = &keys_now->e[i];
        if (!key_matches(e->key))
            continue;
        struct mctop_stats d;
        stats_sub(&d, &e->cur, &e->base);
        if (calls_of(&d) == 0)
            continue;
        struct row *r = NULL;
        if (rolled_up) {
            const char *cut = strchr(e->key, opt.delimiter);
            size_t len = cut ? (size_t)(cut - e->key) : strlen(e->key);
            for (unsigned j = 0; j < nrows; j++)
                if (strncmp(rows[j].prefix, e->key, len) == 0 && rows[j].prefix[len] == '\0') {
                    r = &rows[j];
                    break;
                }
            if (!r) {
                r = &rows[nrows++];
                memset(r, 0, sizeof(*r));
                memcpy(r->prefix, e->key, len);
                r->prefix[len] = '\0';
                r->key = NULL;
            }
        } else {
            r = &rows[nrows++];
            memset(r, 0, offsetof(struct row, d));
            memset(&r->d, 0, sizeof(r->d));
            r->calls_rate = r->bytes_rate = 0;
            r->key = e->key;
        }
        stats_add(&r->d, &d);
        r->calls_rate += e->calls_rate;
        r->bytes_rate += e->bytes_rate;
    }
    for (unsigned j = 0; j < nrows; j++)
        row_finish(&rows[j]);
    qsort(rows, nrows, sizeof(*rows), row_cmp);
}

/* ---- output: JSON, CSV, text ------------------------------------------------ */

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static const char *mode_name(void) { return opt.exact ? "exact" : "sampled"; }

static unsigned long long rate_shown(void) { return opt.exact ? 1 : last_rate; }

static unsigned shown_rows(void)
{
    return opt.rows > 0 && (unsigned)opt.rows < nrows ? (unsigned)opt.rows : nrows;
}

static void print_json(FILE *f, double secs)
{
    struct mctop_stats d;
    stats_sub(&d, &totals_cur, &totals_base);
    fprintf(f, "{\"target\":");
    json_string(f, opt.target);
    fprintf(f, ",\"mode\":\"%s\",\"sample_rate\":", mode_name());
    if (rate_shown())
        fprintf(f, "%llu", rate_shown());
    else
        fprintf(f, "null");
    fprintf(f, ",\"seconds\":%.3f,\"map_keys\":%u,\"keys_in_map\":%u,"
            "\"totals\":{\"calls\":%llu,\"gets\":%llu,\"sets\":%llu,\"hits\":%llu,"
            "\"bytes\":%llu,\"samples\":%llu},\"keys\":[",
            secs, opt.map_keys, keys_now->n, calls_of(&d), CMDS_GET(&d), CMDS_SET(&d),
            d.status[ST_HIT], d.bytes, d.samples);
    for (unsigned i = 0; i < shown_rows(); i++) {
        const struct row *r = &rows[i];
        fprintf(f, "%s{\"key\":", i ? "," : "");
        json_string(f, row_key(r));
        fprintf(f, ",\"calls\":%llu,\"gets\":%llu,\"sets\":%llu,\"hits\":%llu,"
                "\"bytes\":%llu,\"samples\":%llu,\"p50_us\":%.1f,\"p99_us\":%.1f}",
                r->calls, r->gets, r->sets, r->hits, r->d.bytes, r->d.samples,
                r->p50 < 0 ? 0 : r->p50, r->p99 < 0 ? 0 : r->p99);
    }
    fprintf(f, "]}\n");
}

static void print_csv(FILE *f, double secs, bool header)
{
    if (header)
        fprintf(f, "seconds,key,calls,calls_per_s,gets,sets,hits,hit_pct,bytes,bytes_per_s,"
                "p50_us,p99_us\n");
    for (unsigned i = 0; i < shown_rows(); i++) {
        const struct row *r = &rows[i];
        fprintf(f, "%.3f,", secs);
        bool quote = strpbrk(row_key(r), ",\"") != NULL;
        if (quote) {
            fputc('"', f);
            for (const char *p = row_key(r); *p; p++) {
                if (*p == '"')
                    fputc('"', f);
                fputc(*p, f);
            }
            fputc('"', f);
        } else {
            fputs(row_key(r), f);
        }
        fprintf(f, ",%llu,%.1f,%llu,%llu,%llu,%.1f,%llu,%.1f,%.1f,%.1f\n", r->calls,
                secs > 0 ? (double)r->calls / secs : 0, r->gets, r->sets, r->hits,
                r->hit_pct < 0 ? 0 : r->hit_pct, r->d.bytes,
                secs > 0 ? (double)r->d.bytes / secs : 0, r->p50 < 0 ? 0 : r->p50,
                r->p99 < 0 ? 0 : r->p99);
    }
}

static void fmt_num(char *buf, size_t n, double v, bool pct)
{
    if (v < 0)
        snprintf(buf, n, "-");
    else if (pct)
        snprintf(buf, n, "%.1f", v);
    else if (v < 100000)
        snprintf(buf, n, "%.0f", v);
    else if (v < 100e6)
        snprintf(buf, n, "%.1fK", v / 1e3);
    else
        snprintf(buf, n, "%.1fM", v / 1e6);
}

/* One table row as text: the columns, then the key (cut to width). */
static void format_row(char *buf, size_t n, const struct row *r, double secs, bool batch,
                       int keywidth)
{
    char c[NCOLS][24];
    double calls_rate = batch ? (secs > 0 ? (double)r->calls / secs : 0) : r->calls_rate;
    double bytes_rate = batch ? (secs > 0 ? (double)r->d.bytes / secs : 0) : r->bytes_rate;
    snprintf(c[COL_CALLS], 24, "%llu", r->calls);
    fmt_num(c[COL_RATE], 24, calls_rate, false);
    snprintf(c[COL_GETS], 24, "%llu", r->gets);
    snprintf(c[COL_SETS], 24, "%llu", r->sets);
    fmt_num(c[COL_HIT], 24, r->hit_pct, true);
    fmt_num(c[COL_BYTES], 24, bytes_rate, false);
    if (r->p50 < 0)
        snprintf(c[COL_P50], 24, "-");
    else
        snprintf(c[COL_P50], 24, "%.1f", r->p50);
    if (r->p99 < 0)
        snprintf(c[COL_P99], 24, "-");
    else
        snprintf(c[COL_P99], 24, "%.1f", r->p99);
    snprintf(buf, n, "%*s %*s %*s %*s %*s %*s %*s %*s  %.*s",
             columns[COL_CALLS].width, c[COL_CALLS], columns[COL_RATE].width, c[COL_RATE],
             columns[COL_GETS].width, c[COL_GETS], columns[COL_SETS].width, c[COL_SETS],
             columns[COL_HIT].width, c[COL_HIT], columns[COL_BYTES].width, c[COL_BYTES],
             columns[COL_P50].width, c[COL_P50], columns[COL_P99].width, c[COL_P99],
             keywidth, row_key(r));
}

static void format_header(char *buf, size_t n)
{
    char t[NCOLS][24];
    for (int i = 0; i < NCOLS; i++)
        snprintf(t[i], 24, "%s%s", columns[i].title,
                 (enum column)i == sort_col ? (sort_reverse ? "^" : "v") : "");
    snprintf(buf, n, "%*s %*s %*s %*s %*s %*s %*s %*s  %s",
             columns[COL_CALLS].width, t[COL_CALLS], columns[COL_RATE].width, t[COL_RATE],
             columns[COL_GETS].width, t[COL_GETS], columns[COL_SETS].width, t[COL_SETS],
             columns[COL_HIT].width, t[COL_HIT], columns[COL_BYTES].width, t[COL_BYTES],
             columns[COL_P50].width, t[COL_P50], columns[COL_P99].width, t[COL_P99],
             t[COL_KEY]);
}

static void print_text(FILE *f, double secs)
{
    struct mctop_stats d;
    stats_sub(&d, &totals_cur, &totals_base);
    char rate[64];
    if (opt.exact)
        snprintf(rate, sizeof(rate), "exact");
    else if (last_rate)
        snprintf(rate, sizeof(rate), "sampled 1/%llu (estimates)", last_rate);
    else
        snprintf(rate, sizeof(rate), "sampled (no sample yet)");
    fprintf(f, "# mctop %s, %s, %.1f s: %llu calls, %llu gets, %llu sets, %llu hits, "
            "%llu value bytes; %u keys in the map (of %u)\n", opt.target, rate, secs,
            calls_of(&d), CMDS_GET(&d), CMDS_SET(&d), d.status[ST_HIT], d.bytes,
            keys_now->n, opt.map_keys);
    char line[512];
    format_header(line, sizeof(line));
    fprintf(f, "%s\n", line);
    for (unsigned i = 0; i < shown_rows(); i++) {
        format_row(line, sizeof(line), &rows[i], secs, true, MCTOP_KEY_MAX);
        fprintf(f, "%s\n", line);
    }
    fprintf(f, "\n");
}

/* ---- attaching ------------------------------------------------------------------ */

static volatile sig_atomic_t stop_requested, resized = 1;
static void on_stop(int sig) { (void)sig; stop_requested = 1; }
static void on_winch(int sig) { (void)sig; resized = 1; }

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    if (level == LIBBPF_WARN || getenv("MCTOP_DEBUG"))
        return vfprintf(stderr, fmt, ap);
    return 0;
}

/* The pid of process pid in its innermost PID namespace (a container's
 * view of it); pid itself when it has no namespace of its own or that
 * cannot be read. */
static int namespace_pid(int pid)
{
    char path[64], line[256];
    int ns = pid;
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return pid;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "NSpid:", 6) == 0) {
            char *p = line + 6, *end;
            for (long v; (v = strtol(p, &end, 10)), end != p; p = end)
                ns = (int)v;    /* the last one is the innermost */
            break;
        }
    fclose(f);
    return ns;
}

/* Attaches to -p's binary, as /proc/PID/exe (which also reaches a binary
 * only visible in the process's mount namespace), or to -b's; with -p, a
 * -b path missing here is looked up under /proc/PID/root, where the
 * process sees it (a container's path). Exits on failure. */
static void attach(void)
{
    char path[PATH_MAX + 64];
    const char *binary = opt.binary;
    if (!binary) {
        snprintf(path, sizeof(path), "/proc/%d/exe", opt.pid);
        binary = path;
    } else if (opt.pid && binary[0] == '/' && access(binary, F_OK) != 0) {
        snprintf(path, sizeof(path), "/proc/%d/root%s", opt.pid, binary);
        binary = path;
    }
    struct bpf_program *prog = opt.exact ? skel->progs.on_done : skel->progs.on_sample;
    const char *probe = opt.exact ? "request__done" : "request__sample";
    struct bpf_link *link = bpf_program__attach_usdt(prog, opt.pid ? opt.pid : -1, binary,
                                                     "memcached", probe, NULL);
    if (!link) {
        fprintf(stderr, "mctop: cannot attach to memcached:%s in %s: %s\n"
                "  (a memcached-sdt built with --enable-dtrace? root or CAP_BPF+CAP_PERFMON?)\n",
                probe, binary, strerror(errno));
        exit(1);
    }
    if (opt.exact)
        skel->links.on_done = link;
    else
        skel->links.on_sample = link;
    int ns = opt.pid ? namespace_pid(opt.pid) : 0;
    char in_ns[48] = "";
    if (ns != opt.pid)
        snprintf(in_ns, sizeof(in_ns), " (%d in its PID namespace)", ns);
    if (opt.pid)
        snprintf(opt.target, sizeof(opt.target), "PID %d%s%s%s", opt.pid, in_ns,
                 opt.binary ? " of " : "", opt.binary ? opt.binary : "");
    else
        snprintf(opt.target, sizeof(opt.target), "%s (every process)", opt.binary);
}

/* The pid of the only process named memcached or memcached-debug; 0 when
 * there is none or more than one (then says so). */
static int only_server(void)
{
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    int found = 0, n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        int pid = atoi(de->d_name);
        if (pid <= 0)
            continue;
        char path[64], comm[32] = "";
        snprintf(path, sizeof(path), "/proc/%d/comm", pid);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        if (fgets(comm, sizeof(comm), f))
            comm[strcspn(comm, "\n")] = '\0';
        fclose(f);
        if (strcmp(comm, "memcached") == 0 || strcmp(comm, "memcached-debug") == 0) {
            found = pid;
            n++;
        }
    }
    closedir(d);
    if (n != 1)
        fprintf(stderr, "mctop: %s memcached process: name one with -p PID or -b BINARY\n",
                n ? "more than one" : "no");
    return n == 1 ? found : 0;
}

static bool target_gone(void)
{
    return opt.pid && kill(opt.pid, 0) != 0 && errno == ESRCH;
}

/* ---- batch mode ---------------------------------------------------------------- */

static void batch_table(bool first)
{
    poll_maps();
    build_rows();
    double secs = t_poll - t_base;
    if (opt.format == OUT_JSON)
        print_json(stdout, secs);
    else if (opt.format == OUT_CSV)
        print_csv(stdout, secs, first);
    else
        print_text(stdout, secs);
    fflush(stdout);
    reset_counts();
}

static void run_batch(void)
{
    double end = opt.duration > 0 ? t_start + opt.duration : 0;
    double next = opt.interval > 0 ? t_start + opt.interval : 0;
    bool first = true;
    while (!stop_requested) {
        double t = now_s();
        if (end && t >= end)
            break;
        if (target_gone())
            break;
        if (next && t >= next) {
            batch_table(first);
            first = false;
            next += opt.interval;
            continue;
        }
        double wake = end ? end : t + 3600;
        if (next && next < wake)
            wake = next;
        if (wake > t + 0.1)
            wake = t + 0.1;         /* to notice a stop or the target's end */
        struct timespec ts = { (time_t)(wake - t), (long)((wake - t - (double)(time_t)(wake - t)) * 1e9) };
        nanosleep(&ts, NULL);
    }
    /* the rest since the last table (everything, without an interval) */
    if (first || now_s() - t_poll > 0.05)
        batch_table(first);
}

/* ---- the full-screen view -------------------------------------------------------- */

static struct termios saved_tio;
static bool tui_on;
static int term_rows = 24, term_cols = 80;
static unsigned sel, top;           /* selected row, first row shown */
static char sel_key[MCTOP_KEY_MAX];
static bool paused, detail, editing;
static char edit_buf[sizeof(filter)];
static char status_msg[400];
static char *screen;                /* the frame being built */
static size_t screen_len, screen_cap;

static void tui_leave(void)
{
    if (!tui_on)
        return;
    tui_on = false;
    fputs("\033[?25h\033[?1049l", stdout);
    fflush(stdout);
    tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
}

static void tui_enter(void)
{
    if (tcgetattr(STDIN_FILENO, &saved_tio) != 0) {
        fprintf(stderr, "mctop: stdin is not a terminal (use --batch)\n");
        exit(1);
    }
    struct termios raw = saved_tio;
    raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    raw.c_iflag &= ~(tcflag_t)(IXON | ICRNL);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    tui_on = true;
    atexit(tui_leave);
    fputs("\033[?1049h\033[?25l", stdout);
}

static void put(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line))
        n = sizeof(line) - 1;
    if (screen_len + (size_t)n + 1 > screen_cap) {
        screen_cap = (screen_len + (size_t)n + 1) * 2;
        screen = realloc(screen, screen_cap);
        if (!screen)
            exit(1);
    }
    memcpy(screen + screen_len, line, (size_t)n);
    screen_len += (size_t)n;
}

/* One screen line: text cut to the width, the rest of the line cleared. */
static void put_line(const char *attr, const char *text)
{
    put("%s%.*s\033[K\033[0m\r\n", attr, term_cols, text);
}

static void draw_header(void)
{
    char line[600], rate[64];
    struct mctop_stats d;
    stats_sub(&d, &totals_cur, &totals_base);
    if (opt.exact)
        snprintf(rate, sizeof(rate), "exact (every operation)");
    else if (last_rate)
        snprintf(rate, sizeof(rate), "sampled 1/%llu: estimates", last_rate);
    else
        snprintf(rate, sizeof(rate), "sampled: no sample yet");
    snprintf(line, sizeof(line), "mctop  %s  every %.1fs  %s  up %.0fs%s", opt.target,
             opt.interval, rate, now_s() - t_start, paused ? "  [PAUSED]" : "");
    put_line("\033[1m", line);
    unsigned long long gets = CMDS_GET(&d), hits = d.status[ST_HIT], miss = d.status[ST_MISS];
    char hit[16];
    fmt_num(hit, sizeof(hit), hits + miss ? 100.0 * (double)hits / (double)(hits + miss) : -1, true);
    char cr[24], br[24];
    fmt_num(cr, sizeof(cr), totals_calls_rate, false);
    fmt_num(br, sizeof(br), totals_bytes_rate, false);
    snprintf(line, sizeof(line), "total %llu calls (%s/s), %llu gets, %llu sets, hit %s%%, "
             "%s value bytes/s; keys %u/%u%s", calls_of(&d), cr, gets, CMDS_SET(&d), hit, br,
             keys_now->n, opt.map_keys,
             new_keys > opt.map_keys ? " (map full: coldest keys give way, totals exact)" : "");
    put_line("", line);
    snprintf(line, sizeof(line), "sort %s%s  filter %s  prefixes %s (-D '%c')  %s",
             columns[sort_col].title, sort_reverse ? " (reversed)" : "",
             filter[0] ? filter : "-", rolled_up ? "on" : "off", opt.delimiter,
             editing ? "" : status_msg);
    put_line("", line);
}

static void draw_table(void)
{
    char line[600];
    format_header(line, sizeof(line));
    put_line("\033[7m", line);
    int avail = term_rows - 5;      /* 3 header lines, column titles, the footer */
    if (avail < 1)
        avail = 1;
    unsigned limit = shown_rows();
    if (sel >= limit)
        sel = limit ? limit - 1 : 0;
    if (sel < top)
        top = sel;
    if (sel >= top + (unsigned)avail)
        top = sel - (unsigned)avail + 1;
    int keywidth = term_cols - 77;
    if (keywidth < 8)
        keywidth = 8;
    for (int i = 0; i < avail; i++) {
        unsigned r = top + (unsigned)i;
        if (r >= limit) {
            put_line("", "");
            continue;
        }
        format_row(line, sizeof(line), &rows[r], t_poll - t_base, false, keywidth);
        put_line(r == sel ? "\033[7m" : "", line);
    }
}

static void draw_detail(void)
{
    char line[600];
    const struct row *r = sel < nrows ? &rows[sel] : NULL;
    if (!r) {
        detail = false;
        return;
    }
    int used = 0, avail = term_rows - 4;
    snprintf(line, sizeof(line), "%s %s", rolled_up ? "prefix" : "key", row_key(r));
    put_line("\033[7m", line);
    snprintf(line, sizeof(line), "calls %llu (%.1f/s), value bytes %llu (%.0f/s), %llu probe hits",
             r->calls, r->calls_rate, r->d.bytes, r->bytes_rate, r->d.samples);
    put_line("", line);
    used += 2;
    if (!opt.exact && r->d.samples > 0) {
        double rse = 100.0 / sqrt((double)r->d.samples);
        snprintf(line, sizeof(line), "estimate from %llu samples: about +-%.0f%% (one standard "
                 "error)", r->d.samples, rse);
        put_line("", line);
        used++;
    }
    put_line("\033[1m", "commands");
    used++;
    for (int i = 0; i < MCTOP_NCMD && used < avail; i++)
        if (r->d.cmds[i]) {
            snprintf(line, sizeof(line), "  %-10s %12llu %5.1f%%", cmd_names[i], r->d.cmds[i],
                     100.0 * (double)r->d.cmds[i] / (double)(r->calls ? r->calls : 1));
            put_line("", line);
            used++;
        }
    put_line("\033[1m", "outcomes");
    used++;
    for (int i = 0; i < MCTOP_NSTATUS && used < avail; i++)
        if (r->d.status[i]) {
            snprintf(line, sizeof(line), "  %-10s %12llu %5.1f%%", status_names[i],
                     r->d.status[i],
                     100.0 * (double)r->d.status[i] / (double)(r->calls ? r->calls : 1));
            put_line("", line);
            used++;
        }
    snprintf(line, sizeof(line), "latency (us since the request was parsed; rows: class middle, "
             "count): p50 %.1f  p99 %.1f", r->p50, r->p99);
    put_line("\033[1m", line);
    used++;
    unsigned long long max = 0;
    int lo = -1, hi = -1;
    for (int i = 0; i < MCTOP_NLAT; i++)
        if (r->d.lat[i]) {
            if (lo < 0)
                lo = i;
            hi = i;
            if (r->d.lat[i] > max)
                max = r->d.lat[i];
        }
    int barw = term_cols - 36;
    if (barw < 10)
        barw = 10;
    for (int i = lo; lo >= 0 && i <= hi && used < avail; i++) {
        char bar[512];
        int n = max ? (int)((double)r->d.lat[i] * barw / (double)max) : 0;
        if (n > (int)sizeof(bar) - 1)
            n = (int)sizeof(bar) - 1;
        memset(bar, '#', (size_t)n);
        bar[n] = '\0';
        snprintf(line, sizeof(line), "  ~%9.1f %12llu |%s", lat_class_us(i), r->d.lat[i], bar);
        put_line("", line);
        used++;
    }
    while (used++ < avail + 1)
        put_line("", "");
}

static void draw(void)
{
    if (resized) {
        struct winsize ws;
        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0) {
            term_rows = ws.ws_row;
            term_cols = ws.ws_col;
        }
        resized = 0;
        put("\033[2J");
    }
    put("\033[H");
    draw_header();
    if (detail)
        draw_detail();
    else
        draw_table();
    char foot[300];
    if (editing)
        snprintf(foot, sizeof(foot), "filter (substring or glob; empty: none): %s", edit_buf);
    else if (detail)
        snprintf(foot, sizeof(foot), "Esc/Enter back  q quit");
    else
        snprintf(foot, sizeof(foot), "n c r e s h b m l sort  j/k g/G move  Enter detail  "
                 "/ filter  P prefixes  d dump  space pause  z zero  q quit");
    put("\033[%d;1H", term_rows);
    put("%s%.*s\033[K\033[0m", editing ? "\033[1m" : "\033[2m", term_cols, foot);
    put("\033[J");
    fwrite(screen, 1, screen_len, stdout);
    fflush(stdout);
    screen_len = 0;
}

static void remember_selection(void)
{
    if (sel < nrows)
        snprintf(sel_key, sizeof(sel_key), "%s", row_key(&rows[sel]));
}

static void restore_selection(void)
{
    for (unsigned i = 0; i < nrows; i++)
        if (strcmp(row_key(&rows[i]), sel_key) == 0) {
            sel = i;
            return;
        }
}

static void dump_json(void)
{
    char name[300];
    if (opt.dump_file) {
        snprintf(name, sizeof(name), "%s", opt.dump_file);
    } else {
        time_t t = time(NULL);
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(name, sizeof(name), "mctop-%Y%m%d-%H%M%S.json", &tm);
    }
    FILE *f = fopen(name, "w");
    if (!f) {
        snprintf(status_msg, sizeof(status_msg), "cannot write %.200s: %s", name, strerror(errno));
        return;
    }
    unsigned saved = (unsigned)opt.rows;
    opt.rows = 0;
    print_json(f, t_poll - t_base);
    opt.rows = (int)saved;
    fclose(f);
    snprintf(status_msg, sizeof(status_msg), "dumped %u rows to %.200s", nrows, name);
}

/* Handles one key press; returns false to quit. */
static bool handle_key(int c)
{
    if (editing) {
        size_t n = strlen(edit_buf);
        if (c == '\r' || c == '\n') {
            snprintf(filter, sizeof(filter), "%s", edit_buf);
            editing = false;
            sel = top = 0;
        } else if (c == 27) {
            editing = false;
        } else if (c == 127 || c == 8) {
            if (n)
                edit_buf[n - 1] = '\0';
        } else if (c >= 32 && c < 127 && n + 1 < sizeof(edit_buf)) {
            edit_buf[n] = (char)c;
            edit_buf[n + 1] = '\0';
        }
        return true;
    }
    if (c == 'q')
        return false;
    if (detail) {
        if (c == 27 || c == '\r' || c == '\n' || c == 127 || c == 8)
            detail = false;
        return true;
    }
    for (int i = 0; i < NCOLS; i++)
        if (c == columns[i].key || c == '1' + i) {
            if (sort_col == (enum column)i)
                sort_reverse = !sort_reverse;
            else
                sort_reverse = false;
            sort_col = (enum column)i;
            return true;
        }
    unsigned last = shown_rows() ? shown_rows() - 1 : 0;
    switch (c) {
    case 'j': if (sel < last) sel++; break;
    case 'k': if (sel > 0) sel--; break;
    case 'g': sel = 0; break;
    case 'G': sel = last; break;
    case ' ': paused = !paused; break;
    case 'p': paused = !paused; break;
    case 'P': rolled_up = !rolled_up; sel = top = 0; break;
    case '/': editing = true; snprintf(edit_buf, sizeof(edit_buf), "%s", filter); break;
    case '\r': case '\n': if (nrows) detail = true; break;
    case 'd': dump_json(); break;
    case 'z': reset_counts(); break;
    default: break;
    }
    return true;
}

/* Reads the pending input: keys, with the arrow keys' escape sequences
 * turned into j/k. Returns false to quit. */
static bool read_keys(void)
{
    unsigned char buf[64];
    ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
    for (ssize_t i = 0; i < n; i++) {
        int c = buf[i];
        if (c == 27 && i + 2 < n && buf[i + 1] == '[') {
            int a = buf[i + 2];
            i += 2;
            c = a == 'A' ? 'k' : a == 'B' ? 'j' : 0;
            if (editing || detail)
                c = a == 'A' || a == 'B' ? 0 : c;
            if (!c)
                continue;
        }
        remember_selection();
        if (!handle_key(c))
            return false;
        build_rows();
        restore_selection();
        if (c == 'j' || c == 'k' || c == 'g' || c == 'G' || c == '/' || c == 'P')
            remember_selection();
    }
    return true;
}

static void print_summary(void)
{
    double secs = t_poll - t_start;
    /* the summary covers the whole run */
    for (unsigned i = 0; i < keys_now->n; i++)
        memset(&keys_now->e[i].base, 0, sizeof(keys_now->e[i].base));
    memset(&totals_base, 0, sizeof(totals_base));
    t_base = t_start;
    filter[0] = '\0';
    rolled_up = false;
    sort_col = COL_CALLS;
    sort_reverse = false;
    build_rows();
    if (opt.rows <= 0)
        opt.rows = 10;
    printf("mctop summary: %.1f s\n", secs);
    print_text(stdout, secs);
}

static void run_tui(void)
{
    if (opt.interval <= 0)
        opt.interval = 1;
    signal(SIGWINCH, on_winch);
    tui_enter();
    rolled_up = opt.prefix;
    double next = now_s();
    double end = opt.duration > 0 ? t_start + opt.duration : 0;
    while (!stop_requested) {
        double t = now_s();
        if (end && t >= end)
            break;
        if (t >= next) {
            if (!paused) {
                remember_selection();
                poll_maps();
                build_rows();
                restore_selection();
            }
            next = t + opt.interval;
            if (target_gone()) {
                snprintf(status_msg, sizeof(status_msg), "the server has exited");
                paused = true;
            }
        }
        draw();
        double wait = next - now_s();
        if (end && end - now_s() < wait)
            wait = end - now_s();
        struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
        int ms = wait > 0 ? (int)(wait * 1000) + 1 : 0;
        if (poll(&p, 1, ms) > 0 && !read_keys())
            break;
    }
    tui_leave();
    print_summary();
}

/* ---- main ---------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    enum { O_EXACT = 256, O_BATCH, O_JSON, O_CSV };
    static const struct option longopts[] = {
        { "exact", no_argument, NULL, O_EXACT },
        { "batch", no_argument, NULL, O_BATCH },
        { "json", no_argument, NULL, O_JSON },
        { "csv", no_argument, NULL, O_CSV },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    int c;
    while ((c = getopt_long(argc, argv, "p:b:d:n:K:D:Po:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'p': opt.pid = atoi(optarg); break;
        case 'b': opt.binary = optarg; break;
        case 'd': opt.duration = atof(optarg); break;
        case 'n': opt.rows = atoi(optarg); break;
        case 'K': opt.map_keys = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'D': opt.delimiter = optarg[0]; break;
        case 'P': opt.prefix = true; break;
        case 'o': opt.dump_file = optarg; break;
        case O_EXACT: opt.exact = true; break;
        case O_BATCH: opt.batch = true; break;
        case O_JSON: opt.format = OUT_JSON; break;
        case O_CSV: opt.format = OUT_CSV; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc)
        opt.interval = atof(argv[optind++]);
    if (opt.pid == 0 && !opt.binary && optind >= argc - 1 && (opt.pid = only_server()) == 0)
        return 1;
    if (optind < argc || (opt.pid <= 0 && !opt.binary) || opt.map_keys < 1 ||
        opt.delimiter == '\0' || opt.interval < 0) {
        usage(stderr);
        return 2;
    }
    if (opt.pid && kill(opt.pid, 0) != 0 && errno == ESRCH) {
        fprintf(stderr, "mctop: no process %d\n", opt.pid);
        return 1;
    }

    libbpf_set_print(libbpf_quiet);
    ncpus = libbpf_num_possible_cpus();
    skel = mctop_bpf__open();
    if (!skel || ncpus <= 0) {
        fprintf(stderr, "mctop: cannot open the BPF object: %s\n", strerror(errno));
        return 1;
    }
    bpf_map__set_max_entries(skel->maps.keys, opt.map_keys);
    bpf_program__set_autoload(opt.exact ? skel->progs.on_sample : skel->progs.on_done, false);
    if (mctop_bpf__load(skel) != 0) {
        fprintf(stderr, "mctop: cannot load the BPF object: %s (root or CAP_BPF+CAP_PERFMON "
                "needed; a kernel with BTF)\n", strerror(errno));
        return 1;
    }
    attach();
    /* room for the map's keys and for keys new during one walk of it */
    table_init(&table, 2 * opt.map_keys);
    signal(SIGINT, on_stop);
    signal(SIGTERM, on_stop);
    signal(SIGHUP, on_stop);
    t_start = t_poll = t_base = now_s();
    if (getenv("MCTOP_READY"))      /* tests: attached and counting */
        fprintf(stderr, "mctop: attached\n");

    if (opt.batch)
        run_batch();
    else
        run_tui();
    mctop_bpf__destroy(skel);
    return 0;
}
