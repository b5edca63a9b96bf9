#include "opts.h"

#include "clnet/clnet.h"
#include "clnet/data.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char usage[] =
    "usage: clnet-train [options] MODEL.cfg DATA_DIR\n"
    "       clnet-train --resume RUN/last.safetensors [options] [DATA_DIR]\n"
    "\n"
    "Trains MODEL.cfg on DATA_DIR, a folder with one subfolder of images per\n"
    "class. If DATA_DIR holds train/ and test/ (or val/) folders, those are\n"
    "used as the training and validation sets.\n"
    "\n"
    "Recipe (default: the model file's [train] section, else the value shown):\n"
    "  --epochs N            epochs to train (1)\n"
    "  --batch N             batch size (the model file's [net] batch)\n"
    "  --lr X                base learning rate (0.01 SGD, 0.001 Adam/AdamW)\n"
    "  --optimizer NAME      sgd | adam | adamw (sgd)\n"
    "  --momentum X          SGD momentum (0.9)\n"
    "  --nesterov            Nesterov momentum\n"
    "  --weight-decay X      L2 (SGD, Adam) or decoupled (AdamW) decay (0)\n"
    "  --schedule NAME       constant | step | cosine | onecycle (constant)\n"
    "  --warmup N            cosine: linear warm-up epochs (0)\n"
    "  --step-epochs N       step: decay every N epochs (30)\n"
    "  --gamma X             step: decay factor (0.1)\n"
    "  --label-smoothing X   (0)\n"
    "  --clip-norm X         clip gradients to this global norm (off)\n"
    "  --augment LIST        flip,crop,resized-crop or none (none)\n"
    "  --init NAME           kaiming_uniform | kaiming_normal | xavier | torch\n"
    "\n"
    "Fine-tuning:\n"
    "  --weights FILE        start from these weights: a clnet checkpoint, a\n"
    "                        safetensors file with PyTorch's names (torchvision's\n"
    "                        state_dict) or an .onnx file; tensors whose name and\n"
    "                        shape match are copied, the rest listed. When the\n"
    "                        data has another class count than the model, the\n"
    "                        final layer is replaced by a new one of its width\n"
    "  --freeze LIST         keep these layers fixed: layer-name prefixes, comma-\n"
    "                        separated, or 'backbone' (all but the final layer);\n"
    "                        frozen batchnorms use their running statistics\n"
    "  --input CxHxW         train at another input size (HxW keeps the\n"
    "                        channels); the network must allow it (global pooling)\n"
    "\n"
    "Data:\n"
    "  --val DIR             validation folder (same classes)\n"
    "  --val-split F         hold out fraction F of each class for validation\n"
    "  --limit N             use the first N images of each class\n"
    "  --threads N           decoding threads (number of cores)\n"
    "  --cache-images MODE   auto | on | off: keep decoded images in RAM (auto)\n"
    "  --mean a[,b,c]        per-channel mean (measured on a sample)\n"
    "  --std a[,b,c]         per-channel std (measured on a sample)\n"
    "\n"
    "Run:\n"
    "  --device X            OpenCL device: index or name substring; a list\n"
    "                        A,B,... trains one replica per device (below)\n"
    "  --seed N              seed for initialisation, shuffling, dropout (1)\n"
    "  --deterministic       bit-reproducible run (clnet's default: no atomics,\n"
    "                        fixed loader order; the flag documents the intent)\n"
    "  --out DIR             run directory (runs/MODEL-TIMESTAMP)\n"
    "  --resume CHECKPOINT   continue a run from its last.safetensors (below)\n"
    "  --log-every N         steps between progress updates and metrics.csv\n"
    "                        rows (20)\n"
    "  --save-every N        also save last.safetensors within an epoch, at the\n"
    "                        first progress update N or more steps after the\n"
    "                        last save (0: at the end of each epoch only)\n"
    "  --max-steps N         stop each epoch after N steps (benchmarks)\n"
    "  --bench               also print 'bench:' lines: start-up phases, time\n"
    "                        from process start to the first step done, steady\n"
    "                        images/s after each epoch's first 20 steps, peak RSS\n"
    "  -q, -v                quieter, more verbose\n"
    "  -h, --help, --version\n";

static const char memory_help[] =
    "\n"
    "Memory (README: Fitting a model in memory):\n"
    "  --accumulate N        sum the gradients of N batches of --batch images\n"
    "                        per update (an update sees N x batch images; the\n"
    "                        schedule, --max-steps and checkpoints count updates)\n"
    "  --recompute           keep only segment boundaries' activations and\n"
    "                        recompute the rest in backward (same results, less\n"
    "                        memory, about 1/3 more compute)\n"
    "  --precision P         fp32, or fp16-storage: layer outputs stored as\n"
    "                        16-bit floats, math and gradients fp32 (about\n"
    "                        half the activation memory, results within\n"
    "                        half's rounding); fp16: the gradients between\n"
    "                        layers half too, GEMM operands half, loss\n"
    "                        scaling on (devices with cl_khr_fp16 only)\n"
    "  --loss-scale S        dynamic loss scaling starting at S (a number, or\n"
    "                        'dynamic' for 65536, or 'off'): an update whose\n"
    "                        gradients overflow is skipped and S halves; S\n"
    "                        doubles after --loss-scale-interval N good updates\n"
    "                        (2000). fp16 turns it on; any precision can use it\n"
    "  --plan                print the memory plan under each option and the\n"
    "                        largest batch that fits this device; no training\n"
    "                        (DATA_DIR may be left out)\n"
    "\n"
    "Several devices and machines (data parallel; --batch is the global batch,\n"
    "split evenly, and every replica applies the same summed-gradient update):\n"
    "  --device A,B,...      one replica per device in this process; SEL:N\n"
    "                        splits device SEL into N sub-devices\n"
    "  mpirun -np N clnet-train ...\n"
    "                        one replica per process (Open MPI); rank 0 prints,\n"
    "                        validates and writes the run directory; local rank\n"
    "                        k takes entry k of --device's list, or else the\n"
    "                        k-th device of the default device's type\n"
    "  --sync-bn             batchnorm statistics over the whole global batch\n"
    "                        (as SyncBatchNorm; default: each replica's own)\n"
    "  --bucket-kib N        sum the gradients in buckets of N KiB, each as soon\n"
    "                        as backward has made it (256; 0: one sum after\n"
    "                        backward; results are the same)\n"
    "  --check-every N       also compare the replicas' parameter checksums every\n"
    "                        N updates (a debug check; 0: at epoch ends only)\n"
    "  --peer-timeout S      a replica or rank that does not reach a gradient\n"
    "                        sum within S seconds is named and the run stopped\n"
    "                        (60)\n";

static const char resume_help[] =
    "\n"
    "Resume: --resume RUN/last.safetensors alone continues a run exactly where\n"
    "the checkpoint left it (bit-identical to a run never stopped, on the same\n"
    "device). A checkpoint is written at the end of every epoch, every\n"
    "--save-every steps, and on Ctrl-C or SIGTERM (after the step in flight);\n"
    "after a kill the run continues from the last one, and metrics.csv rows\n"
    "past it are dropped. The checkpoint restores the model file, parameters,\n"
    "running statistics, optimizer moments, the step, the position in the\n"
    "epoch, the running loss sums, the best score, the data folders, the\n"
    "number of epochs and every flag the result depends on:\n"
    "  --batch --lr --optimizer --momentum --nesterov --weight-decay --schedule\n"
    "  --warmup --step-epochs --gamma --label-smoothing --clip-norm --augment\n"
    "  --init --seed --limit --val-split --mean --std --max-steps --accumulate\n"
    "  --precision --sync-bn --loss-scale --loss-scale-interval, and whether\n"
    "  validation came from --val, --val-split or DATA_DIR/test.\n"
    "Given on resume, one of those flags with the checkpoint's value is\n"
    "accepted, and with another value refused (exit 2, naming the checkpoint's\n"
    "value): a changed recipe is a new run. So is MODEL.cfg unless its text is\n"
    "the checkpoint's. These are applied on resume:\n"
    "  DATA_DIR, --val DIR   the run's images moved elsewhere (their count and\n"
    "                        class names must be the run's)\n"
    "  --epochs N            end after epoch N instead (a cosine or onecycle\n"
    "                        schedule spans the whole run: the remaining\n"
    "                        learning rates change, and a warning says the run\n"
    "                        no longer matches the one it continues)\n"
    "  --out DIR             continue into DIR (metrics.csv's rows so far are\n"
    "                        read from the checkpoint's folder)\n"
    "  --device X            another device: applied with a warning (results\n"
    "                        are bit-identical on the same device only)\n"
    "  --log-every N         metrics.csv's rows from here on come every N steps\n"
    "  --save-every N, --threads N, --cache-images MODE, --deterministic, --bench,\n"
    "  --recompute, --bucket-kib N, --peer-timeout S, --check-every N, a --device\n"
    "  list or\n"
    "  mpirun (another number of replicas: the global batch stays the run's),\n"
    "  -q, -v                change nothing in the result\n"
    "Left out, --log-every, --save-every, --threads and --cache-images are the\n"
    "run's too.\n";

enum {
    O_EPOCHS = 256, O_BATCH, O_LR, O_OPT, O_MOM, O_NEST, O_WD, O_SCHED,
    O_WARMUP, O_STEPE, O_GAMMA, O_LS, O_CLIP, O_AUG, O_INIT, O_VAL, O_VALSPLIT,
    O_LIMIT, O_THREADS, O_CACHE, O_MEAN, O_STD, O_DEVICE, O_SEED, O_DET, O_OUT,
    O_RESUME, O_LOGEVERY, O_SAVEEVERY, O_MAXSTEPS, O_BENCH, O_VERSION,
    O_WEIGHTS, O_FREEZE, O_INPUT, O_ACCUM, O_RECOMPUTE, O_PRECISION, O_PLAN, O_LOSS_SCALE, O_LOSS_SCALE_INTERVAL, O_PEER_TIMEOUT, O_SYNC_BN, O_BUCKET, O_CHECK_EVERY
};

static const struct option longopts[] = {
    {"epochs", 1, 0, O_EPOCHS}, {"batch", 1, 0, O_BATCH}, {"lr", 1, 0, O_LR},
    {"optimizer", 1, 0, O_OPT}, {"momentum", 1, 0, O_MOM},
    {"nesterov", 0, 0, O_NEST}, {"weight-decay", 1, 0, O_WD},
    {"schedule", 1, 0, O_SCHED}, {"warmup", 1, 0, O_WARMUP},
    {"step-epochs", 1, 0, O_STEPE}, {"gamma", 1, 0, O_GAMMA},
    {"label-smoothing", 1, 0, O_LS}, {"clip-norm", 1, 0, O_CLIP},
    {"augment", 1, 0, O_AUG}, {"init", 1, 0, O_INIT}, {"val", 1, 0, O_VAL},
    {"val-split", 1, 0, O_VALSPLIT}, {"limit", 1, 0, O_LIMIT},
    {"threads", 1, 0, O_THREADS}, {"cache-images", 1, 0, O_CACHE},
    {"mean", 1, 0, O_MEAN}, {"std", 1, 0, O_STD}, {"device", 1, 0, O_DEVICE},
    {"seed", 1, 0, O_SEED}, {"deterministic", 0, 0, O_DET},
    {"out", 1, 0, O_OUT}, {"resume", 1, 0, O_RESUME},
    {"log-every", 1, 0, O_LOGEVERY}, {"save-every", 1, 0, O_SAVEEVERY},
    {"max-steps", 1, 0, O_MAXSTEPS},
    {"bench", 0, 0, O_BENCH}, {"help", 0, 0, 'h'},
    {"weights", 1, 0, O_WEIGHTS}, {"freeze", 1, 0, O_FREEZE}, {"input", 1, 0, O_INPUT},
    {"accumulate", 1, 0, O_ACCUM}, {"recompute", 0, 0, O_RECOMPUTE},
    {"precision", 1, 0, O_PRECISION}, {"plan", 0, 0, O_PLAN},
    {"loss-scale", 1, 0, O_LOSS_SCALE}, {"loss-scale-interval", 1, 0, O_LOSS_SCALE_INTERVAL},
    {"peer-timeout", 1, 0, O_PEER_TIMEOUT}, {"sync-bn", 0, 0, O_SYNC_BN},
    {"bucket-kib", 1, 0, O_BUCKET}, {"check-every", 1, 0, O_CHECK_EVERY},
    {"version", 0, 0, O_VERSION}, {0, 0, 0, 0},
};

static int bad(const char *flag, const char *value, const char *why)
{
    fprintf(stderr, "clnet-train: --%s %s: %s (see --help)\n", flag, value, why);
    return 2;
}

static int get_int(const char *flag, const char *v, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (end == v || *end || errno || x < lo || x > hi) {
        char why[96];
        snprintf(why, sizeof why, "expected an integer from %ld to %ld", lo, hi);
        return bad(flag, v, why);
    }
    *out = (int)x;
    return 0;
}

static int get_float(const char *flag, const char *v, double lo, double hi, float *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end || errno || !isfinite(x) || x < lo || x > hi) {
        char why[96];
        snprintf(why, sizeof why, "expected a number from %g to %g", lo, hi);
        return bad(flag, v, why);
    }
    *out = (float)x;
    return 0;
}

/* --input CxHxW or HxW (channels 0: the model file's). */
static int get_input(const char *v, train_opts *o)
{
    int d[3], n = 0;
    const char *p = v;
    while (n < 3) {
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (end == p || errno || x < 1 || x > 65536)
            break;
        d[n++] = (int)x;
        p = end;
        if (*p != 'x' && *p != 'X')
            break;
        p++;
    }
    if (*p || n < 2 || (n == 3 && d[0] > 4))
        return bad("input", v, "expected CxHxW (C 1 to 4) or HxW, e.g. 3x64x64");
    o->in_c = n == 3 ? d[0] : 0;
    o->in_h = d[n - 2];
    o->in_w = d[n - 1];
    o->input = v;
    return 0;
}

static int one_of(const char *flag, const char *v, const char *const *names)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(v, names[i]) == 0)
            return 0;
    return bad(flag, v, "not one of the accepted values");
}

int train_opts_parse(int argc, char **argv, train_opts *o)
{
    static const char *const optims[] = {"sgd", "adam", "adamw", NULL};
    static const char *const scheds[] = {"constant", "step", "cosine", "onecycle", NULL};
    static const char *const caches[] = {"auto", "on", "off", NULL};
    static const char *const precisions[] = {"fp32", "fp16-storage", "fp16", NULL};
    memset(o, 0, sizeof *o);
    o->epochs = o->batch = o->warmup = o->step_epochs = -1;
    o->lr = o->momentum = o->weight_decay = o->label_smoothing = o->clip_norm = -1;
    o->gamma = o->val_split = -1;
    o->nesterov = -1;
    o->accumulate = -1;
    o->loss_scale = -1;
    o->loss_scale_interval = -1;
    o->peer_timeout = 60;
    o->sync_bn = -1;
    o->bucket_kib = 256;
    o->seed = 1;
    o->save_every = -1; /* log_every 0: unset (20); save_every -1: unset (0) */
    o->verbosity = 1;
    int c, rc = 0;
    optind = 1;
    while (rc == 0 && (c = getopt_long(argc, argv, "hqv", longopts, NULL)) != -1) {
        const char *a = optarg;
        switch (c) {
        case O_EPOCHS: rc = get_int("epochs", a, 1, 100000, &o->epochs); break;
        case O_BATCH: rc = get_int("batch", a, 1, 65536, &o->batch); break;
        case O_LR: rc = get_float("lr", a, 0, 100, &o->lr); break;
        case O_OPT: rc = one_of("optimizer", a, optims); o->optimizer = a; break;
        case O_MOM: rc = get_float("momentum", a, 0, 0.999999, &o->momentum); break;
        case O_NEST: o->nesterov = 1; break;
        case O_WD: rc = get_float("weight-decay", a, 0, 10, &o->weight_decay); break;
        case O_SCHED: rc = one_of("schedule", a, scheds); o->schedule = a; break;
        case O_WARMUP: rc = get_int("warmup", a, 0, 100000, &o->warmup); break;
        case O_STEPE: rc = get_int("step-epochs", a, 1, 100000, &o->step_epochs); break;
        case O_GAMMA: rc = get_float("gamma", a, 1e-9, 1, &o->gamma); break;
        case O_LS: rc = get_float("label-smoothing", a, 0, 0.999, &o->label_smoothing); break;
        case O_CLIP: rc = get_float("clip-norm", a, 0, 1e9, &o->clip_norm); break;
        case O_AUG: o->augment = a; break;
        case O_INIT: o->init = a; break;
        case O_VAL: o->val_dir = a; break;
        case O_VALSPLIT: rc = get_float("val-split", a, 0.001, 0.9, &o->val_split); break;
        case O_LIMIT: rc = get_int("limit", a, 1, 1 << 30, &o->limit); break;
        case O_THREADS: rc = get_int("threads", a, 1, 256, &o->threads); break;
        case O_CACHE: rc = one_of("cache-images", a, caches); o->cache_images = a; break;
        case O_MEAN: o->mean = a; break;
        case O_STD: o->std = a; break;
        case O_DEVICE: o->device = a; break;
        case O_SEED: {
            char *end;
            errno = 0;
            o->seed = strtoull(a, &end, 10);
            if (end == a || *end || errno)
                rc = bad("seed", a, "expected a non-negative integer");
            o->seed_set = 1;
            break;
        }
        case O_DET: o->deterministic = 1; break;
        case O_OUT: o->out_dir = a; break;
        case O_RESUME: o->resume = a; break;
        case O_LOGEVERY: rc = get_int("log-every", a, 1, 1 << 30, &o->log_every); break;
        case O_SAVEEVERY: rc = get_int("save-every", a, 0, 1 << 30, &o->save_every); break;
        case O_MAXSTEPS: rc = get_int("max-steps", a, 1, 1 << 30, &o->max_steps); break;
        case O_BENCH: o->bench = 1; break;
        case O_WEIGHTS: o->weights = a; break;
        case O_FREEZE: o->freeze = a; break;
        case O_INPUT: rc = get_input(a, o); break;
        case O_ACCUM: rc = get_int("accumulate", a, 1, 65536, &o->accumulate); break;
        case O_SYNC_BN: o->sync_bn = 1; break;
        case O_CHECK_EVERY: rc = get_int("check-every", a, 0, 1 << 30, &o->check_every); break;
        case O_BUCKET: rc = get_int("bucket-kib", a, 0, 1 << 20, &o->bucket_kib); break;
        case O_PEER_TIMEOUT: rc = get_int("peer-timeout", a, 1, 86400, &o->peer_timeout); break;
        case O_RECOMPUTE: o->recompute = 1; break;
        case O_PRECISION: rc = one_of("precision", a, precisions); o->precision = a; break;
        case O_PLAN: o->plan = 1; break;
        case O_LOSS_SCALE:
            if (strcmp(a, "off") == 0)
                o->loss_scale = 0;
            else if (strcmp(a, "dynamic") == 0)
                o->loss_scale = 65536;
            else
                rc = get_float("loss-scale", a, 1.0 / 16777216, 16777216, &o->loss_scale);
            break;
        case O_LOSS_SCALE_INTERVAL:
            rc = get_int("loss-scale-interval", a, 1, 1000000, &o->loss_scale_interval);
            break;
        case 'q': o->verbosity = 0; break;
        case 'v': o->verbosity++; break;
        case 'h':
            fputs(usage, stdout);
            fputs(memory_help, stdout);
            fputs(resume_help, stdout);
            return 1;
        case O_VERSION: printf("clnet-train %s\n", clnet_version()); return 1;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (rc)
        return rc;
    if (o->resume && o->weights) {
        fprintf(stderr, "clnet-train: --weights with --resume: the checkpoint holds the "
                        "run's weights (start a new run to fine-tune from others)\n");
        return 2;
    }
    if (o->val_dir && o->val_split > 0) {
        fprintf(stderr, "clnet-train: --val and --val-split exclude each other\n");
        return 2;
    }
    int n = argc - optind;
    if (o->plan && !o->resume && (n == 1 || n == 2)) {
        o->model_path = argv[optind];
        o->data_dir = n == 2 ? argv[optind + 1] : NULL;
        return 0;
    }
    if (o->resume && n == 1) {
        /* The checkpoint has the model; one argument is the data, moved. */
        struct stat st;
        if (stat(argv[optind], &st) == 0 && S_ISDIR(st.st_mode))
            o->data_dir = argv[optind];
        else
            o->model_path = argv[optind];
        return 0;
    }
    if (n != 2 && !(o->resume && n == 0)) {
        fprintf(stderr, "clnet-train: expected MODEL.cfg and DATA_DIR%s (got %d "
                        "arguments)\n%s", o->resume ? ", or neither with --resume" : "",
                n, usage);
        return 2;
    }
    if (n == 2) {
        o->model_path = argv[optind];
        o->data_dir = argv[optind + 1];
    }
    return 0;
}

int augment_parse(const char *list, unsigned *out)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", list ? list : "");
    *out = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        if (strcmp(tok, "flip") == 0)
            *out |= CLNET_AUG_FLIP;
        else if (strcmp(tok, "crop") == 0)
            *out |= CLNET_AUG_CROP;
        else if (strcmp(tok, "resized-crop") == 0 || strcmp(tok, "resized_crop") == 0)
            *out |= CLNET_AUG_RESIZED_CROP;
        else if (strcmp(tok, "none") != 0) {
            fprintf(stderr, "clnet-train: --augment: unknown '%s' (flip, crop, "
                            "resized-crop, none)\n", tok);
            return -1;
        }
    }
    return 0;
}

const char *augment_names(unsigned flags, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s%s%s%s", flags & CLNET_AUG_FLIP ? ",flip" : "",
             flags & CLNET_AUG_CROP ? ",crop" : "",
             flags & CLNET_AUG_RESIZED_CROP ? ",resized-crop" : "", flags ? "" : ",none");
    memmove(buf, buf + 1, strlen(buf));
    return buf;
}
