/* A run's metrics.csv, kept as the run goes: each row (report.h's format) is
 * appended and flushed when it happens, so a killed run loses at most the
 * rows after its last flush, and a resumed run continues the file. */
#ifndef CLNET_TOOLS_TRAIN_METRICS_H
#define CLNET_TOOLS_TRAIN_METRICS_H

#include "report.h"

#include <stdint.h>
#include <stdio.h>

typedef struct metrics_log {
    FILE *f;
    char path[2300];
    int failed;                  /* a write failed (warned once) */
} metrics_log;

/* The rows a resumed run keeps, for its report. Owned by the caller (free
 * points and epochs). */
typedef struct metrics_history {
    report_point *points;
    size_t n_points;
    report_epoch *epochs;
    size_t n_epochs;
} metrics_history;

/* Starts out_dir/metrics.csv. A new run (from_dir NULL) starts it with the
 * header alone (truncated in place, so a reader following it goes on). A
 * resumed run reads from_dir/metrics.csv (the checkpoint's folder; out_dir's
 * unless --out moved the run), keeps its step rows up to step keep_step and
 * its epoch rows up to epoch keep_epochs, byte for byte,
 * writes them to out_dir/metrics.csv (temp file, fsync, rename: rows past the
 * checkpoint are gone, nothing is duplicated) and returns them in *h. A
 * missing file, a partial last line or a file of another format keeps what
 * it can, with a warning for the last. Returns 0, or -1 after printing why. */
int metrics_log_open(metrics_log *ml, const char *out_dir, const char *from_dir,
                     uint64_t keep_step, int keep_epochs, metrics_history *h);
/* One row, written and flushed; a failure is warned about once. */
void metrics_log_point(metrics_log *ml, const report_point *p);
void metrics_log_epoch(metrics_log *ml, const report_epoch *e);
/* fsync: the rows before a checkpoint reach the disk before it does. */
void metrics_log_sync(metrics_log *ml);
void metrics_log_close(metrics_log *ml);

#endif
