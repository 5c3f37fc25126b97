/* mctop.h: what mctop's BPF object (mctop.bpf.c) and its user-space side
 * (mctop.c) share: the key table's sets, the per-key counters, and the
 * command, outcome and latency classes they are counted in. Counts are
 * estimates of operations (each sample adds the sample rate in force) in
 * sampled mode and exact counts with --exact. */
#ifndef MCTOP_H
#define MCTOP_H

#define MCTOP_KEY_MAX 256       /* a key (<= 250 bytes) and its NUL, zero padded */
#define MCTOP_WAYS 8            /* key slots per set of the key table */

/* Commands as request__done names them; MC_OTHER for anything else. */
#define MCTOP_COMMANDS(X) \
    X(GET, "get") X(GETS, "gets") X(GAT, "gat") X(GATS, "gats") X(MG, "mg") \
    X(SET, "set") X(ADD, "add") X(REPLACE, "replace") X(APPEND, "append") \
    X(PREPEND, "prepend") X(CAS, "cas") X(MS, "ms") X(DELETE, "delete") \
    X(MD, "md") X(INCR, "incr") X(DECR, "decr") X(MA, "ma") X(TOUCH, "touch") \
    X(OTHER, "other")
#define MCTOP_ENUM_CMD(id, name) MC_##id,
enum { MCTOP_COMMANDS(MCTOP_ENUM_CMD) MCTOP_NCMD };

/* Outcomes (request__done's status); ST_OTHER for anything else. */
#define MCTOP_STATUSES(X) \
    X(HIT, "hit") X(MISS, "miss") X(STORED, "stored") X(NOT_STORED, "not_stored") \
    X(EXISTS, "exists") X(NOT_FOUND, "not_found") X(DELETED, "deleted") \
    X(TOUCHED, "touched") X(ERROR, "error") X(OTHER, "other")
#define MCTOP_ENUM_ST(id, name) ST_##id,
enum { MCTOP_STATUSES(MCTOP_ENUM_ST) MCTOP_NSTATUS };

/* Latency classes: two per power of two of nanoseconds, from
 * 2^MCTOP_LAT_MIN_LOG2 ns (everything below counts in class 0) up to the
 * last class, which takes everything above. */
#define MCTOP_LAT_MIN_LOG2 7
#define MCTOP_NLAT 54

/* One key's counters (and, in the totals map, everyone's), in the order
 * that puts the ones most operations touch on the fewest cache lines. */
struct mctop_stats {
    unsigned long long samples;                /* probe hits behind the counts */
    unsigned long long bytes;                  /* value bytes sent or stored */
    unsigned long long cmds[MCTOP_NCMD];       /* operations per command */
    unsigned long long status[MCTOP_NSTATUS];  /* operations per outcome */
    unsigned long long lat[MCTOP_NLAT];        /* operations per latency class */
    unsigned long long spare[3];               /* 0: pads to whole cache lines */
};

#define MCTOP_STATS_LINES (sizeof(struct mctop_stats) / 64)
_Static_assert(sizeof(struct mctop_stats) % 64 == 0 && MCTOP_STATS_LINES <= 16,
               "mctop_stats: whole cache lines, a bit each in mctop_set.zeroed");

/* Totals (a per-CPU array of one): every operation the probe reported,
 * whether or not its key found room in the key table. */
struct mctop_totals {
    unsigned long long last_rate;   /* rate of the latest sample (1 with --exact) */
    unsigned long long new_keys;    /* keys inserted into the key table */
    unsigned long long evicted;     /* keys that gave way to a new key */
    unsigned long long busy;        /* keys not counted: their set's move lock stayed taken */
    unsigned long long declined;    /* keys not counted: their set was full (see MCTOP_ADMIT) */
    struct mctop_stats all;
};

/* One set of the key table (an array map of these, -K slots rounded up to
 * whole sets, with its tags in a second array map, the set's index in
 * both the same). A key lives in the set its hash picks, in any of the
 * set's slots. A new key takes an empty slot; when the set is full, on
 * about one miss in MCTOP_ADMIT, a slot whose key has not been used since
 * the set's clock hand last passed it (CLOCK: about the least recently
 * used), so a key seen once rarely displaces one seen again. Uprobe
 * programs cannot take a bpf_spin_lock, so: counters change only by atomic
 * adds, and a key moves into a slot only under the set's move lock (taken
 * by compare-and-swap), with the slot's tag 0 (empty) until the key is in
 * place. A slot's counters are zeroed a cache line at a time, when first
 * counted in (under the move lock); a line whose bit in zeroed is clear
 * holds the previous key's counts: read it as zeros. A reader that sees a non-zero tag may
 * still, rarely, see a slot mid-move: counts are approximate for keys that
 * give way or take their place. */
#define MCTOP_ADMIT 8

struct mctop_tags {
    unsigned long long tag[MCTOP_WAYS];          /* the slot's key hash; 0: empty */
};

struct mctop_set {
    unsigned long long lock;                     /* 1 while a key moves in or a
                                                    counter line is zeroed */
    unsigned moves;                              /* keys moved in so far (wraps) */
    unsigned hand;                               /* the clock hand: a slot, mod MCTOP_WAYS */
    unsigned char used[MCTOP_WAYS];              /* 1: used since the hand passed */
    unsigned short born[MCTOP_WAYS];             /* moves when the key moved in:
                                                    changed = its counts restarted */
    unsigned short zeroed[MCTOP_WAYS];           /* bit i: line i of stats zeroed */
    char key[MCTOP_WAYS][MCTOP_KEY_MAX]          /* the slot's key, zero padded */
        __attribute__((aligned(64)));
    struct mctop_stats stats[MCTOP_WAYS];        /* the slot's counters */
} __attribute__((aligned(64)));                  /* whole cache lines */

#endif
