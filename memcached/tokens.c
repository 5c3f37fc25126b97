/* tokens.c: the command-line tokenizer and token number parser shared by
 * the text and meta parsers. */
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

bool token_to_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (*s == '\0')
        return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        uint64_t digit = (uint64_t)(*s - '0');
        if (v > (max - digit) / 10)
            return false;
        v = v * 10 + digit;
    }
    *out = v;
    return true;
}
