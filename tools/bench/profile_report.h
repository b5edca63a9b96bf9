/* clnet-bench's tables: per-layer forward/backward time, GFLOP/s, bytes,
 * share of the step and launches, then the most expensive kernels, from the
 * records of src/ocl/profile.h. */
#ifndef CLNET_TOOLS_BENCH_PROFILE_REPORT_H
#define CLNET_TOOLS_BENCH_PROFILE_REPORT_H

#include "ocl/profile.h"

#include <stddef.h>
#include <stdio.h>

/* What the model says about one layer, for the bound batch. */
typedef struct report_layer {
    const char *name, *op;
    int n, c, h, w;             /* output shape */
    double flops_fwd, flops_bwd;
    double bytes_fwd, bytes_bwd; /* estimated compulsory traffic */
} report_layer;

typedef struct report_input {
    int n_layers;
    const report_layer *layers;
    const char *optimizer;       /* "sgd momentum" ... */
    double update_flops, update_bytes;
    int batch;
    const clnet__prof_record *rec;
    size_t n_rec;
} report_input;

/* Totals the tables need elsewhere (the summary lines). */
typedef struct report_totals {
    int steps;                   /* forward passes of layer 0 recorded */
    double step_ns;              /* sum of all regions per step */
    double kernel_ns;            /* recorded commands per step */
    double clblast_ns;           /* of which CLBlast's kernels */
    double launches, clblast_launches, fills; /* per step */
    double flops;                /* per step, forward + backward + update */
} report_totals;

/* Aggregates the records and prints the layer table and the top `top`
 * kernels as Markdown to f. Returns the totals (steps 0: nothing usable). */
report_totals report_print(FILE *f, const report_input *in, int top);

#endif
