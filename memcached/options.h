/* options.h: memcached's -o suboptions and the checks that relate flags to
 * each other once the whole command line is read. Both print memcached's
 * own messages. Called by main() before any thread starts. */
#ifndef MC_OPTIONS_H
#define MC_OPTIONS_H

#include <stdbool.h>

/* Applies one -o argument ("name[=value],..."). Returns false after
 * printing why; main() then exits with status 1, as memcached does. */
bool options_parse_extended(const char *arg);

/* What main() saw on the command line that the cross-checks need. */
struct option_facts {
    bool protocol_given;    /* -B was used */
};

/* Checks and settles settings that depend on each other (-I against -m and
 * slab_chunk_max, slab_sizes, LRU percentages, -Y against -B and -U, -N
 * against -t). Returns 0, or the exit status after printing the message. */
int options_check(const struct option_facts *facts);

#endif
