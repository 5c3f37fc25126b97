/* mctop.h: what mctop's BPF object (mctop.bpf.c) and its user-space side
 * (mctop.c) share: the key of the per-key map, the per-key counters, and
 * the command, outcome and latency classes they are counted in. Counts are
 * estimates of operations (each sample adds the sample rate in force) in
 * sampled mode and exact counts with --exact. */
#ifndef MCTOP_H
#define MCTOP_H

#define MCTOP_KEY_MAX 256       /* a key (<= 250 bytes) and its NUL, zero padded */

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

/* One key's counters (and, in the totals map, everyone's). */
struct mctop_stats {
    unsigned long long cmds[MCTOP_NCMD];       /* operations per command */
    unsigned long long status[MCTOP_NSTATUS];  /* operations per outcome */
    unsigned long long bytes;                  /* value bytes sent or stored */
    unsigned long long samples;                /* probe hits behind the counts */
    unsigned long long lat[MCTOP_NLAT];        /* operations per latency class */
};

/* Totals (a per-CPU array of one): every operation the probe reported,
 * whether or not its key found room in the key map. */
struct mctop_totals {
    struct mctop_stats all;
    unsigned long long new_keys;    /* keys inserted into the key map */
    unsigned long long last_rate;   /* rate of the latest sample (1 with --exact) */
};

#endif
