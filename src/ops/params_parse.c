/* "key=value key=value" strings for op parameters (tests and tools). */
#include "ops/op_util.h"

#include <ctype.h>
#include <string.h>

clnet_status clnet__op_params_parse(const clnet__op *op, void *params,
                                    const char *text, char *err, size_t errlen)
{
    op->defaults(params);
    if (!text)
        return CLNET_OK;
    const char *p = text;
    while (*p) {
        while (*p && (isspace((unsigned char)*p) || *p == ';'))
            p++;
        if (!*p)
            break;
        const char *start = p;
        while (*p && !isspace((unsigned char)*p) && *p != ';')
            p++;
        char pair[128];
        size_t n = (size_t)(p - start);
        if (n >= sizeof pair)
            return clnet__op_error(err, errlen, CLNET_EPARSE,
                                   "parameter too long: %.40s...", start);
        memcpy(pair, start, n);
        pair[n] = '\0';
        char *eq = strchr(pair, '=');
        if (!eq)
            return clnet__op_error(err, errlen, CLNET_EPARSE,
                                   "expected key=value, got '%s'", pair);
        *eq = '\0';
        clnet_status st = op->set(params, pair, eq + 1, err, errlen);
        if (st != CLNET_OK)
            return st;
    }
    return CLNET_OK;
}
