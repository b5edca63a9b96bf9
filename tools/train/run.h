/* The state of one clnet-train run, shared by its files:
 *   train_main.c  set-up: device, model, recipe, data, run directory
 *   train_loop.c  the epoch loop: steps, progress, evaluation, checkpoints
 *   run_dir.c     the run directory: copies, checkpoint metadata, report
 *   resume.c      what --resume restores, and the flags it refuses
 *   metrics.c     metrics.csv, appended as the run goes
 *   finetune.c    --weights and --freeze: starting from trained weights */
#ifndef CLNET_TOOLS_RUN_H
#define CLNET_TOOLS_RUN_H

#include "clnet/clnet.h"
#include "clnet/data.h"
#include "eval.h"
#include "metrics.h"
#include "opts.h"
#include "report.h"
#include "train/safetensors.h"
#include "train/schedule.h"

#include <signal.h>
#include <stdint.h>

#define CLNET_TRAIN_MAX_REPLICAS 64

/* One entry of --device: a selector, and the sub-device when it was
 * SELECTOR:N (parts N, index k). */
typedef struct replica_device {
    char selector[128];
    int parts, index;
} replica_device;

/* The processes of one run: mpirun -np N clnet-train ... (world_mpi.c
 * with Open MPI, world_single.c without). Rank 0 prints, validates and
 * writes the run directory; every rank trains on its shard of each global
 * batch and their gradients are summed before every update. */
typedef struct train_world {
    int size, rank, local_rank;
    int timeout_s;               /* --peer-timeout: a silent peer stops the run */
    int stop;                    /* every rank agreed to stop (Ctrl-C, SIGTERM) */
} train_world;

typedef struct train_run {
    train_opts opts;
    char command[4096];          /* the command line that started the run
                                    (a resume keeps the checkpoint's) */
    char invocation[4096];       /* this process's command line */
    const char *argv0;
    clnet__st_file *ckpt;        /* --resume: the checkpoint's metadata */
    const char *model_text;      /* --resume: its model file (in ckpt) */
    int refused;                 /* --resume: a flag contradicted it */
    char data_abs[4096], val_abs[4096]; /* the data folders, absolute */
    clnet_ctx *ctx;
    clnet_model *model;
    /* Several devices (replicas.c): replica 0 is ctx/model. */
    replica_device devices[CLNET_TRAIN_MAX_REPLICAS];
    int n_replicas;
    clnet_ctx *rep_ctx[CLNET_TRAIN_MAX_REPLICAS];
    clnet_model *rep_model[CLNET_TRAIN_MAX_REPLICAS];
    clnet_local_group *group;
    train_world world;           /* processes (mpirun); size 1 without */
    int global_batch;            /* the batch of one update before --accumulate:
                                    ranks x replicas x model batch */
    clnet_model_settings model_settings; /* how model was loaded */
    clnet_model_info info;
    clnet_train_settings recipe;
    clnet__schedule schedule;
    int epochs;
    unsigned augment;

    clnet_dataset *all, *train, *val;  /* all: what train/val split from */
    clnet_loader_settings loader;
    float mean[4], std[4];
    char ft_mean[128], ft_std[128]; /* --weights' checkpoint normalisation */
    uint64_t steps_per_epoch;    /* batches (micro-batches) per epoch */
    int accumulate;              /* batches per update (1: none) */
    uint64_t updates_per_epoch;  /* steps_per_epoch / accumulate */

    char out_dir[2048];
    uint32_t start_epoch;        /* resume position */
    uint64_t start_batch;
    double best_top1;            /* -1: none yet */
    int best_epoch;
    /* The epoch in progress: sums of the counters read so far and seconds
     * spent, saved in mid-epoch checkpoints so a resume continues them. */
    double ep_loss, ep_correct, ep_samples, ep_seconds;
    double loss_scale, skipped_updates; /* loss scaling, at the last read */
    uint64_t saved_step;         /* the step of the last checkpoint */
    metrics_log metrics;

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
/* Writes model.onnx (the network of best.safetensors, with its class names
 * and normalisation) into out_dir; prints a warning and returns -1 when it
 * cannot. */
int run_dir_export_onnx(train_run *r);
/* Loads --resume's checkpoint into the model and restores the position,
 * the epoch in progress, the base learning rate, the schedule and the best
 * score from its metadata. */
int run_dir_restore(train_run *r);
/* Writes a row into metrics.csv and keeps it for the report. */
void run_add_epoch(train_run *r, const report_epoch *row);
void run_add_point(train_run *r, const report_point *p);
/* The data files left out so far: the training folder's (its split views
 * included), plus the validation folder's when it was opened on its own. */
void run_skips(const train_run *r, clnet_skip_stats *out);

/* resume.c. Before the model exists: opens --resume's checkpoint, refuses
 * flags that contradict it and fills the others from it. 0, or -1 after
 * printing why (r->refused set when a flag or argument was refused). */
int resume_prepare(train_run *r);
/* After the data is open: the images must be the run's (count, classes). */
int resume_check_data(train_run *r);

/* replicas.c. --device's list (n entries, at most cap; -1 after printing
 * why); the context settings of entry k; the other replicas, after replica
 * 0 is set up (a copy of its state each); one training step of the global
 * batch b over all of them; the counters of all (read and reset); and
 * whether all replicas' parameters are still equal (-1 after printing). */
int replicas_parse(const char *spec, replica_device *out, int cap);
void replica_ctx_settings(const train_run *r, int k, clnet_ctx_settings *cs);
int replicas_open(train_run *r);
void replicas_close(train_run *r);
clnet_status replicas_step(train_run *r, const clnet_batch *b, float lr);
int replicas_read_stats(train_run *r, clnet_stats *out);
int replicas_check(train_run *r);
/* Under mpirun: this rank's one device, entry local_rank (mod the count) of
 * --device's list, or without --device of the devices of the default
 * device's type (GPUs, say). */
void replicas_for_rank(train_run *r);

/* world_*.c. world_init: 0, or an exit status after printing (started by
 * mpirun without Open MPI support, MPI failed). world_attach: the model's
 * reducer over the ranks (size > 1). world_sum_stats: counters summed over
 * the ranks, and whether any rank asked to stop (sets world.stop).
 * world_epoch_end: every rank's parameters equal, and the stop request,
 * after rank 0's validation and saves (waiting up to the peer timeout plus
 * `allowance` seconds; `what` names the wait in a timeout message);
 * --check-every calls it mid-epoch too. Each of these gives -1 after printing; a peer that
 * does not arrive in time is named and the run stopped (MPI_Abort).
 * world_finish: MPI_Finalize, or MPI_Abort when rc != 0 so no rank is left
 * waiting. */
int world_init(int *argc, char ***argv, train_world *w);
int world_attach(train_run *r);
int world_sum_stats(train_run *r, clnet_stats *s);
int world_epoch_end(train_run *r, const char *what, double allowance);
int world_finish(train_world *w, int rc);

/* plan.c: --plan's table for r->opts on r->ctx; the exit status. */
int train_plan(train_run *r);

/* The settings' precision from --precision's name (NULL: fp32). */
clnet_precision precision_from_name(const char *name);

/* train_loop.c: returns the process exit status. */
int train_loop(train_run *r);

/* finetune.c: --weights FILE copied into r->model by name and shape, with
 * what was loaded and skipped printed; -1 after printing why (nothing
 * matching, an unreadable file). */
int finetune_load_weights(train_run *r);
/* --freeze LIST (layer-name prefixes, or "backbone") applied to r->model;
 * -1 after printing why (a prefix that names no layer). */
int finetune_freeze(train_run *r);

#endif
