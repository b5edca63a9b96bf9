/* The state of one clnet-train run, shared by its files:
 *   train_main.c  set-up: device, model, recipe, data, run directory
 *   train_loop.c  the epoch loop: steps, progress, evaluation, checkpoints
 *   run_dir.c     the run directory: copies, checkpoint metadata, report */
#ifndef CLNET_TOOLS_RUN_H
#define CLNET_TOOLS_RUN_H

#include "clnet/clnet.h"
#include "clnet/data.h"
#include "eval.h"
#include "opts.h"
#include "report.h"
#include "train/schedule.h"

#include <signal.h>
#include <stdint.h>

typedef struct train_run {
    train_opts opts;
    char command[4096];          /* the command line, for the report */
    clnet_ctx *ctx;
    clnet_model *model;
    clnet_model_info info;
    clnet_train_settings recipe;
    clnet__schedule schedule;
    int epochs;
    unsigned augment;

    clnet_dataset *all, *train, *val;  /* all: what train/val split from */
    clnet_loader_settings loader;
    float mean[4], std[4];
    uint64_t steps_per_epoch;

    char out_dir[2048];
    uint32_t start_epoch;        /* resume position */
    uint64_t start_batch;
    double best_top1;            /* -1: none yet */
    int best_epoch;

    report_epoch *epoch_rows;
    size_t n_epoch_rows;
    report_point *points;
    size_t n_points, cap_points;
    eval_result last_eval;       /* of the last validation */
    double t_start, t_ctx, t_model; /* --bench: process start, context and */
                                    /* model ready (progress_now() clock) */
} train_run;

/* Set by SIGINT/SIGTERM: the loop finishes its step, saves and exits 130. */
extern volatile sig_atomic_t train_stop_requested;

/* run_dir.c */
int run_dir_prepare(train_run *r);          /* 0 or prints and returns -1 */
int run_dir_save(train_run *r, const char *name, uint32_t next_epoch,
                 uint64_t next_batch);      /* checkpoint into out_dir */
int run_dir_report(train_run *r);
/* Restores position, normalisation and best score from a checkpoint's
 * metadata (after clnet_model_load_checkpoint). */
int run_dir_restore(train_run *r);
void run_add_point(train_run *r, const report_point *p);

/* train_loop.c: returns the process exit status. */
int train_loop(train_run *r);

#endif
