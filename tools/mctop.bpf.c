/* mctop.bpf.c: mctop's BPF side. Counts memcached's request__sample (or,
 * with --exact, request__done) hits per key into an LRU key map and into
 * per-CPU totals that count every hit, so totals stay exact when the key
 * map is full. A CO-RE object: the only kernel type it touches, pt_regs,
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

/* key bytes (NUL padded) -> counters; max_entries is set by mctop (-K). */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 4096);
    __type(key, char[MCTOP_KEY_MAX]);
    __type(value, struct mctop_stats);
} keys SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct mctop_totals);
} totals SEC(".maps");

/* A key being assembled: too big for the BPF stack. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, char[MCTOP_KEY_MAX]);
} scratch SEC(".maps");

static const struct mctop_stats zero_stats;

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

static __always_inline int account(const char *cmd, const char *key, const char *status,
                                   __s64 valuelen, __s64 elapsed, __u64 rate)
{
    __u32 zero = 0;
    struct mctop_totals *t = bpf_map_lookup_elem(&totals, &zero);
    char *k = bpf_map_lookup_elem(&scratch, &zero);
    if (!t || !k)
        return 0;
    __u32 c = cmd_class(head8(cmd)), st = status_class(head8(status)), l = lat_class(elapsed);
    count(&t->all, c, st, l, valuelen, rate, 0);
    t->last_rate = rate;

    __u64 *words = (__u64 *)k;
#pragma unroll
    for (int i = 0; i < MCTOP_KEY_MAX / 8; i++)
        words[i] = 0;
    bpf_probe_read_user_str(k, MCTOP_KEY_MAX, key);
    struct mctop_stats *s = bpf_map_lookup_elem(&keys, k);
    if (!s) {
        if (bpf_map_update_elem(&keys, k, &zero_stats, BPF_NOEXIST) == 0)
            t->new_keys++;
        s = bpf_map_lookup_elem(&keys, k);
        if (!s)
            return 0;
    }
    count(s, c, st, l, valuelen, rate, 1);
    return 0;
}

SEC("usdt")
int BPF_USDT(on_sample, int connid, const char *cmd, const char *key, int keylen,
             const char *status, long long valuelen, long long elapsed, int rate)
{
    return account(cmd, key, status, valuelen, elapsed, rate > 0 ? (__u64)rate : 1);
}

SEC("usdt")
int BPF_USDT(on_done, int connid, const char *cmd, const char *key, int keylen,
             const char *status, long long valuelen, long long elapsed)
{
    return account(cmd, key, status, valuelen, elapsed, 1);
}
