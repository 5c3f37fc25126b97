/* usage.h: the -h text. */
#ifndef MC_USAGE_H
#define MC_USAGE_H

/* Prints the flags and -o options to stdout, in memcached's layout (tools
 * grep it), naming only what this build has. */
void usage(void);

#endif
