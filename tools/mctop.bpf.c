/* mctop.bpf.c: mctop's BPF side. Counts memcached's request__sample (or,
 * with --exact, request__done) hits per key into a set-associative key
 * table (see mctop.h) and into per-CPU totals that count every hit, so
 * totals stay exact when the key table is full. A CO-RE object: the only kernel type it touches, pt_regs,
 * is relocated against the running kernel's BTF. */
#include <linux/bpf.h>
#include <stdbool.h>

/* The registers a uprobe sees (x86-64 kernel layout; fields are relocated
 * by name, so order and size here do not matter). */
struct pt_regs {
    unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx,
                  si, di, orig_ax, ip, cs, flags, sp, ss;
} __attribute__((preserve_access_index));
#define __VMLINUX_H__ 1         /* bpf_tracing.h: kernel pt_regs names */

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

#include "mctop.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* The key table: sets of MCTOP_WAYS slots (see mctop.h); max_entries and
 * nsets are set by mctop (-K). */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 512);
    __type(key, __u32);
    __type(value, struct mctop_set);
} sets SEC(".maps");

/* The tags of each set of sets (same index): small enough to stay in cache, so that a
 * key not in the table costs no miss on its set. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 512);
    __type(key, __u32);
    __type(value, struct mctop_tags);
} tags SEC(".maps");

const volatile __u32 nsets = 512;

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct mctop_totals);
} totals SEC(".maps");

#define KEY_WORDS (MCTOP_KEY_MAX / 8)

#define CLASS_CACHE 8

/* A key being counted (too big for the BPF stack), and what else a CPU
 * keeps between runs. */
struct key_buf {
    __u64 h;                /* key_hash() of w */
    __u32 nw;               /* words holding the key and its NUL */
    __u32 lines;            /* bits of the counter lines this hit adds to */
    __u64 rng;              /* xorshift state: which misses of full sets move in */
    __u32 cls_tgid;         /* the process cls holds addresses of */
    __u32 pad;
    /* Classes of the command and status strings seen so far, by address:
     * the server passes string literals, so an address keeps its class and
     * its string need not be read again (in the process cls_tgid: with -b,
     * another one may hold another string there). An entry is addr << 7 | which
     * << 6 | class (which: 0 command, 1 status); 0: empty. */
    __u64 cls[CLASS_CACHE];
    __u64 w[KEY_WORDS];     /* the key and its NUL, zero padded to whole words */
};                          /* (what most hits touch on the first two lines) */

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct key_buf);
} scratch SEC(".maps");

/* The first 7 bytes of a short string, NUL padded, as a little-endian u64. */
#define SB(s, i) ((i) < sizeof(s) - 1 && (i) < 7 ? \
                  (__u64)(unsigned char)(s)[(i) < sizeof(s) ? (i) : 0] << (8 * (i)) : 0)
#define S8(s) (SB(s, 0) | SB(s, 1) | SB(s, 2) | SB(s, 3) | SB(s, 4) | SB(s, 5) | SB(s, 6))

static __always_inline __u64 head8(const char *p)
{
    char b[8] = {};
    __u64 v;
    bpf_probe_read_user_str(b, sizeof(b), p);
    __builtin_memcpy(&v, b, sizeof(v));
    return v;
}

/* The classifiers are global functions, verified once each, so their
 * branches do not multiply the verifier's states in the caller. */
__attribute__((noinline)) __u32 cmd_class(__u64 v)
{
#define CMD_IS(id, name) if (v == S8(name)) return MC_##id;
    MCTOP_COMMANDS(CMD_IS)
#undef CMD_IS
    return MC_OTHER;
}

__attribute__((noinline)) __u32 status_class(__u64 v)
{
#define ST_IS(id, name) if (v == S8(name)) return ST_##id;
    MCTOP_STATUSES(ST_IS)
#undef ST_IS
    return ST_OTHER;
}

/* The class of the command (which 0) or status (which 1) string at p. */
static __always_inline __u32 classify(struct key_buf *k, __u64 which, const char *p)
{
    __u64 a = (__u64)p, tag = a << 7 | which << 6;
    __u32 i = ((a >> 2) ^ (a >> 6)) & (CLASS_CACHE - 1);
    __u64 e = k->cls[i];
    if ((e & ~63ULL) == tag)
        return e & 63;
    __u64 v = head8(p);
    __u32 c = which ? status_class(v) : cmd_class(v);
    k->cls[i] = tag | (c & 63);
    return c;
}

/* Latency class of ns (see mctop.h). */
__attribute__((noinline)) __u32 lat_class(__s64 ns)
{
    if (ns < (1LL << MCTOP_LAT_MIN_LOG2))
        return 0;
    __u64 v = (__u64)ns;
    int log = 0;
    if (v >> 32) { v >>= 32; log += 32; }
    if (v >> 16) { v >>= 16; log += 16; }
    if (v >> 8) { v >>= 8; log += 8; }
    if (v >> 4) { v >>= 4; log += 4; }
    if (v >> 2) { v >>= 2; log += 2; }
    if (v >> 1) { log += 1; }
    int half = ((__u64)ns >> (log - 1)) & 1;
    int c = 1 + (log - MCTOP_LAT_MIN_LOG2) * 2 + half;
    return c < MCTOP_NLAT ? c : MCTOP_NLAT - 1;
}

static __always_inline void add(__u64 *to, __u64 n, int atomic)
{
    if (atomic)
        __sync_fetch_and_add(to, n);
    else
        *to += n;
}

static __always_inline void count(struct mctop_stats *s, __u32 c, __u32 st, __u32 l,
                                  __s64 valuelen, __u64 n, int atomic)
{
    barrier_var(c);
    if (c < MCTOP_NCMD)
        add(&s->cmds[c], n, atomic);
    barrier_var(st);
    if (st < MCTOP_NSTATUS)
        add(&s->status[st], n, atomic);
    barrier_var(l);
    if (l < MCTOP_NLAT)
        add(&s->lat[l], n, atomic);
    if (valuelen > 0)
        add(&s->bytes, (__u64)valuelen * n, atomic);
    add(&s->samples, 1, atomic);
}

#define SPINS 2000              /* tries at a set's move lock before giving up */

/* A 64-bit hash of the first nw words of a zero-padded key; never 0 (the
 * tag of an empty slot). */
static __always_inline __u64 key_hash(const __u64 *w, __u32 nw)
{
    __u64 h = 0x9e3779b97f4a7c15ULL;
    for (__u32 i = 0; i < KEY_WORDS; i++) {
        if (i >= nw)
            break;
        h = (h ^ w[i]) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    h ^= h >> 29;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 32;
    return h ? h : 1;
}

/* The slot of set holding the key k, or MCTOP_WAYS. A
 * global function (verified once, not per caller), as is move_in. */
__attribute__((noinline)) __u32 find_slot(struct mctop_set *set, struct mctop_tags *tg,
                                          struct key_buf *k)
{
    if (!set || !tg || !k)
        return MCTOP_WAYS;
    __u64 h = k->h;
    __u32 nw = k->nw;
    for (__u32 w = 0; w < MCTOP_WAYS; w++) {
        if (tg->tag[w] != h)
            continue;
        const __u64 *have = (const __u64 *)set->key[w];
        bool same = true;
        for (__u32 i = 0; i < KEY_WORDS; i++) {
            if (i >= nw)
                break;
            if (have[i] != k->w[i]) {
                same = false;
                break;
            }
        }
        if (same)
            return w;
    }
    return MCTOP_WAYS;
}

/* Bit of the cache line of stats holding the counter at byte off. */
#define LINE_BIT(off) (1U << (((off) / 64) & 15))

/* Zeroes the lines of slot w's counters in need not yet zeroed. The
 * caller holds set's move lock. */
static __always_inline void zero_lines(struct mctop_set *set, __u32 w, __u32 need)
{
    w &= MCTOP_WAYS - 1;
    __u32 todo = need & ~(__u32)set->zeroed[w];
    __u64 *sw = (__u64 *)&set->stats[w];
    for (__u32 i = 0; i < MCTOP_STATS_LINES; i++) {
        if (!(todo & (1U << i)))
            continue;
        for (__u32 j = 0; j < 8; j++)
            *(volatile __u64 *)&sw[(i * 8 + j) % (sizeof(struct mctop_stats) / 8)] = 0;
    }
    barrier();
    set->zeroed[w] |= (unsigned short)todo;
}

/* Takes set's move lock; false when it stayed taken. */
static __always_inline bool lock_set(struct mctop_set *set, struct mctop_totals *t)
{
    for (int i = 0; i < SPINS; i++)
        if (__sync_val_compare_and_swap(&set->lock, 0, 1) == 0)
            return true;
    t->busy++;
    return false;
}

/* Zeroes the lines of slot w's counters that k's hit adds to and that are
 * not zeroed yet; false when the move lock stayed taken. */
__attribute__((noinline)) bool ready_lines(struct mctop_set *set, struct mctop_totals *t,
                                           struct key_buf *k, __u32 w)
{
    if (!set || !t || !k)
        return false;
    if (!lock_set(set, t))
        return false;
    zero_lines(set, w, k->lines);
    __sync_fetch_and_and(&set->lock, 0);
    return true;
}

/* Moves the key into set (or finds it there, moved in meanwhile) under the
 * set's move lock; its slot, or MCTOP_WAYS when the lock stayed taken. */
__attribute__((noinline)) __u32 move_in(struct mctop_set *set, struct mctop_tags *tg,
                                        struct mctop_totals *t, struct key_buf *k)
{
    if (!set || !tg || !t || !k)
        return MCTOP_WAYS;
    __u64 h = k->h;
    __u32 nw = k->nw;
    if (!lock_set(set, t))
        return MCTOP_WAYS;
    __u32 w = find_slot(set, tg, k);
    if (w < MCTOP_WAYS)
        goto out;
    w = MCTOP_WAYS;
    for (__u32 j = 0; j < MCTOP_WAYS; j++)
        if (tg->tag[j] == 0) {
            w = j;
            break;
        }
    /* full: the hand clears used slots until it meets an unused one (at
     * most one turn and a step) */
    for (__u32 j = 0; j <= MCTOP_WAYS && w >= MCTOP_WAYS; j++) {
        __u32 at = set->hand++ & (MCTOP_WAYS - 1);
        if (set->used[at])
            set->used[at] = 0;
        else
            w = at;
    }
    barrier_var(w);
    w &= MCTOP_WAYS - 1;
    if (tg->tag[w])
        t->evicted++;
    tg->tag[w] = 0;
    barrier();
    __u64 *to = (__u64 *)set->key[w];
    for (__u32 j = 0; j < KEY_WORDS; j++) {
        if (j >= nw)
            break;          /* words past the NUL's are never read */
        to[j] = k->w[j];
    }
    set->zeroed[w] = 0;
    zero_lines(set, w, k->lines);
    set->born[w] = (unsigned short)++set->moves;
    set->used[w] = 1;
    barrier();
    tg->tag[w] = h;
    t->new_keys++;
out:
    __sync_fetch_and_and(&set->lock, 0);
    return w;
}

static __always_inline int account(struct pt_regs *ctx, const char *cmd, const char *key,
                                   __s64 keylen, const char *status, __s64 valuelen,
                                   __s64 elapsed, __u64 rate)
{
    __u32 zero = 0;
    struct mctop_totals *t = bpf_map_lookup_elem(&totals, &zero);
    struct key_buf *k = bpf_map_lookup_elem(&scratch, &zero);
    if (!t || !k)
        return 0;
    __u32 tgid = (__u32)(bpf_get_current_pid_tgid() >> 32);
    if (k->cls_tgid != tgid) {
        for (__u32 i = 0; i < CLASS_CACHE; i++)
            k->cls[i] = 0;
        k->cls_tgid = tgid;
    }
    __u32 c = classify(k, 0, cmd), st = classify(k, 1, status), l = lat_class(elapsed);
    count(&t->all, c, st, l, valuelen, rate, 0);
    if (t->last_rate != rate)
        t->last_rate = rate;

    /* the key and its NUL (the server passes keylen bytes and a NUL),
     * zero padded to whole words: words before the last are all key */
    if (keylen < 0 || keylen >= MCTOP_KEY_MAX)
        keylen = MCTOP_KEY_MAX - 1;
    __u32 nw = ((__u32)keylen + 8) / 8;
    barrier_var(nw);
    if (nw < 1 || nw > KEY_WORDS)
        return 0;
    k->w[(nw - 1) & (KEY_WORDS - 1)] = 0;
    __u32 size = (__u32)keylen + 1;
    barrier_var(size);
    if (size < 1 || size > MCTOP_KEY_MAX)
        return 0;
    if (bpf_probe_read_user(k->w, size, key) != 0)
        return 0;
    __u64 h = key_hash(k->w, nw);
    __u32 si = (__u32)(((h >> 32) * (__u64)nsets) >> 32);
    struct mctop_set *set = bpf_map_lookup_elem(&sets, &si);
    struct mctop_tags *tg = bpf_map_lookup_elem(&tags, &si);
    if (!set || !tg)
        return 0;
    k->h = h;
    k->nw = nw;
    k->lines = LINE_BIT(0) | LINE_BIT(offsetof(struct mctop_stats, cmds) + 8 * (c & 31)) |
               LINE_BIT(offsetof(struct mctop_stats, status) + 8 * (st & 15)) |
               LINE_BIT(offsetof(struct mctop_stats, lat) + 8 * (l & 63));
    __u32 w = find_slot(set, tg, k);
    if (w >= MCTOP_WAYS) {
        bool full = true;
        for (__u32 j = 0; j < MCTOP_WAYS; j++)
            if (tg->tag[j] == 0)
                full = false;
        if (full) {
            __u64 r = k->rng ? k->rng : h;
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            k->rng = r;
            if (r % MCTOP_ADMIT != 0) {
                t->declined++;
                return 0;
            }
        }
        w = move_in(set, tg, t, k);
        if (w >= MCTOP_WAYS)
            return 0;
    }
    barrier_var(w);
    w &= MCTOP_WAYS - 1;
    if (!set->used[w])
        set->used[w] = 1;
    if ((set->zeroed[w] & k->lines) != k->lines && !ready_lines(set, t, k, w))
        return 0;
    count(&set->stats[w], c, st, l, valuelen, rate, 1);
    return 0;
}

/* USDT arguments, fetched with one look-up of the probe's argument spec
 * (libbpf's bpf_usdt_arg looks it up again for each argument). Register
 * arguments are read from a copy of pt_regs; reg_off is libbpf's offset
 * in the x86-64 pt_regs, the order of the struct above. */
#define NREGS 21                /* the fields of struct pt_regs above */

/* The registers, copied once so that an argument's register can be picked
 * by offset (the verifier refuses a ctx read at a variable offset). */
struct regs_copy {
    __u64 r[NREGS];
};

static __always_inline void copy_regs(struct regs_copy *rc, struct pt_regs *ctx)
{
    rc->r[0] = ctx->r15; rc->r[1] = ctx->r14; rc->r[2] = ctx->r13; rc->r[3] = ctx->r12;
    rc->r[4] = ctx->bp; rc->r[5] = ctx->bx; rc->r[6] = ctx->r11; rc->r[7] = ctx->r10;
    rc->r[8] = ctx->r9; rc->r[9] = ctx->r8; rc->r[10] = ctx->ax; rc->r[11] = ctx->cx;
    rc->r[12] = ctx->dx; rc->r[13] = ctx->si; rc->r[14] = ctx->di; rc->r[15] = ctx->orig_ax;
    rc->r[16] = ctx->ip; rc->r[17] = ctx->cs; rc->r[18] = ctx->flags; rc->r[19] = ctx->sp;
    rc->r[20] = ctx->ss;
}

static __always_inline __s64 usdt_arg(struct regs_copy *rc, struct __bpf_usdt_spec *spec, int n)
{
    /* no check of n against spec->arg_cnt (one more cold cache line): the
     * callers ask only for arguments the probe has */
    struct __bpf_usdt_arg_spec *a = &spec->args[n & 7];   /* n < 8 */
    __u64 v;
    if (a->arg_type == BPF_USDT_ARG_CONST) {
        v = a->val_off;
    } else {
        __u32 r = (__u32)a->reg_off / 8;
        if (r >= NREGS)
            return 0;
        v = rc->r[r];
        if (a->arg_type == BPF_USDT_ARG_REG_DEREF) {
            __u64 addr = v + a->val_off;
            if (bpf_probe_read_user(&v, sizeof(v), (void *)addr) != 0)
                return 0;
        } else if (a->arg_type != BPF_USDT_ARG_REG) {
            return 0;
        }
    }
    int shift = a->arg_bitshift & 63;
    v <<= shift;
    return a->arg_signed ? (__s64)v >> shift : (__s64)(v >> shift);
}

/* Arguments of both probes: connid, cmd, key, keylen, status, valuelen,
 * elapsed_ns (and request__sample's rate). */
static __always_inline int on_probe(struct pt_regs *ctx, bool sampled)
{
    int id = __bpf_usdt_spec_id(ctx);
    if (id < 0)
        return 0;
    struct __bpf_usdt_spec *spec = bpf_map_lookup_elem(&__bpf_usdt_specs, &id);
    if (!spec)
        return 0;
    struct regs_copy rc;
    __s64 arg[8] = {};
    copy_regs(&rc, ctx);
    /* a loop, not 7 copies of usdt_arg: less code to fetch when cold */
#pragma clang loop unroll(disable)
    for (int n = 1; n < 8; n++) {
        if (n == 7 && !sampled)
            break;
        arg[n] = usdt_arg(&rc, spec, n);
    }
    __s64 rate = sampled ? arg[7] : 1;
    return account(ctx, (const char *)arg[1], (const char *)arg[2], arg[3], (const char *)arg[4],
                   arg[5], arg[6], rate > 0 ? (__u64)rate : 1);
}

SEC("usdt")
int on_sample(struct pt_regs *ctx)
{
    return on_probe(ctx, true);
}

SEC("usdt")
int on_done(struct pt_regs *ctx)
{
    return on_probe(ctx, false);
}
