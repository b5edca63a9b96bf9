/* The live progress line of an epoch: a bar redrawn in place on a terminal,
 * plain periodic lines otherwise (logs, CI). */
#ifndef CLNET_TOOLS_PROGRESS_H
#define CLNET_TOOLS_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

typedef struct progress {
    FILE *out;
    int tty;
    int epoch, epochs;
    uint64_t total;         /* steps in this epoch */
    double t0, last_print;
} progress;

void progress_start(progress *p, FILE *out, int epoch, int epochs,
                    uint64_t total_steps);
/* done = steps finished in this epoch (first_done when resuming mid-epoch
 * counts as already done for the ETA). */
void progress_update(progress *p, uint64_t done, uint64_t first_done,
                     double loss, double acc, double images_per_s, double lr);
void progress_end(progress *p);

double progress_now(void);  /* monotonic seconds */
/* "1h02m", "3m05s", "12s" */
const char *progress_duration(double seconds, char *buf, size_t cap);

#endif
