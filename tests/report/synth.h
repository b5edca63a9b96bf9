/* Synthetic training runs for the report: curves, a confusion matrix and
 * misclassified images written as real files (PNG, JPEG, BMP), plus a
 * missing and a corrupt one. Used by the test and by report_sample, which
 * writes a report to look at. */
#ifndef CLNET_TEST_REPORT_SYNTH_H
#define CLNET_TEST_REPORT_SYNTH_H

#include "../../tools/train/report.h"

typedef struct synth_opts {
    int classes;
    int epochs;
    int points_per_epoch;
    int val;                /* with a validation set (confusion, misses) */
    int misses;
    int nan_loss;           /* put NaN into one step point and one epoch */
    const char *img_dir;    /* where the miss images are written */
} synth_opts;

typedef struct synth {
    report_data d;          /* points into the fields below */
    report_epoch *epochs;
    report_point *points;
    uint64_t *confusion;
    report_miss *misses;
    char **names;
    int n_names;
    char **paths;
    int n_paths;
} synth;

/* Fills s (free with synth_free); returns 0, or -1 when an image cannot be
 * written. Class 1 is named `<script>&"` and class 2 has invalid UTF-8. */
int synth_make(synth *s, const synth_opts *o);
void synth_free(synth *s);

#endif
