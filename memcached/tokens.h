/* tokens.h: splitting a command line into space-separated tokens, for
 * the text and meta parsers. Only spaces separate: any other byte, NUL
 * included, belongs to a token, as in memcached. */
#ifndef MC_TOKENS_H
#define MC_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct token {
    char *value;        /* NUL-terminated in place */
    size_t length;      /* bytes before that NUL */
} token;

/* Splits line[0..len) into at most max tokens, writing a NUL after each
 * (line[len] must already be NUL); when there are more, the last token
 * holds the rest of the line. Returns the count. */
int tokenize(char *line, size_t len, token *tokens, int max);

#endif
