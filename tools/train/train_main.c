/* clnet-train: train a model file on a folder of class subfolders.
 * This file sets the run up (device, model, recipe, data, normalisation) and
 * prints what it resolved; train_loop.c runs the epochs. */
#define _XOPEN_SOURCE 700 /* realpath */
#include "run.h"

#include "../cli.h"
#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

volatile sig_atomic_t train_stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    train_stop_requested = 1;
}

static int is_dir(const char *p)
{
    struct stat s;
    return stat(p, &s) == 0 && S_ISDIR(s.st_mode);
}

static int fail(train_run *r, const char *what, clnet_status st)
{
    fprintf(stderr, "clnet-train: %s: %s\n", what,
            r->ctx && *clnet_errmsg(r->ctx) ? clnet_errmsg(r->ctx) : clnet_strerror(st));
    return -1;
}

/* Flags override the model file's [train] section, which overrides
 * clnet's built-in defaults (already merged into the model's recipe). */
static int resolve_recipe(train_run *r)
{
    const train_opts *o = &r->opts;
    clnet_train_settings *t = &r->recipe;
    clnet_model_get_train_settings(r->model, t);
    if (o->optimizer) {
        clnet_optimizer before = t->optimizer;
        t->optimizer = strcmp(o->optimizer, "adam") == 0    ? CLNET_OPTIM_ADAM
                       : strcmp(o->optimizer, "adamw") == 0 ? CLNET_OPTIM_ADAMW
                                                            : CLNET_OPTIM_SGD;
        if (before == CLNET_OPTIM_SGD && t->optimizer != CLNET_OPTIM_SGD && o->lr < 0)
            t->lr = 0.001f;
    }
    if (o->lr >= 0) t->lr = o->lr;
    if (o->momentum >= 0) t->momentum = o->momentum;
    if (o->nesterov >= 0) t->nesterov = o->nesterov;
    if (o->weight_decay >= 0) t->weight_decay = o->weight_decay;
    if (o->label_smoothing >= 0) t->label_smoothing = o->label_smoothing;
    if (o->clip_norm >= 0) t->clip_norm = o->clip_norm;
    if (o->accumulate >= 1) t->accumulate = o->accumulate;
    if (o->loss_scale >= 0) t->loss_scale = o->loss_scale;
    if (o->loss_scale_interval >= 1) t->loss_scale_interval = o->loss_scale_interval;
    r->accumulate = t->accumulate > 1 ? t->accumulate : 1;
    clnet_status st = clnet_model_set_train_settings(r->model, t);
    if (st != CLNET_OK)
        return fail(r, "recipe", st);

    clnet_train_plan plan;
    clnet_model_get_train_plan(r->model, &plan);
    r->epochs = o->epochs > 0 ? o->epochs : plan.epochs > 0 ? plan.epochs : 1;
    const char *sched = o->schedule ? o->schedule : plan.schedule[0] ? plan.schedule : "constant";
    clnet__sched_kind kind;
    if (clnet__schedule_from_name(sched, &kind) != 0) {
        fprintf(stderr, "clnet-train: unknown schedule '%s'\n", sched);
        return -1;
    }
    clnet__schedule_defaults(&r->schedule, kind);
    int warmup = o->warmup >= 0 ? o->warmup : plan.warmup_epochs;
    if (warmup > 0)
        r->schedule.warmup_epochs = warmup;
    int step_epochs = o->step_epochs > 0 ? o->step_epochs : plan.step_epochs;
    if (step_epochs > 0)
        r->schedule.step_epochs = (uint32_t)step_epochs;
    float gamma = o->gamma > 0 ? o->gamma : plan.gamma;
    if (gamma > 0)
        r->schedule.gamma = gamma;

    return augment_parse(o->augment ? o->augment : plan.augment, &r->augment);
}

static int parse_channels(const char *s, int c, float *out, const char *what)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    int n = 0;
    for (char *tok = strtok(buf, ","); tok && n < 4; tok = strtok(NULL, ","))
        out[n++] = strtof(tok, NULL);
    if (n == 1)
        for (int i = 1; i < c; i++)
            out[i] = out[0];
    else if (n != c) {
        fprintf(stderr, "clnet-train: --%s needs 1 or %d values, got '%s'\n", what, c, s);
        return -1;
    }
    return 0;
}

/* (Re)creates r->model: MODEL.cfg, or the resumed checkpoint's text, at
 * --input's size and, when classes > 0, that class count; then its info and
 * the recipe. */
static int load_model(train_run *r, int classes)
{
    clnet_model_settings *ms = &r->model_settings;
    clnet_model_default_settings(ms);
    /* --batch (or the file's) is the global batch: each replica trains on
     * its share (r->global_batch set by main). */
    ms->batch = r->global_batch > 0 ? r->global_batch / (r->n_replicas * r->world.size) : 0;
    ms->seed = r->opts.seed;
    ms->init = r->opts.init;
    ms->channels = r->opts.in_c;
    ms->height = r->opts.in_h;
    ms->width = r->opts.in_w;
    ms->classes = classes;
    ms->recompute = r->opts.recompute;
    ms->precision = precision_from_name(r->opts.precision);
    clnet_model_free(r->model);
    r->model = NULL;
    clnet_status st;
    if (r->model_text) {
        char label[2200];
        snprintf(label, sizeof label, "%s[model.cfg]", r->opts.resume);
        st = clnet_model_load_string(r->ctx, label, r->model_text, ms, &r->model);
    } else {
        st = clnet_model_load(r->ctx, r->opts.model_path, ms, &r->model);
    }
    if (st != CLNET_OK)
        return fail(r, "model", st);
    if ((st = clnet_model_get_info(r->model, &r->info)) != CLNET_OK)
        return fail(r, "model", st);
    return resolve_recipe(r);
}

static int open_data(train_run *r)
{
    const train_opts *o = &r->opts;
    clnet_dataset_settings ds;
    clnet_dataset_default_settings(&ds);
    ds.channels = r->info.channels;
    ds.height = r->info.height;
    ds.width = r->info.width;
    ds.limit_per_class = o->limit;
    char train_dir[2048], val_dir[2048] = "";
    snprintf(train_dir, sizeof train_dir, "%s", o->data_dir);
    /* Absolute, in the checkpoint: a resume from another folder finds them. */
    if (!realpath(o->data_dir, r->data_abs))
        snprintf(r->data_abs, sizeof r->data_abs, "%s", o->data_dir);
    if (o->val_dir && !realpath(o->val_dir, r->val_abs))
        snprintf(r->val_abs, sizeof r->val_abs, "%s", o->val_dir);
    if (!o->val_dir) {
        /* DATA/train + DATA/test (or val): a prepared split. */
        char t[2048], v[2048];
        snprintf(t, sizeof t, "%s/train", o->data_dir);
        if (is_dir(t)) {
            snprintf(train_dir, sizeof train_dir, "%s", t);
            for (const char *name = "test"; name; name = strcmp(name, "test") == 0 ? "val" : NULL) {
                snprintf(v, sizeof v, "%s/%s", o->data_dir, name);
                if (!val_dir[0] && is_dir(v))
                    snprintf(val_dir, sizeof val_dir, "%s", v);
            }
        }
    } else {
        snprintf(val_dir, sizeof val_dir, "%s", o->val_dir);
    }
    clnet_status st = clnet_dataset_open(r->ctx, train_dir, &ds, &r->all);
    if (st != CLNET_OK)
        return fail(r, train_dir, st);
    int k = clnet_dataset_classes(r->all);
    if (k != r->info.classes && o->weights && !o->resume) {
        /* Fine-tuning for other classes: a new final layer of their count. */
        if (o->verbosity)
            printf("classes  %s has %d classes, %s outputs %d: its final layer is replaced "
               "by a new one with %d outputs (initialised, not from --weights)\n",
               train_dir, k, o->model_path, r->info.classes, k);
        if (load_model(r, k) != 0)
            return -1;
    } else if (k != r->info.classes) {
        size_t n = strlen(o->model_path);
        if (n > 5 && strcasecmp(o->model_path + n - 5, ".onnx") == 0)
            fprintf(stderr, "clnet-train: %s has %d classes but %s outputs %d: fine-tune "
                            "it with --weights %s (its own weights), which replaces its "
                            "final layer\n", train_dir, k, o->model_path, r->info.classes,
                    o->model_path);
        else
            fprintf(stderr, "clnet-train: %s has %d classes but %s outputs %d: set "
                            "classes=%d in its [net] section and the outputs (dense) or "
                            "filters (conv) of the layer that makes the logits, or "
                            "fine-tune from trained weights with --weights FILE, which "
                            "replaces that layer\n",
                    train_dir, k, o->model_path, r->info.classes, k);
        return -1;
    }
    if (o->val_split > 0) {
        st = clnet_dataset_split(r->ctx, r->all, o->val_split, r->opts.seed, &r->train, &r->val);
        if (st != CLNET_OK)
            return fail(r, "--val-split", st);
    } else if (val_dir[0]) {
        /* --limit applies to the validation folder too (quick runs). */
        st = clnet_dataset_open_like(r->ctx, val_dir, r->all, &r->val);
        if (st != CLNET_OK)
            return fail(r, val_dir, st);
    }
    const clnet_dataset *tr = r->train ? r->train : r->all;
    if (clnet_dataset_size(tr) < (size_t)r->global_batch) {
        fprintf(stderr, "clnet-train: %zu training images is fewer than one batch "
                        "of %d; use --batch\n", clnet_dataset_size(tr), r->global_batch);
        return -1;
    }
    return 0;
}

static int setup_loader(train_run *r)
{
    const train_opts *o = &r->opts;
    int c = r->info.channels;
    const clnet_dataset *tr = r->train ? r->train : r->all;
    if (o->mean && parse_channels(o->mean, c, r->mean, "mean"))
        return -1;
    if (o->std && parse_channels(o->std, c, r->std, "std"))
        return -1;
    if ((!o->mean || !o->std) && r->std[0] == 0) {
        float mean[4], std[4];
        clnet_status st = clnet_dataset_measure(r->ctx, tr, 2000, mean, std);
        if (st != CLNET_OK)
            return fail(r, "measuring mean/std", st);
        for (int i = 0; i < c; i++) {
            if (!o->mean)
                r->mean[i] = mean[i];
            if (!o->std)
                r->std[i] = std[i] > 1e-6f ? std[i] : 1;
        }
    }
    clnet_loader_default_settings(&r->loader);
    r->loader.batch = r->global_batch;
    r->loader.shards = r->world.size; /* this rank's part of each batch */
    r->loader.shard = r->world.rank;
    r->loader.shuffle = 1;
    r->loader.drop_last = 1;
    r->loader.seed = o->seed;
    r->loader.threads = o->threads;
    r->loader.augment = r->augment;
    r->loader.crop_pad = r->info.height >= 32 ? 4 : 2;
    r->loader.mean = r->mean;
    r->loader.std = r->std;
    const char *cache = o->cache_images ? o->cache_images : "auto";
    r->loader.cache = strcmp(cache, "on") == 0    ? CLNET_CACHE_ON
                      : strcmp(cache, "off") == 0 ? CLNET_CACHE_OFF
                                                   : CLNET_CACHE_AUTO;
    /* Whole updates only: a last accumulation the epoch cannot complete is
     * left out, as a last partial batch is (drop_last). --max-steps counts
     * updates. */
    uint64_t k = (uint64_t)r->accumulate;
    r->updates_per_epoch = clnet_dataset_size(tr) / (size_t)r->global_batch / k;
    if (o->max_steps > 0 && r->updates_per_epoch > (uint64_t)o->max_steps)
        r->updates_per_epoch = (uint64_t)o->max_steps;
    r->steps_per_epoch = r->updates_per_epoch * k;
    if (r->updates_per_epoch == 0) {
        fprintf(stderr, "clnet-train: %zu training images is fewer than one update of "
                        "%d batches of %d; use a smaller --accumulate or --batch\n",
                clnet_dataset_size(tr), r->accumulate, r->global_batch);
        return -1;
    }
    clnet_status st = clnet__schedule_check(r->ctx, &r->schedule, r->updates_per_epoch,
                                            (uint32_t)r->epochs);
    return st == CLNET_OK ? 0 : fail(r, "schedule", st);
}

static void print_summary(const train_run *r)
{
    const clnet_model_info *i = &r->info;
    const clnet_train_settings *t = &r->recipe;
    static const char *const optim[] = {"sgd", "adam", "adamw"};
    const clnet_dataset *tr = r->train ? r->train : r->all;
    printf("device   %s", clnet_ctx_device_name(r->ctx));
    if (r->n_replicas > 1)
        printf(", %d replicas (--device %s), gradients summed across them every update",
               r->n_replicas, r->opts.device);
    if (r->world.size > 1)
        printf(" on rank 0 of %d processes (mpirun), gradients summed across them every "
               "update", r->world.size);
    printf("\n");
    printf("model    %s: %d layers, %zu parameters, input %dx%dx%d, %d classes\n",
           r->opts.model_path, i->layers, i->params, i->channels, i->height, i->width,
           i->classes);
    printf("memory   %.1f MiB on the device with the memory plan (%.1f MiB without)",
           i->memory_planned / 1048576.0, i->memory_naive / 1048576.0);
    const clnet_model_settings *ms = &r->model_settings;
    if (ms->precision != CLNET_PRECISION_FP32)
        printf(", activations in %s", r->opts.precision);
    if (i->recompute_segments > 1)
        printf(", recompute on (%d segments)", i->recompute_segments);
    printf("\n");
    printf("data     %zu training images", clnet_dataset_size(tr));
    if (r->val)
        printf(", %zu validation images", clnet_dataset_size(r->val));
    printf(" in %d classes (", clnet_dataset_classes(r->all));
    for (int c = 0; c < clnet_dataset_classes(r->all) && c < 6; c++)
        printf("%s%s", c ? ", " : "", clnet_dataset_class_name(r->all, c));
    printf("%s)\n", clnet_dataset_classes(r->all) > 6 ? ", ..." : "");
    printf("recipe   %s lr %g", optim[t->optimizer], (double)t->lr);
    if (t->optimizer == CLNET_OPTIM_SGD)
        printf(" momentum %g%s", (double)t->momentum, t->nesterov ? " nesterov" : "");
    printf(" weight decay %g, %s schedule, %d epoch%s of %llu steps, batch %d",
           (double)t->weight_decay, clnet__schedule_name(r->schedule.kind), r->epochs,
           r->epochs == 1 ? "" : "s", (unsigned long long)r->updates_per_epoch,
           r->global_batch);
    if (r->n_replicas * r->world.size > 1)
        printf(" over %d replicas of %d", r->n_replicas * r->world.size, i->batch);
    if (r->accumulate > 1)
        printf(" x %d accumulated (%d images per update)", r->accumulate,
               r->accumulate * r->global_batch);
    if (r->augment)
        printf(", augment%s%s%s", r->augment & CLNET_AUG_FLIP ? " flip" : "",
               r->augment & CLNET_AUG_CROP ? " crop" : "",
               r->augment & CLNET_AUG_RESIZED_CROP ? " resized-crop" : "");
    printf("\nnormalise mean");
    for (int c = 0; c < i->channels; c++)
        printf(" %.4f", (double)r->mean[c]);
    printf(" std");
    for (int c = 0; c < i->channels; c++)
        printf(" %.4f", (double)r->std[c]);
    printf("\noutput   %s\n", r->out_dir);
    fflush(stdout);
}

static void cleanup(train_run *r)
{
    replicas_close(r);
    metrics_log_close(&r->metrics);
    clnet__st_close(r->ckpt);
    eval_result_free(&r->last_eval);
    free(r->epoch_rows);
    free(r->points);
    clnet_model_free(r->model);
    clnet_dataset_free(r->train);
    clnet_dataset_free(r->val);
    clnet_dataset_free(r->all);
    clnet_ctx_free(r->ctx);
}

/* Everything after the options and MPI start-up; the exit status. */
static int train_main(train_run *r, int argc, char **argv)
{
    size_t len = 0;
    for (int i = 0; i < argc && len + 2 < sizeof r->invocation; i++)
        len += (size_t)snprintf(r->invocation + len, sizeof r->invocation - len, "%s%s",
                                i ? " " : "", argv[i]);
    memcpy(r->command, r->invocation, sizeof r->command);
    r->argv0 = argv[0];
    r->best_top1 = -1;
    cli_verbosity verb = {r->opts.verbosity};
    r->n_replicas = replicas_parse(r->opts.device, r->devices, CLNET_TRAIN_MAX_REPLICAS);
    if (r->n_replicas < 1)
        return 2;
    if (r->world.size > 1)
        replicas_for_rank(r);
    clnet_ctx_settings cs;
    clnet_ctx_default_settings(&cs);
    replica_ctx_settings(r, 0, &cs);
    cs.log = cli_log;
    cs.log_user = &verb;
    cs.log_level = cli_log_level(verb.level);
    if (r->world.rank > 0 && cs.log_level < CLNET_LOG_WARN)
        cs.log_level = CLNET_LOG_WARN; /* rank 0 tells the story */
    clnet_status st = clnet_ctx_create(&r->ctx, &cs);
    if (st != CLNET_OK) {
        fail(r, "device", st);
        cleanup(r);
        return 1;
    }
    r->t_ctx = progress_now();
    if (r->opts.plan) {
        int rc = train_plan(r);
        cleanup(r);
        return rc;
    }
    if (r->opts.resume && resume_prepare(r) != 0) {
        cleanup(r);
        return r->refused ? 2 : 1;
    }
    if (r->opts.log_every <= 0)
        r->opts.log_every = 20;
    if (r->opts.save_every < 0)
        r->opts.save_every = 0;
    int rc = 1;
    /* The global batch: --batch, else the model file's (known once loaded). */
    int parts = r->n_replicas * r->world.size;
    r->global_batch = r->opts.batch > 0 ? r->opts.batch : 0;
    int loaded = load_model(r, 0) == 0;
    if (loaded && !r->global_batch) {
        r->global_batch = r->info.batch;
        if (parts > 1)
            loaded = load_model(r, 0) == 0;
    }
    if (loaded && r->global_batch % parts != 0) {
        fprintf(stderr, "clnet-train: batch %d does not split evenly over %d replicas; "
                        "use a --batch that is a multiple of %d\n", r->global_batch,
                parts, parts);
        loaded = 0;
    }
    r->t_model = progress_now();
    if (loaded && (!r->opts.resume || run_dir_restore(r) == 0) && open_data(r) == 0 &&
        (!r->opts.resume || resume_check_data(r) == 0) &&
        (!r->opts.weights || finetune_load_weights(r) == 0) &&
        (!r->opts.freeze || finetune_freeze(r) == 0) && setup_loader(r) == 0 &&
        run_dir_prepare(r) == 0 && replicas_open(r) == 0 && world_attach(r) == 0) {
        print_summary(r);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        rc = train_loop(r);
    }
    cleanup(r);
    return rc;
}

int main(int argc, char **argv)
{
    static train_run run;
    train_run *r = &run;
    r->t_start = progress_now();
    int rc = train_opts_parse(argc, argv, &r->opts);
    if (rc)
        return rc == 1 ? 0 : 2;
    if ((rc = world_init(&argc, &argv, &r->world)) != 0)
        return rc;
    r->world.timeout_s = r->opts.peer_timeout;
    /* Under mpirun rank 0 alone prints progress; errors still reach stderr. */
    if (r->world.rank > 0 && !freopen("/dev/null", "w", stdout))
        fprintf(stderr, "clnet-train: rank %d: cannot silence stdout\n", r->world.rank);
    return world_finish(&r->world, train_main(r, argc, argv));
}
