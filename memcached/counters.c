/* counters.c: owns the process-wide counters (global_stats). The
 * per-worker counters live in each worker's struct; this file only
 * defines their shape (counters.h) and knows nothing of output. */
#include "config.h"
#include "counters.h"

struct global_stats global_stats = { .accepting_conns = 1 };

void global_stats_reset(void)
{
    atomic_store(&global_stats.total_conns, 0);
    atomic_store(&global_stats.rejected_conns, 0);
    atomic_store(&global_stats.listen_disabled_num, 0);
    atomic_store(&global_stats.time_in_listen_disabled_us, 0);
}
