/* Logging for the command-line tools (the library itself never prints). */
#include "cli.h"

#include <stdio.h>

static const char *const level_names[] = {"error", "warning", "info", "debug"};

clnet_log_level cli_log_level(int verbosity)
{
    if (verbosity <= 0)
        return CLNET_LOG_ERROR;
    if (verbosity >= 3)
        return CLNET_LOG_DEBUG;
    return verbosity == 1 ? CLNET_LOG_WARN : CLNET_LOG_INFO;
}

void cli_log(void *user, clnet_log_level level, const char *msg)
{
    const cli_verbosity *v = user;
    if (v && level > cli_log_level(v->level))
        return;
    unsigned i = (unsigned)level < 4 ? (unsigned)level : 3;
    fprintf(stderr, "clnet: %s: %s\n", level_names[i], msg);
}
