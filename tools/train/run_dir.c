/* The run directory of clnet-train: created (and checked writable) before
 * training starts; it receives the model file and recipe used, checkpoints
 * with everything needed to resume, metrics.csv and report.html. */
#include "run.h"

#include "classnames.h"

#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
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
 * resumed in the same directory removes them. */
static void remove_stale_temps(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    char path[2600];
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strncmp(e->d_name, ".last.safetensors.tmp-", 22) != 0 &&
            strncmp(e->d_name, ".best.safetensors.tmp-", 22) != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        n += unlink(path) == 0;
    }
    closedir(d);
    if (n)
        printf("removed %d partial checkpoint%s left by an interrupted save in %s\n", n,
               n == 1 ? "" : "s", dir);
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
    char *cfg = NULL;
    FILE *in = fopen(o->model_path, "rb");
    if (in) {
        fseek(in, 0, SEEK_END);
        long n = ftell(in);
        fseek(in, 0, SEEK_SET);
        cfg = n >= 0 ? calloc((size_t)n + 1, 1) : NULL;
        if (cfg && fread(cfg, 1, (size_t)n, in) != (size_t)n) {
            free(cfg);
            cfg = NULL;
        }
        fclose(in);
    }
    char recipe[8192];
    static const char *const optim[] = {"sgd", "adam", "adamw"};
    const clnet_train_settings *t = &r->recipe;
    snprintf(recipe, sizeof recipe,
             "# the resolved recipe of this run (flags > [train] > defaults)\n"
             "command = %s\nmodel = %s\ndata = %s\noptimizer = %s\nlr = %g\n"
             "momentum = %g\nnesterov = %d\nweight_decay = %g\nlabel_smoothing = %g\n"
             "clip_norm = %g\nschedule = %s\nepochs = %d\nbatch = %d\nseed = %llu\n"
             "augment = %u\n",
             r->command, o->model_path, o->data_dir, optim[t->optimizer], (double)t->lr,
             (double)t->momentum, t->nesterov, (double)t->weight_decay,
             (double)t->label_smoothing, (double)t->clip_norm,
             clnet__schedule_name(r->schedule.kind), r->epochs, r->info.batch,
             (unsigned long long)o->seed, r->augment);
    int rc = (cfg && write_file(r->out_dir, "model.cfg", cfg) != 0) ||
             write_file(r->out_dir, "recipe.txt", recipe) != 0;
    free(cfg);
    if (rc) {
        fprintf(stderr, "clnet-train: cannot write into %s\n", r->out_dir);
        return -1;
    }
    return 0;
}

static void join_floats(char *buf, size_t cap, const float *v, int n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%.9g", i ? "," : "", (double)v[i]);
}

int run_dir_save(train_run *r, const char *name, uint32_t next_epoch,
                 uint64_t next_batch)
{
    char path[2300], epoch[32], batch[32], mean[128], std[128], best[32], dims[64];
    snprintf(path, sizeof path, "%s/%s", r->out_dir, name);
    snprintf(epoch, sizeof epoch, "%u", next_epoch);
    snprintf(batch, sizeof batch, "%llu", (unsigned long long)next_batch);
    snprintf(best, sizeof best, "%.9g", r->best_top1);
    snprintf(dims, sizeof dims, "%d,%d,%d", r->info.channels, r->info.height, r->info.width);
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
    clnet_meta meta[] = {
        {"run.epoch", epoch}, {"run.batch", batch}, {"run.classes", classes_json ? classes_json : "[]"},
        {"run.mean", mean}, {"run.std", std}, {"run.best_top1", best},
        {"run.input", dims}, {"run.command", r->command},
        {"run.classes_hex", classes_hex},
    };
    size_t n_meta = sizeof meta / sizeof meta[0] - (classes_hex ? 0 : 1);
    clnet_status st = clnet_model_save(r->model, path, meta, n_meta);
    free(classes_json);
    free(classes_hex);
    if (st != CLNET_OK) {
        fprintf(stderr, "clnet-train: saving %s: %s\n", path, clnet_errmsg(r->ctx));
        return -1;
    }
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
    clnet_model_get_train_settings(r->model, &r->recipe);
    const char *e = clnet_model_meta(r->model, "run.epoch");
    const char *b = clnet_model_meta(r->model, "run.batch");
    const char *mean = clnet_model_meta(r->model, "run.mean");
    const char *std = clnet_model_meta(r->model, "run.std");
    const char *best = clnet_model_meta(r->model, "run.best_top1");
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
        if (!n)
            return;
        r->points = n;
        r->cap_points = cap;
    }
    r->points[r->n_points++] = *p;
}

int run_dir_report(train_run *r)
{
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
    char title[600];
    snprintf(title, sizeof title, "%s on %s", r->opts.model_path, r->opts.data_dir);
    report_data d = {
        .title = title, .command = r->command, .device = clnet_ctx_device_name(r->ctx),
        .n_classes = k, .class_names = names, .epochs = r->epoch_rows,
        .n_epochs = r->n_epoch_rows, .points = r->points, .n_points = r->n_points,
        .confusion = r->val ? r->last_eval.confusion : NULL, .misses = misses,
        .n_misses = r->val ? r->last_eval.n_misses : 0,
        .thumb_channels = r->info.channels, .thumb_height = r->info.height,
        .thumb_width = r->info.width,
    };
    char err[512];
    int rc = report_write(r->out_dir, &d, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "clnet-train: report: %s\n", err);
    free(names);
    free(misses);
    return rc;
}
