/* What --resume restores. A checkpoint written by clnet-train holds, besides
 * the model's own state (clnet_model_save), every setting the result depends
 * on (run_dir_save writes them as run.* metadata). Here, before the model
 * exists, each such flag given again is checked against the checkpoint
 * (the same value is accepted, another refused) and each flag left out is
 * filled from it, so the usual set-up resolves the run exactly as it was.
 * The flags that change nothing in the result, and the data paths, are
 * left as given; opts.c's --help lists both kinds. */
#include "run.h"

#include "classnames.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *meta(const train_run *r, const char *key)
{
    return clnet__st_meta_get(r->ckpt, key);
}

static int refuse(train_run *r, const char *flag, const char *given, const char *what,
                  const char *stored)
{
    r->refused = 1;
    fprintf(stderr,
            "clnet-train: --%s %s contradicts the checkpoint %s, whose run has %s %s.\n"
            "A resume continues the run as it was: leave --%s out. A changed recipe\n"
            "is a new run.\n",
            flag, given, r->opts.resume, what, stored, flag);
    return -1;
}

/* An integer flag; `unset` is its value when not given. */
static int int_flag(train_run *r, const char *flag, const char *key, int *v, int unset)
{
    const char *s = meta(r, key);
    if (!s)
        return 0; /* an older checkpoint: the flag (or default) applies */
    int stored = atoi(s);
    if (*v != unset && *v != stored) {
        char given[32];
        snprintf(given, sizeof given, "%d", *v);
        return refuse(r, flag, given, flag, s);
    }
    *v = stored;
    return 0;
}

/* A number flag, unset when negative; compared as the float it is used as. */
static int float_flag(train_run *r, const char *flag, const char *key, float *v)
{
    const char *s = meta(r, key);
    if (!s)
        return 0;
    float stored = strtof(s, NULL);
    if (*v >= 0 && *v != stored) {
        char given[32], was[32];
        snprintf(given, sizeof given, "%g", (double)*v);
        snprintf(was, sizeof was, "%g", (double)stored);
        return refuse(r, flag, given, flag, was);
    }
    *v = stored;
    return 0;
}

/* A name flag, unset when NULL; "" stored means the default. */
static int name_flag(train_run *r, const char *flag, const char *key, const char **v)
{
    const char *s = meta(r, key);
    if (!s)
        return 0;
    if (*v && strcmp(*v, s) != 0)
        return refuse(r, flag, *v, flag, *s ? s : "the default");
    *v = *s ? s : NULL;
    return 0;
}

/* --input: the checkpoint's model text already has the size; given again,
 * it must be the run's ("C,H,W" in run.input). */
static int input_flag(train_run *r)
{
    train_opts *o = &r->opts;
    const char *s = meta(r, "run.input");
    int c, h, w;
    if (!o->input || !s || sscanf(s, "%d,%d,%d", &c, &h, &w) != 3)
        return 0;
    if ((o->in_c && o->in_c != c) || o->in_h != h || o->in_w != w) {
        char was[64];
        snprintf(was, sizeof was, "%dx%dx%d", c, h, w);
        return refuse(r, "input", o->input, "input", was);
    }
    o->in_c = o->in_h = o->in_w = 0;
    return 0;
}

/* --mean/--std: the checkpoint's values, measured or given, exactly. */
static int channels_flag(train_run *r, const char *flag, const char *key, const char **v)
{
    const char *s = meta(r, key);
    if (!s)
        return 0;
    if (*v) {
        float a[4] = {0}, b[4] = {0};
        int na = 0, nb = 0;
        for (const char *p = *v; *p && na < 4; na++) {
            char *end;
            a[na] = strtof(p, &end);
            p = *end == ',' ? end + 1 : end;
        }
        for (const char *p = s; *p && nb < 4; nb++) {
            char *end;
            b[nb] = strtof(p, &end);
            p = *end == ',' ? end + 1 : end;
        }
        for (int i = 1; na == 1 && i < nb; i++)
            a[i] = a[0];
        for (int i = 0; i < nb; i++)
            if (a[i] != b[i])
                return refuse(r, flag, *v, flag, s);
    }
    *v = s;
    return 0;
}

static int recipe_flags(train_run *r)
{
    train_opts *o = &r->opts;
    if (int_flag(r, "batch", "run.batch_size", &o->batch, -1) ||
        float_flag(r, "lr", "run.lr", &o->lr) ||
        name_flag(r, "optimizer", "train.optimizer", &o->optimizer) ||
        float_flag(r, "momentum", "train.momentum", &o->momentum) ||
        int_flag(r, "nesterov", "train.nesterov", &o->nesterov, -1) ||
        float_flag(r, "weight-decay", "train.weight_decay", &o->weight_decay) ||
        float_flag(r, "label-smoothing", "train.label_smoothing", &o->label_smoothing) ||
        float_flag(r, "clip-norm", "train.clip_norm", &o->clip_norm) ||
        name_flag(r, "schedule", "run.schedule", &o->schedule) ||
        name_flag(r, "init", "run.init", &o->init) ||
        int_flag(r, "max-steps", "run.max_steps", &o->max_steps, 0) ||
        int_flag(r, "accumulate", "run.accumulate", &o->accumulate, -1) ||
        float_flag(r, "loss-scale", "train.loss_scale", &o->loss_scale) ||
        int_flag(r, "loss-scale-interval", "train.loss_scale_interval",
                 &o->loss_scale_interval, -1) ||
        int_flag(r, "sync-bn", "run.sync_bn", &o->sync_bn, -1) ||
        name_flag(r, "precision", "run.precision", &o->precision) ||
        int_flag(r, "limit", "run.limit", &o->limit, 0) ||
        name_flag(r, "freeze", "run.freeze", &o->freeze) || input_flag(r))
        return -1;
    /* The schedule's numbers are restored exactly (as doubles) after the
     * recipe resolves (run_dir_restore); here they are only checked. */
    static const struct { const char *flag, *key; } sched[] = {
        {"warmup", "run.warmup_epochs"}, {"step-epochs", "run.step_epochs"},
        {"gamma", "run.gamma"}};
    const double given[] = {o->warmup, o->step_epochs, o->gamma};
    for (int i = 0; i < 3; i++) {
        const char *s = meta(r, sched[i].key);
        if (s && given[i] >= 0 && (float)given[i] != (float)strtod(s, NULL)) {
            char g[32], was[32];
            snprintf(g, sizeof g, "%g", given[i]);
            snprintf(was, sizeof was, "%g", strtod(s, NULL));
            return refuse(r, sched[i].flag, g, sched[i].flag, was);
        }
    }
    const char *aug = meta(r, "run.augment");
    if (aug) {
        unsigned want = 0, had = 0;
        if (o->augment && augment_parse(o->augment, &want) != 0)
            return -1;
        augment_parse(aug, &had);
        if (o->augment && want != had)
            return refuse(r, "augment", o->augment, "augment", aug);
        o->augment = aug;
    }
    const char *seed = meta(r, "run.seed");
    if (seed) {
        uint64_t stored = strtoull(seed, NULL, 10);
        if (o->seed_set && o->seed != stored) {
            char g[32];
            snprintf(g, sizeof g, "%llu", (unsigned long long)o->seed);
            return refuse(r, "seed", g, "seed", seed);
        }
        o->seed = stored;
        o->seed_set = 1;
    }
    return channels_flag(r, "mean", "run.mean", &o->mean) ||
                   channels_flag(r, "std", "run.std", &o->std)
               ? -1
               : 0;
}

/* Validation: from --val DIR (a moved folder may be named again), from
 * --val-split F (the same F), or from DATA_DIR's own train/test folders. */
static int validation_flags(train_run *r)
{
    train_opts *o = &r->opts;
    const char *split = meta(r, "run.val_split"), *val = meta(r, "run.val");
    if (!split || !val)
        return 0;
    float f = strtof(split, NULL);
    if (o->val_split > 0 && o->val_split != f) {
        char g[32], was[32];
        snprintf(g, sizeof g, "%g", (double)o->val_split);
        snprintf(was, sizeof was, "%g", (double)f);
        return refuse(r, "val-split", g, "val-split", f > 0 ? was : "none");
    }
    if (o->val_dir && !*val)
        return refuse(r, "val", o->val_dir, "validation",
                      f > 0 ? "from --val-split" : "from DATA_DIR (or none)");
    if (f > 0)
        o->val_split = f;
    if (!o->val_dir && *val)
        o->val_dir = val;
    return 0;
}

/* The model: the checkpoint's text; MODEL.cfg given again must be it. */
static int model_arg(train_run *r)
{
    train_opts *o = &r->opts;
    r->model_text = meta(r, "model.cfg");
    if (!r->model_text) {
        fprintf(stderr, "clnet-train: --resume %s: no model.cfg in its metadata (not a "
                        "clnet checkpoint?)\n", o->resume);
        return -1;
    }
    if (!o->model_path) {
        const char *m = meta(r, "run.model");
        o->model_path = m ? m : "model.cfg";
        return 0;
    }
    FILE *f = fopen(o->model_path, "rb");
    char *text = NULL;
    long n = -1;
    if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (text = calloc((size_t)n + 1, 1)) != NULL && fread(text, 1, (size_t)n, f) != (size_t)n)
        n = -1;
    if (f)
        fclose(f);
    int same = text && n >= 0 && strcmp(text, r->model_text) == 0;
    free(text);
    if (!same) {
        r->refused = 1;
        fprintf(stderr, "clnet-train: %s is not the model file of the checkpoint %s "
                        "(its text differs); a resume uses the checkpoint's: leave "
                        "MODEL.cfg out. A changed model is a new run.\n",
                o->model_path, o->resume);
        return -1;
    }
    return 0;
}

/* Settings that change nothing in the result: the run's when left out. */
static void run_defaults(train_run *r)
{
    train_opts *o = &r->opts;
    const char *le = meta(r, "run.log_every"), *se = meta(r, "run.save_every");
    const char *th = meta(r, "run.threads"), *ci = meta(r, "run.cache_images");
    if (o->log_every <= 0 && le)
        o->log_every = atoi(le);
    if (o->save_every < 0 && se)
        o->save_every = atoi(se);
    if (o->threads <= 0 && th)
        o->threads = atoi(th);
    if (!o->cache_images && ci && *ci)
        o->cache_images = ci;
}

int resume_prepare(train_run *r)
{
    train_opts *o = &r->opts;
    clnet_status st = clnet__st_open(r->ctx, o->resume, &r->ckpt);
    if (st != CLNET_OK) {
        fprintf(stderr, "clnet-train: --resume %s: %s\n", o->resume,
                *clnet_errmsg(r->ctx) ? clnet_errmsg(r->ctx) : clnet_strerror(st));
        return -1;
    }
    if (!meta(r, "run.epoch") || !meta(r, "run.batch")) {
        fprintf(stderr, "clnet-train: --resume %s: not a clnet-train checkpoint (no run "
                        "position)\n", o->resume);
        return -1;
    }
    if (model_arg(r) || recipe_flags(r) || validation_flags(r))
        return -1;
    run_defaults(r);
    if (!meta(r, "run.seed"))
        fprintf(stderr, "clnet-train: warning: %s was written by an older clnet-train: it "
                        "restores the recipe, position and normalisation only; give the "
                        "run's other flags (--seed, --augment, ...) as it had them\n",
                o->resume);
    const char *command = meta(r, "run.command");
    if (command)
        snprintf(r->command, sizeof r->command, "%s", command);
    const char *data = meta(r, "run.data");
    if (!o->data_dir && !data) {
        r->refused = 1;
        fprintf(stderr, "clnet-train: --resume %s does not name its data; give DATA_DIR\n",
                o->resume);
        return -1;
    }
    struct stat sb;
    if (!o->data_dir && stat(data, &sb) != 0) {
        r->refused = 1;
        fprintf(stderr, "clnet-train: the run's data folder %s is gone; give DATA_DIR (the "
                        "same images, moved) after --resume %s\n", data, o->resume);
        return -1;
    }
    if (!o->data_dir)
        o->data_dir = data;
    const char *epochs = meta(r, "run.epochs"), *sched = meta(r, "run.schedule");
    if (o->epochs < 0 && epochs)
        o->epochs = atoi(epochs);
    else if (epochs && o->epochs != atoi(epochs) && sched &&
             (strcmp(sched, "cosine") == 0 || strcmp(sched, "onecycle") == 0))
        fprintf(stderr, "clnet-train: warning: --epochs %d (the run had %s): the %s "
                        "schedule now spans %d epochs, so the learning rate of the steps "
                        "left changes and the run no longer matches the one it continues\n",
                o->epochs, epochs, sched, o->epochs);
    const char *dev = meta(r, "run.device");
    if (dev && strcmp(dev, clnet_ctx_device_name(r->ctx)) != 0)
        fprintf(stderr, "clnet-train: warning: the run was trained on %s, this is %s: it "
                        "continues, but only the same device gives bit-identical results\n",
                dev, clnet_ctx_device_name(r->ctx));
    return 0;
}

int resume_check_data(train_run *r)
{
    const char *tr = meta(r, "run.train_images"), *va = meta(r, "run.val_images");
    const char *classes = meta(r, "run.classes");
    size_t n_tr = clnet_dataset_size(r->train ? r->train : r->all);
    size_t n_va = r->val ? clnet_dataset_size(r->val) : 0;
    char *now = NULL, *hex = NULL;
    int k = clnet_dataset_classes(r->all);
    const char **names = calloc((size_t)k + 1, sizeof *names);
    for (int c = 0; names && c < k; c++)
        names[c] = clnet_dataset_class_name(r->all, c);
    if (names)
        class_names_to_json(names, k, &now, &hex);
    free(names);
    free(hex);
    int same_classes = !classes || (now && strcmp(now, classes) == 0);
    free(now);
    if ((tr && strtoull(tr, NULL, 10) != n_tr) || (va && strtoull(va, NULL, 10) != n_va) ||
        !same_classes) {
        fprintf(stderr, "clnet-train: %s is not the run's data: %zu training and %zu "
                        "validation images%s, the run had %s and %s%s. A resume needs "
                        "the same images (moved is fine).\n",
                r->opts.data_dir, n_tr, n_va, same_classes ? "" : " in other classes",
                tr ? tr : "?", va ? va : "?", same_classes ? "" : " (run.classes)");
        return -1;
    }
    return 0;
}
