/* The sentence clnet-train and clnet-predict print about the files a
 * dataset left out (clnet_dataset_get_skips), so the total matches the
 * warnings and says where and why. */
#ifndef CLNET_TOOLS_SKIPS_H
#define CLNET_TOOLS_SKIPS_H

#include "clnet/data.h"

#include <stddef.h>

/* sum += s, field by field (for a validation folder opened on its own). */
void skips_add(clnet_skip_stats *sum, const clnet_skip_stats *s);

/* Writes e.g. "12 unusable images skipped: 8 refused when the folder was
 * opened (3 empty, 5 not an image), 4 failed to load (4 corrupt)", with
 * "; 1 unreadable folder skipped" after it when there is one, into buf
 * (truncated to cap); "" when nothing was skipped. Returns buf. */
const char *skips_describe(const clnet_skip_stats *s, char *buf, size_t cap);

#endif
