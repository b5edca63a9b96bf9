/* Small helpers shared by the command-line tools: the log callback they give
 * the library (stderr, filtered by -v/-q), and the verbosity it reads. */
#ifndef CLNET_TOOLS_CLI_H
#define CLNET_TOOLS_CLI_H

#include "clnet/clnet.h"

/* 0 = -q (errors only), 1 = default (warnings), 2 = -v (info), 3 = -vv. */
typedef struct cli_verbosity { int level; } cli_verbosity;

/* clnet_log_fn writing "clnet: <level>: msg" to stderr; user is a
 * cli_verbosity*. */
void cli_log(void *user, clnet_log_level level, const char *msg);

/* The library log level matching a verbosity. */
clnet_log_level cli_log_level(int verbosity);

#endif
