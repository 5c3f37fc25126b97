/* sandbox.c: the seccomp filter of -o drop_privileges (see sandbox.h). The
 * allow list is what the workers, the background threads, libevent, the
 * allocator and (when enabled) OpenSSL and Cyrus SASL call while serving;
 * everything else traps into a handler that reports the call and exits. */
#include "config.h"     /* ENABLE_SECCOMP */
#include "sandbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifdef ENABLE_SECCOMP
#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sysexits.h>

#include "sasl.h"
#include "settings.h"
#include "tls.h"
#endif

#ifdef ENABLE_SECCOMP

bool sandbox_built(void) { return true; }

/* Serving: sockets, polling, time, memory, threads, signals. */
static const char *const serving_calls[] = {
    "read", "write", "readv", "writev", "close", "shutdown",
    "recvfrom", "sendto", "recvmsg", "sendmsg", "recvmmsg", "sendmmsg",
    "accept", "accept4", "getsockname", "getpeername", "setsockopt", "getsockopt",
    "epoll_wait", "epoll_pwait", "epoll_pwait2", "epoll_ctl", "poll", "ppoll",
    "select", "pselect6", "fcntl", "ioctl", "pipe2", "eventfd2", "dup",
    "futex", "set_robust_list", "rseq", "sched_yield", "sched_getaffinity",
    "clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time",
    "mmap", "munmap", "mremap", "mprotect", "madvise", "brk",
    "rt_sigreturn", "sigreturn", "rt_sigprocmask", "rt_sigaction", "sigaltstack",
    "getpid", "gettid", "tgkill", "exit", "exit_group", "restart_syscall",
    "getrusage", "getrandom", "prctl", "sysinfo", "uname",
    NULL
};

/* Reading and writing files after start-up: SIGHUP reloads -Y and the
 * TLS certificates, SIGUSR1 saves the -e metadata, a -d stop removes the
 * -P pid file; Cyrus SASL reads its configuration and password files. */
static const char *const file_calls[] = {
    "openat", "open", "newfstatat", "fstat", "stat", "lstat", "statx", "lseek",
    "pread64", "pwrite64", "rename", "renameat", "renameat2", "unlink", "unlinkat",
    "msync", "fsync", "fdatasync", "ftruncate", "access", "faccessat", "faccessat2",
    "flock", "getdents64",
    NULL
};

/* SIGSYS from the filter: say which call, then exit at once (exit
 * handlers are not safe from a signal handler). */
static void on_sigsys(int sig, siginfo_t *info, void *ctx)
{
    (void)sig;
    (void)ctx;
    char msg[96];
    int nr = info->si_syscall;
    /* snprintf is not async-signal-safe: compose the number by hand. */
    const char *head = "memcached: drop_privileges: forbidden system call ";
    size_t n = strlen(head);
    memcpy(msg, head, n);
    char digits[12];
    int d = 0;
    unsigned v = nr < 0 ? 0u : (unsigned)nr;
    do {
        digits[d++] = (char)('0' + v % 10);
        v /= 10;
    } while (v && d < (int)sizeof(digits));
    while (d)
        msg[n++] = digits[--d];
    msg[n++] = '\n';
    if (write(STDERR_FILENO, msg, n) < 0) {
        /* nothing more to do */
    }
    _exit(EXIT_FAILURE);
}

static int allow_all(scmp_filter_ctx ctx, const char *const *names)
{
    for (; *names; names++) {
        int nr = seccomp_syscall_resolve_name(*names);
        if (nr == __NR_SCMP_ERROR)
            continue;       /* not a call of this architecture */
        if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) != 0)
            return -1;
    }
    return 0;
}

/* Allows call nr when its first argument compares as op with a (and b). */
static int allow_if_arg0(scmp_filter_ctx ctx, int nr, enum scmp_compare op, scmp_datum_t a,
                         scmp_datum_t b)
{
    struct scmp_arg_cmp cmp = { .arg = 0, .op = op, .datum_a = a, .datum_b = b };
    return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 1, &cmp);
}

/* Without those features no file is opened on purpose, but glibc's malloc
 * reads /sys/devices/system/cpu/online when a thread first needs an arena of
 * its own: opening fails (EACCES) rather than kills, and glibc copes. */
static int refuse_opens(scmp_filter_ctx ctx)
{
    static const char *const opens[] = { "openat", "open", NULL };
    for (const char *const *name = opens; *name; name++) {
        int nr = seccomp_syscall_resolve_name(*name);
        if (nr != __NR_SCMP_ERROR && seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), nr, 0) != 0)
            return -1;
    }
    return 0;
}

void sandbox_enter(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
    int rc = ctx == NULL || sigaction(SIGSYS, &sa, NULL) != 0 ? -1 : 0;
    if (rc == 0)
        rc = allow_all(ctx, serving_calls);
    if (rc == 0 && (settings.auth_file || settings.memory_file || settings.pid_file ||
                    tls_enabled() || sasl_enabled()))
        rc = allow_all(ctx, file_calls);
    else if (rc == 0)
        rc = refuse_opens(ctx);
    /* Cyrus SASL logs through syslog: a local datagram socket to /dev/log. */
    if (rc == 0 && sasl_enabled())
        rc = allow_if_arg0(ctx, SCMP_SYS(socket), SCMP_CMP_EQ, AF_UNIX, 0);
    if (rc == 0 && sasl_enabled())
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(connect), 0);
    /* The shutdown command signals this process (and no other). */
    if (rc == 0)
        rc = allow_if_arg0(ctx, SCMP_SYS(kill), SCMP_CMP_EQ, (scmp_datum_t)getpid(), 0);
    /* Threads, not processes: clone only with CLONE_THREAD; clone3 (whose
     * flags a filter cannot see) says ENOSYS, so glibc falls back to clone. */
    if (rc == 0)
        rc = allow_if_arg0(ctx, SCMP_SYS(clone), SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD);
    int clone3 = seccomp_syscall_resolve_name("clone3");
    if (rc == 0 && clone3 != __NR_SCMP_ERROR)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), clone3, 0);
    /* Every thread, including those already running. */
    if (rc == 0)
        rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
    if (rc == 0)
        rc = seccomp_load(ctx);
    if (ctx)
        seccomp_release(ctx);
    if (rc != 0) {
        fprintf(stderr, "failed to set up the drop_privileges system call filter (%s); "
                "start with -o no_drop_privileges\n", strerror(rc < 0 ? -rc : rc));
        exit(EX_OSERR);
    }
}

#else

bool sandbox_built(void) { return false; }
void sandbox_enter(void) {}

#endif

bool sandbox_misbehave(void)
{
    char buf[256];
    return syscall(SYS_getcwd, buf, sizeof(buf)) >= 0;
}
