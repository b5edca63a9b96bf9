/* The run directory of clnet-train: created (and checked writable) before
 * training starts; it receives the model file and recipe used, checkpoints
 * with everything needed to resume, metrics.csv and report.html. */
#include "run.h"

#include "classnames.h"
#include "skips.h"

#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int mkdir_p(const char *path)
{
    char tmp[2048];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

/* Writes text to dir/name through a temp file and rename. */
static int write_file(const char *dir, const char *name, const char *text)
{
    char path[2300], tmp[2400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return -1;
    int ok = fputs(text, f) >= 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static void model_name(const char *path, char *out, size_t cap)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(out, cap, "%s", base);
    char *dot = strrchr(out, '.');
    if (dot && dot != out)
        *dot = '\0';
}

/* A save killed mid-write (SIGKILL, power loss) leaves its temp file
 * ".NAME.tmp-XXXXXX" beside the checkpoint, which it never replaced; a run
 * resumed in the same directory removes them, and the report's temp files
 * (".metrics.csv.PID.tmp", ".report.html.PID.tmp") too. */
static void remove_stale_temps(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    char path[2600];
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        int report = (strncmp(e->d_name, ".metrics.csv.", 13) == 0 ||
                      strncmp(e->d_name, ".report.html.", 13) == 0) &&
                     len > 4 && strcmp(e->d_name + len - 4, ".tmp") == 0;
        if (strncmp(e->d_name, ".last.safetensors.tmp-", 22) != 0 &&
            strncmp(e->d_name, ".best.safetensors.tmp-", 22) != 0 &&
            strncmp(e->d_name, ".model.onnx.tmp-", 16) != 0 && !report)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        n += unlink(path) == 0 && !report;
    }
    closedir(d);
    if (n)
        printf("removed %d partial checkpoint%s left by an interrupted save in %s\n", n,
               n == 1 ? "" : "s", dir);
}

static void join_floats(char *buf, size_t cap, const float *v, int n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%.9g", i ? "," : "", (double)v[i]);
}

int run_dir_prepare(train_run *r)
{
    const train_opts *o = &r->opts;
    if (o->out_dir) {
        snprintf(r->out_dir, sizeof r->out_dir, "%s", o->out_dir);
    } else if (o->resume) {
        char tmp[2048];
        snprintf(tmp, sizeof tmp, "%s", o->resume);
        snprintf(r->out_dir, sizeof r->out_dir, "%s", dirname(tmp));
    } else {
        char name[256], stamp[32];
        model_name(o->model_path, name, sizeof name);
        time_t now = time(NULL);
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", localtime(&now));
        snprintf(r->out_dir, sizeof r->out_dir, "runs/%s-%s", name, stamp);
    }
    /* Under mpirun rank 0 alone writes the run directory (run.h). */
    if (r->world.rank > 0)
        return 0;
    /* A run directory that cannot be written is an error now, not after
     * the first epoch. */
    char probe[2200];
    snprintf(probe, sizeof probe, "%s/.write-test", r->out_dir);
    FILE *f = NULL;
    if (mkdir_p(r->out_dir) != 0 || !(f = fopen(probe, "wb"))) {
        fprintf(stderr, "clnet-train: cannot write to the run directory %s: %s\n",
                r->out_dir, strerror(errno));
        return -1;
    }
    fclose(f);
    unlink(probe);
    remove_stale_temps(r->out_dir);
    /* The text the model was built from: MODEL.cfg, or the checkpoint's,
     * with --input and a replaced final layer written in. */
    const char *model_text = clnet_model_text(r->model);
    char recipe[16384], resumed[4200] = "", aug[64];
    if (o->resume)
        snprintf(resumed, sizeof resumed, "resumed = %s\n", r->invocation);
    static const char *const optim[] = {"sgd", "adam", "adamw"};
    const clnet_train_settings *t = &r->recipe;
    const clnet__schedule *sc = &r->schedule;
    snprintf(recipe, sizeof recipe,
             "# the resolved recipe of this run (flags > [train] > defaults); a resume\n"
             "# (--resume) restores every value below from the checkpoint\n"
             "command = %s\n%smodel = %s\ndata = %s\nval = %s\nval_split = %g\n"
             "limit = %d\noptimizer = %s\nlr = %g\nmomentum = %g\nnesterov = %d\n"
             "weight_decay = %g\nlabel_smoothing = %g\nclip_norm = %g\nschedule = %s\n"
             "warmup_epochs = %g\nstep_epochs = %u\ngamma = %g\nepochs = %d\n"
             "batch = %d\nmax_steps = %d\nseed = %llu\naugment = %s\ninit = %s\n",
             r->command, resumed, o->model_path, r->data_abs, r->val_abs,
             o->val_split > 0 ? (double)o->val_split : 0.0, o->limit, optim[t->optimizer],
             (double)t->lr, (double)t->momentum, t->nesterov, (double)t->weight_decay,
             (double)t->label_smoothing, (double)t->clip_norm, clnet__schedule_name(sc->kind),
             sc->warmup_epochs, sc->step_epochs, sc->gamma, r->epochs, r->global_batch,
             o->max_steps, (unsigned long long)o->seed,
             augment_names(r->augment, aug, sizeof aug), o->init ? o->init : "default");
    char mean[128], std[128];
    join_floats(mean, sizeof mean, r->mean, r->info.channels);
    join_floats(std, sizeof std, r->std, r->info.channels);
    size_t len = strlen(recipe);
    snprintf(recipe + len, sizeof recipe - len,
             "mean = %s\nstd = %s\naccumulate = %d\nprecision = %s\nsync_bn = %d\n", mean,
             std, r->accumulate, o->precision ? o->precision : "fp32", o->sync_bn > 0);
    int rc = (model_text && write_file(r->out_dir, "model.cfg", model_text) != 0) ||
             write_file(r->out_dir, "recipe.txt", recipe) != 0;
    if (rc) {
        fprintf(stderr, "clnet-train: cannot write into %s\n", r->out_dir);
        return -1;
    }
    /* metrics.csv: a new one, or the resumed run's rows up to its checkpoint. */
    char from[2048];
    snprintf(from, sizeof from, "%s", o->resume ? o->resume : "");
    metrics_history h;
    if (metrics_log_open(&r->metrics, r->out_dir, o->resume ? dirname(from) : NULL,
                         clnet_model_step(r->model), (int)r->start_epoch, &h) != 0)
        return -1;
    free(r->points);
    free(r->epoch_rows);
    r->points = h.points;
    r->n_points = r->cap_points = h.n_points;
    r->epoch_rows = h.epochs;
    r->n_epoch_rows = h.n_epochs;
    r->saved_step = clnet_model_step(r->model);
    return 0;
}

/* The metadata of a checkpoint, numbers formatted into its own storage. */
typedef struct meta_list {
    clnet_meta kv[64];
    size_t n;
    char num[40][64];
    int k;
} meta_list;

static void put(meta_list *m, const char *key, const char *value)
{
    if (m->n < sizeof m->kv / sizeof m->kv[0])
        m->kv[m->n++] = (clnet_meta){key, value ? value : ""};
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void putf(meta_list *m, const char *key, const char *fmt, ...)
{
    if (m->k >= (int)(sizeof m->num / sizeof m->num[0]))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->num[m->k], sizeof m->num[0], fmt, ap);
    va_end(ap);
    put(m, key, m->num[m->k++]);
}

/* Besides the position: everything the result depends on (resume.c reads
 * it back), the epoch in progress, and what clnet-predict needs (classes,
 * input size, normalisation). Nothing here depends on timing but the epoch
 * seconds, which are 0 at the end of an epoch: the last checkpoint of a
 * resumed run equals an uninterrupted run's byte for byte. */
int run_dir_save(train_run *r, const char *name, uint32_t next_epoch,
                 uint64_t next_batch)
{
    if (r->world.rank > 0)
        return 0;
    char path[2300], mean[128], std[128], aug[64];
    snprintf(path, sizeof path, "%s/%s", r->out_dir, name);
    join_floats(mean, sizeof mean, r->mean, r->info.channels);
    join_floats(std, sizeof std, r->std, r->info.channels);
    /* Folder names are bytes, metadata is UTF-8 (classnames.h). */
    int k = clnet_dataset_classes(r->all);
    const char **names = calloc((size_t)k + 1, sizeof *names);
    for (int c = 0; names && c < k; c++)
        names[c] = clnet_dataset_class_name(r->all, c);
    char *classes_json = NULL, *classes_hex = NULL;
    if (names)
        class_names_to_json(names, k, &classes_json, &classes_hex);
    free(names);
    const train_opts *o = &r->opts;
    const clnet__schedule *sc = &r->schedule;
    int mid = next_batch != 0;
    meta_list m = {0};
    putf(&m, "run.epoch", "%u", next_epoch);
    putf(&m, "run.batch", "%llu", (unsigned long long)next_batch);
    put(&m, "run.classes", classes_json ? classes_json : "[]");
    put(&m, "run.mean", mean);
    put(&m, "run.std", std);
    putf(&m, "run.best_top1", "%.9g", r->best_top1);
    putf(&m, "run.input", "%d,%d,%d", r->info.channels, r->info.height, r->info.width);
    put(&m, "run.command", r->command);
    if (classes_hex)
        put(&m, "run.classes_hex", classes_hex);
    putf(&m, "run.best_epoch", "%d", r->best_epoch);
    put(&m, "run.model", o->model_path);
    put(&m, "run.data", r->data_abs);
    put(&m, "run.val", r->val_abs);
    putf(&m, "run.val_split", "%.9g", o->val_split > 0 ? (double)o->val_split : 0.0);
    putf(&m, "run.limit", "%d", o->limit);
    putf(&m, "run.seed", "%llu", (unsigned long long)o->seed);
    putf(&m, "run.batch_size", "%d", r->global_batch);
    putf(&m, "run.epochs", "%d", r->epochs);
    putf(&m, "run.lr", "%.9g", (double)r->recipe.lr);
    put(&m, "run.schedule", clnet__schedule_name(sc->kind));
    putf(&m, "run.warmup_epochs", "%.17g", sc->warmup_epochs);
    putf(&m, "run.step_epochs", "%u", sc->step_epochs);
    putf(&m, "run.gamma", "%.17g", sc->gamma);
    put(&m, "run.augment", augment_names(r->augment, aug, sizeof aug));
    put(&m, "run.init", o->init ? o->init : "");
    put(&m, "run.freeze", o->freeze ? o->freeze : "");
    putf(&m, "run.max_steps", "%d", o->max_steps);
    putf(&m, "run.accumulate", "%d", r->accumulate);
    putf(&m, "run.sync_bn", "%d", r->opts.sync_bn > 0);
    put(&m, "run.precision", o->precision ? o->precision : "fp32");
    putf(&m, "run.log_every", "%d", o->log_every);
    putf(&m, "run.save_every", "%d", o->save_every);
    putf(&m, "run.threads", "%d", o->threads);
    put(&m, "run.cache_images", o->cache_images ? o->cache_images : "auto");
    putf(&m, "run.train_images", "%zu", clnet_dataset_size(r->train ? r->train : r->all));
    putf(&m, "run.val_images", "%zu", r->val ? clnet_dataset_size(r->val) : (size_t)0);
    put(&m, "run.device", clnet_ctx_device_name(r->ctx));
    putf(&m, "run.epoch_loss", "%.17g", mid ? r->ep_loss : 0.0);
    putf(&m, "run.epoch_correct", "%.17g", mid ? r->ep_correct : 0.0);
    putf(&m, "run.epoch_samples", "%.17g", mid ? r->ep_samples : 0.0);
    putf(&m, "run.epoch_seconds", "%.3f", mid ? r->ep_seconds : 0.0);
    /* The rows so far reach the disk before the checkpoint that keeps them. */
    metrics_log_sync(&r->metrics);
    clnet_status st = clnet_model_save(r->model, path, m.kv, m.n);
    free(classes_json);
    free(classes_hex);
    if (st != CLNET_OK) {
        fprintf(stderr, "clnet-train: saving %s: %s\n", path, clnet_errmsg(r->ctx));
        return -1;
    }
    r->saved_step = clnet_model_step(r->model);
    return 0;
}

static int parse_floats(const char *s, float *out, int n)
{
    int k = 0;
    for (const char *p = s; p && *p && k < n; k++) {
        char *end;
        out[k] = strtof(p, &end);
        if (end == p)
            return -1;
        p = *end == ',' ? end + 1 : end;
    }
    return k == n ? 0 : -1;
}

int run_dir_restore(train_run *r)
{
    clnet_status st = clnet_model_load_checkpoint(r->model, r->opts.resume);
    if (st != CLNET_OK) {
        fprintf(stderr, "clnet-train: --resume %s: %s\n", r->opts.resume, clnet_errmsg(r->ctx));
        return -1;
    }
    /* The file's recipe, whose lr is the schedule's at the last step: the
     * base it was computed from is run.lr. */
    clnet_model_get_train_settings(r->model, &r->recipe);
    const char *lr = clnet_model_meta(r->model, "run.lr");
    if (lr)
        r->recipe.lr = strtof(lr, NULL);
    const char *e = clnet_model_meta(r->model, "run.epoch");
    const char *b = clnet_model_meta(r->model, "run.batch");
    const char *mean = clnet_model_meta(r->model, "run.mean");
    const char *std = clnet_model_meta(r->model, "run.std");
    const char *best = clnet_model_meta(r->model, "run.best_top1");
    const char *best_epoch = clnet_model_meta(r->model, "run.best_epoch");
    if (!e || !b || !mean || !std) {
        fprintf(stderr, "clnet-train: --resume %s: not a clnet-train checkpoint "
                        "(no run position)\n", r->opts.resume);
        return -1;
    }
    r->start_epoch = (uint32_t)strtoul(e, NULL, 10);
    r->start_batch = strtoull(b, NULL, 10);
    if (parse_floats(mean, r->mean, r->info.channels) || parse_floats(std, r->std, r->info.channels)) {
        fprintf(stderr, "clnet-train: --resume %s: bad run.mean/run.std\n", r->opts.resume);
        return -1;
    }
    r->best_top1 = best ? strtod(best, NULL) : -1;
    r->best_epoch = best_epoch ? atoi(best_epoch) : 0;
    /* The schedule's numbers as the run resolved them, exactly. */
    const char *w = clnet_model_meta(r->model, "run.warmup_epochs");
    const char *se = clnet_model_meta(r->model, "run.step_epochs");
    const char *g = clnet_model_meta(r->model, "run.gamma");
    if (w)
        r->schedule.warmup_epochs = strtod(w, NULL);
    if (se)
        r->schedule.step_epochs = (uint32_t)strtoul(se, NULL, 10);
    if (g)
        r->schedule.gamma = strtod(g, NULL);
    /* The epoch in progress. */
    static const char *const keys[] = {"run.epoch_loss", "run.epoch_correct",
                                       "run.epoch_samples", "run.epoch_seconds"};
    double *dst[] = {&r->ep_loss, &r->ep_correct, &r->ep_samples, &r->ep_seconds};
    for (int i = 0; i < 4; i++) {
        const char *v = clnet_model_meta(r->model, keys[i]);
        *dst[i] = v ? strtod(v, NULL) : 0;
    }
    printf("resuming from %s: epoch %u, batch %llu, step %llu\n", r->opts.resume,
           r->start_epoch + 1, (unsigned long long)r->start_batch,
           (unsigned long long)clnet_model_step(r->model));
    return 0;
}

void run_add_point(train_run *r, const report_point *p)
{
    if (r->n_points == r->cap_points) {
        size_t cap = r->cap_points ? 2 * r->cap_points : 256;
        report_point *n = realloc(r->points, cap * sizeof *n);
        if (!n) {
            metrics_log_point(&r->metrics, p);
            return;
        }
        r->points = n;
        r->cap_points = cap;
    }
    r->points[r->n_points++] = *p;
    metrics_log_point(&r->metrics, p);
}

void run_add_epoch(train_run *r, const report_epoch *row)
{
    metrics_log_epoch(&r->metrics, row);
    report_epoch *n = realloc(r->epoch_rows, (r->n_epoch_rows + 1) * sizeof *n);
    if (!n)
        return;
    r->epoch_rows = n;
    r->epoch_rows[r->n_epoch_rows++] = *row;
}

void run_skips(const train_run *r, clnet_skip_stats *out)
{
    clnet_dataset_get_skips(r->all, out);
    if (r->val && !r->train) { /* not a view of r->all */
        clnet_skip_stats v;
        clnet_dataset_get_skips(r->val, &v);
        skips_add(out, &v);
    }
}

int run_dir_report(train_run *r)
{
    if (r->world.rank > 0)
        return 0;
    int k = clnet_dataset_classes(r->all);
    const char **names = calloc((size_t)k + 1, sizeof *names);
    report_miss *misses = calloc(r->last_eval.n_misses + 1, sizeof *misses);
    if (!names || !misses) {
        free(names);
        free(misses);
        return -1;
    }
    for (int c = 0; c < k; c++)
        names[c] = clnet_dataset_class_name(r->all, c);
    for (size_t i = 0; i < r->last_eval.n_misses; i++) {
        const eval_miss *m = &r->last_eval.misses[i];
        misses[i] = (report_miss){clnet_dataset_path(r->val, m->index, NULL), m->truth,
                                  m->pred, m->prob};
    }
    char title[600], skipped[1024], command[8300];
    snprintf(title, sizeof title, "%s on %s", r->opts.model_path, r->opts.data_dir);
    snprintf(command, sizeof command, "%s%s%s", r->command,
             r->opts.resume ? "\n# resumed with: " : "", r->opts.resume ? r->invocation : "");
    clnet_skip_stats sk;
    run_skips(r, &sk);
    skips_describe(&sk, skipped, sizeof skipped);
    report_data d = {
        .title = title, .command = command, .device = clnet_ctx_device_name(r->ctx),
        .n_classes = k, .class_names = names, .epochs = r->epoch_rows,
        .n_epochs = r->n_epoch_rows, .points = r->points, .n_points = r->n_points,
        .confusion = r->val ? r->last_eval.confusion : NULL, .misses = misses,
        .n_misses = r->val ? r->last_eval.n_misses : 0,
        .thumb_channels = r->info.channels, .thumb_height = r->info.height,
        .thumb_width = r->info.width, .skipped = skipped,
        .no_csv = 1, /* appended as the run goes (metrics.c) */
    };
    char err[512];
    int rc = report_write(r->out_dir, &d, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "clnet-train: report: %s\n", err);
    free(names);
    free(misses);
    return rc;
}

/* From best.safetensors rather than the model in memory (the last epoch's),
 * through a model of its own for batch 1. */
int run_dir_export_onnx(train_run *r)
{
    if (r->world.rank > 0)
        return 0;
    char best[2300], out[2300];
    snprintf(best, sizeof best, "%s/best.safetensors", r->out_dir);
    snprintf(out, sizeof out, "%s/model.onnx", r->out_dir);
    clnet_model_settings ms;
    clnet_model_default_settings(&ms);
    ms.batch = 1;
    ms.training = 0;
    clnet_model *m = NULL;
    int rc = 0;
    if (clnet_model_open_checkpoint(r->ctx, best, &ms, &m) != CLNET_OK ||
        clnet_model_export_onnx(m, out, NULL) != CLNET_OK) {
        fprintf(stderr, "clnet-train: warning: no model.onnx: %s\n", clnet_errmsg(r->ctx));
        rc = -1;
    }
    clnet_model_free(m);
    return rc;
}
