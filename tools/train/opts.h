/* clnet-train's command line: every flag, its default, and --help. Flags
 * override the model file's [train] section, which overrides built-ins;
 * a value left unset here is negative (numbers) or NULL/"" (strings).
 * With --resume, resume.c fills what the flags leave unset from the
 * checkpoint and refuses flags that contradict it. */
#ifndef CLNET_TOOLS_TRAIN_OPTS_H
#define CLNET_TOOLS_TRAIN_OPTS_H

#include <stddef.h>
#include <stdint.h>

typedef struct train_opts {
    const char *model_path, *data_dir; /* NULL: from --resume's checkpoint */
    int epochs, batch;
    float lr, momentum, weight_decay, label_smoothing, clip_norm, gamma;
    int nesterov;                 /* -1 unset */
    const char *optimizer;        /* NULL unset */
    const char *schedule;
    int warmup, step_epochs;
    const char *val_dir;
    float val_split;              /* < 0 unset */
    const char *augment;          /* NULL unset; "none" disables */
    const char *device;
    int threads;                  /* 0: cores */
    uint64_t seed;
    int seed_set;
    int deterministic;
    const char *out_dir;
    const char *resume;
    int limit;                    /* per class; 0 all */
    const char *cache_images;     /* auto | on | off; NULL unset (auto) */
    const char *mean, *std;       /* "0.5,0.5,0.5" */
    const char *init;
    int log_every;                /* steps between progress reads; 0 unset
                                     (20, or the resumed run's) */
    int save_every;               /* steps between mid-epoch checkpoints;
                                     0: at the end of each epoch only; -1
                                     unset (0, or the resumed run's) */
    int verbosity;                /* 0 -q, 1 default, 2 -v */
    int max_steps;                /* per epoch; 0: the whole epoch */
    int bench;                    /* print 'bench:' timing lines */
    const char *weights;          /* --weights: start from these (fine-tuning) */
    const char *freeze;           /* --freeze: layer-name prefixes, "backbone" */
    int in_c, in_h, in_w;         /* --input CxHxW; 0: the model file's */
    const char *input;            /* --input as given */
    int accumulate;               /* --accumulate N; -1 unset (1) */
    int recompute;                /* --recompute: 1; 0 the model file's */
    const char *precision;        /* fp32 | fp16-storage | fp16; NULL unset */
    int plan;                     /* --plan: print the memory plans, no run */
    float loss_scale;             /* --loss-scale: 0 off, > 0 the start of
                                     dynamic scaling; -1 unset */
    int loss_scale_interval;      /* --loss-scale-interval; -1 unset */
    int bucket_kib;               /* --bucket-kib: gradient buckets (256; 0 one sum) */
    int check_every;              /* --check-every N: compare replicas (0: per epoch) */
    int sync_bn;                  /* --sync-bn: 1; -1 unset (off) */
    int peer_timeout;             /* --peer-timeout S: a silent replica or
                                     rank stops the run (60) */
} train_opts;

/* Parses argv. Returns 0 to run, 1 when it printed --help/--version (exit 0),
 * 2 on a usage error (message printed; exit 2). */
int train_opts_parse(int argc, char **argv, train_opts *o);

/* --augment's list ("flip,crop", "none", NULL) as CLNET_AUG_* flags; -1
 * after printing the unknown name. */
int augment_parse(const char *list, unsigned *out);
/* The flags as a list ("flip,crop"; "none" for 0) in buf. */
const char *augment_names(unsigned flags, char *buf, size_t cap);

#endif
