/* fuzz/inspect_mover.c: slab_mover.c with its thread's work callable from
 * the fuzz shim: a requested page move (and an automove pass) runs after
 * the input that asked, with no item referenced. */
#include "../memcached/slab_mover.c"

#include "fuzz_inspect.h"

void fuzz_mover_run_pending(void)
{
    if (want) {
        want = false;
        serve_request(want_src, want_dst);
    } else if (settings.slab_automove > 0) {
        static struct automove_state st;
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        automove_check(&st, &now);
    }
}
