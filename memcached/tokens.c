/* tokens.c: the command-line tokenizer shared by the text and meta
 * parsers (their numbers are util.h's). */
#include "config.h"
#include "tokens.h"

int tokenize(char *line, size_t len, token *tokens, int max)
{
    int n = 0;
    char *p = line, *end = line + len;
    while (p < end) {
        while (p < end && *p == ' ')
            p++;
        if (p >= end)
            break;
        if (n == max - 1) {
            tokens[n].value = p;
            tokens[n].length = (size_t)(end - p);
            return n + 1;
        }
        char *start = p;
        while (p < end && *p != ' ')
            p++;
        tokens[n].value = start;
        tokens[n].length = (size_t)(p - start);
        *p = '\0';
        if (p < end)
            p++;
        n++;
    }
    return n;
}
