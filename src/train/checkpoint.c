/* Model checkpoints in safetensors: parameters, running statistics and
 * optimizer moments as float32 tensors; step, seed, recipe, the running loss
 * counters, the frozen layers, the model file text and the caller's
 * key/values in __metadata__. One file resumes a run. */
#include "graph/model_impl.h"

#include "core/core.h"
#include "ops/loss.h"
#include "train/loss_scale.h"
#include "train/optim.h"
#include "train/safetensors.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CKPT_FORMAT "clnet-checkpoint/1"

static const char *const optim_names[] = {"sgd", "adam", "adamw"};

/* Host copies of the three flat buffers and the optimizer moments. */
typedef struct host_state {
    float *params, *state;
    float *moment[CLNET__OPTIM_MAX_STATES];
    clnet__optim_state ost[CLNET__OPTIM_MAX_STATES];
    size_t n_moments;
} host_state;

static void host_free(host_state *h)
{
    free(h->params);
    free(h->state);
    for (size_t i = 0; i < CLNET__OPTIM_MAX_STATES; i++)
        free(h->moment[i]);
}

static clnet_status host_alloc(clnet_model *m, host_state *h)
{
    const clnet__graph *g = m->graph;
    memset(h, 0, sizeof *h);
    h->params = malloc((g->params_count + 1) * sizeof(float));
    h->state = malloc((g->state_count + 1) * sizeof(float));
    int ok = h->params && h->state;
    h->n_moments = m->optim ? clnet__optim_states(m->optim, h->ost) : 0;
    for (size_t i = 0; i < h->n_moments && ok; i++)
        ok = (h->moment[i] = malloc((h->ost[i].n + 1) * sizeof(float))) != NULL;
    if (!ok) {
        host_free(h);
        return clnet__fail(m->ctx, CLNET_ENOMEM, "out of host memory for a checkpoint");
    }
    return CLNET_OK;
}

static void dims_to_shape(clnet__dims d, clnet__st_tensor *t)
{
    t->ndim = d.ndim;
    for (int i = 0; i < d.ndim; i++)
        t->shape[i] = (size_t)d.d[i];
}

clnet_status clnet_model_save(clnet_model *m, const char *path,
                              const clnet_meta *meta, size_t n_meta)
{
    if (!m || !path || (n_meta && !meta))
        return clnet__fail(m ? m->ctx : NULL, CLNET_EINVAL, "clnet_model_save: bad arguments");
    clnet_ctx *ctx = m->ctx;
    if (m->micro)
        return clnet__fail(ctx, CLNET_EINVAL,
                           "%s: not saved in the middle of a gradient accumulation "
                           "(%d of %d micro-batches done): a checkpoint holds "
                           "parameters after an update, so save after the next one",
                           path, m->micro, m->recipe.accumulate);
    const clnet__graph *g = m->graph;
    host_state h;
    clnet_status st = host_alloc(m, &h);
    if (st != CLNET_OK)
        return st;
    if (g->params_count)
        st = clnet__buf_read(ctx, g->params_buf, 0, g->params_count * sizeof(float), h.params);
    if (st == CLNET_OK && g->state_count)
        st = clnet__buf_read(ctx, g->state_buf, 0, g->state_count * sizeof(float), h.state);
    for (size_t i = 0; i < h.n_moments && st == CLNET_OK; i++)
        st = clnet__buf_read(ctx, h.ost[i].buf, 0, h.ost[i].n * sizeof(float), h.moment[i]);
    /* The counters since the caller's last read_stats reset: a run saved
     * between two reads reads the same sums after a resume. */
    float counters[CLNET__STAT_COUNT] = {0};
    if (st == CLNET_OK)
        st = clnet__buf_read(ctx, g->stats.buf, g->stats.off * sizeof(float),
                             sizeof counters, counters);
    /* Loss scaling: the scale reached, its good-update count and the
     * skipped updates, so a resumed run goes on from them. */
    float ls[CLNET__LSCALE_FLOATS];
    int scaled = clnet__optim_loss_scaled(m->optim);
    if (st == CLNET_OK)
        st = clnet__optim_loss_scale_get(ctx, m->optim, ls);
    char ls_text[3][80];

    size_t nt = (size_t)g->n_params + (size_t)g->n_state + h.n_moments;
    clnet__st_tensor *t = calloc(nt + 1, sizeof *t);
    clnet__st_meta *kv = calloc(n_meta + 21, sizeof *kv); /* 21 keys of ours */
    char num[12][64], stats[4 * 24];
    /* "train.frozen": the frozen layers' names, comma-separated; written
     * even when empty, so a resume unfreezes what a run had unfrozen. */
    size_t frozen_len = clnet__model_frozen_list(m, NULL, 0);
    char *frozen = malloc(frozen_len + 1);
    if (st == CLNET_OK && (!t || !kv || !frozen))
        st = clnet__fail(ctx, CLNET_ENOMEM, "out of host memory");
    if (st == CLNET_OK) {
        size_t k = 0;
        for (int i = 0; i < g->n_params; i++, k++) {
            t[k].name = g->params[i].name;
            dims_to_shape(g->params[i].dims, &t[k]);
            t[k].data = h.params + g->params[i].offset;
        }
        for (int i = 0; i < g->n_state; i++, k++) {
            t[k].name = g->state[i].name;
            dims_to_shape(g->state[i].dims, &t[k]);
            t[k].data = h.state + g->state[i].offset;
        }
        for (size_t i = 0; i < h.n_moments; i++, k++) {
            t[k].name = h.ost[i].name;
            t[k].ndim = 1;
            t[k].shape[0] = h.ost[i].n;
            t[k].data = h.moment[i];
        }
        const clnet_train_settings *r = &m->recipe;
        size_t q = 0;
        kv[q++] = (clnet__st_meta){"format", CKPT_FORMAT};
        kv[q++] = (clnet__st_meta){"clnet.version", clnet_version()};
        kv[q++] = (clnet__st_meta){"model.cfg", m->desc->text ? m->desc->text : ""};
        snprintf(num[0], 64, "%llu", (unsigned long long)m->step);
        kv[q++] = (clnet__st_meta){"train.step", num[0]};
        snprintf(num[1], 64, "%llu", (unsigned long long)m->settings.seed);
        kv[q++] = (clnet__st_meta){"train.seed", num[1]};
        kv[q++] = (clnet__st_meta){"train.optimizer", optim_names[r->optimizer]};
        const float vals[] = {r->lr, r->momentum, r->weight_decay, r->beta1,
                              r->beta2, r->eps, r->clip_norm, r->label_smoothing};
        static const char *const keys[] = {
            "train.lr", "train.momentum", "train.weight_decay", "train.beta1",
            "train.beta2", "train.eps", "train.clip_norm", "train.label_smoothing"};
        for (int i = 0; i < 8; i++) {
            snprintf(num[2 + i], 64, "%.9g", (double)vals[i]);
            kv[q++] = (clnet__st_meta){keys[i], num[2 + i]};
        }
        kv[q++] = (clnet__st_meta){"train.nesterov", r->nesterov ? "1" : "0"};
        snprintf(num[10], 64, "%d", r->accumulate > 1 ? r->accumulate : 1);
        kv[q++] = (clnet__st_meta){"train.accumulate", num[10]};
        size_t len = 0;
        for (int i = 0; i < CLNET__STAT_COUNT; i++)
            len += (size_t)snprintf(stats + len, sizeof stats - len, "%s%.9g", i ? "," : "",
                                    (double)counters[i]);
        kv[q++] = (clnet__st_meta){"train.counters", stats};
        clnet__model_frozen_list(m, frozen, frozen_len + 1);
        kv[q++] = (clnet__st_meta){"train.frozen", frozen};
        snprintf(ls_text[0], sizeof ls_text[0], "%.9g", (double)r->loss_scale);
        kv[q++] = (clnet__st_meta){"train.loss_scale", ls_text[0]};
        snprintf(ls_text[1], sizeof ls_text[1], "%d", r->loss_scale_interval);
        kv[q++] = (clnet__st_meta){"train.loss_scale_interval", ls_text[1]};
        if (scaled) {
            snprintf(ls_text[2], sizeof ls_text[2], "%.9g,%.9g,%.9g", (double)ls[0],
                     (double)ls[1], (double)ls[3]);
            kv[q++] = (clnet__st_meta){"train.loss_scale_state", ls_text[2]};
        }
        for (size_t i = 0; i < n_meta; i++)
            kv[q++] = (clnet__st_meta){meta[i].key, meta[i].value};
        st = clnet__st_write(ctx, path, t, nt, kv, q);
    }
    free(frozen);
    free(t);
    free(kv);
    host_free(&h);
    return st;
}

static size_t dims_shape(clnet__dims d, size_t *shape)
{
    for (int i = 0; i < d.ndim; i++)
        shape[i] = (size_t)d.d[i];
    return (size_t)d.ndim;
}

/* Reads the recipe stored in the file's metadata (absent keys keep r's). */
static void recipe_from_meta(const clnet__st_file *f, clnet_train_settings *r)
{
    const char *o = clnet__st_meta_get(f, "train.optimizer");
    for (int i = 0; o && i < 3; i++)
        if (strcmp(o, optim_names[i]) == 0)
            r->optimizer = (clnet_optimizer)i;
    struct { const char *key; float *dst; } fields[] = {
        {"train.lr", &r->lr}, {"train.momentum", &r->momentum},
        {"train.weight_decay", &r->weight_decay}, {"train.beta1", &r->beta1},
        {"train.beta2", &r->beta2}, {"train.eps", &r->eps},
        {"train.clip_norm", &r->clip_norm},
        {"train.label_smoothing", &r->label_smoothing},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const char *v = clnet__st_meta_get(f, fields[i].key);
        if (v)
            *fields[i].dst = strtof(v, NULL);
    }
    const char *n = clnet__st_meta_get(f, "train.nesterov");
    if (n)
        r->nesterov = atoi(n) != 0;
    const char *a = clnet__st_meta_get(f, "train.accumulate");
    if (a && atoi(a) >= 1 && atoi(a) <= 65536)
        r->accumulate = atoi(a);
    /* Checked with the rest of the recipe (clnet_model_set_train_settings). */
    const char *ls = clnet__st_meta_get(f, "train.loss_scale");
    if (ls)
        r->loss_scale = strtof(ls, NULL);
    const char *li = clnet__st_meta_get(f, "train.loss_scale_interval");
    if (li)
        r->loss_scale_interval = atoi(li);
}

/* "S,good,skipped" of train.loss_scale_state into the device layout;
 * absent: *have = 0. A malformed value is an error naming it. */
static clnet_status loss_scale_state(clnet_ctx *ctx, const clnet__st_file *f,
                                     const char *path, float ls[CLNET__LSCALE_FLOATS],
                                     int *have)
{
    const char *v = clnet__st_meta_get(f, "train.loss_scale_state");
    *have = v != NULL;
    if (!v)
        return CLNET_OK;
    float x[3];
    const char *p = v;
    int ok = 1;
    for (int i = 0; i < 3 && ok; i++) {
        char *end;
        x[i] = strtof(p, &end);
        ok = end != p && isfinite(x[i]) && x[i] >= 0.0f && *end == (i < 2 ? ',' : '\0');
        p = end + (i < 2);
    }
    if (!ok || !clnet__loss_scale_valid(x[0], 1) || x[1] > (float)CLNET__LSCALE_MAX_INTERVAL)
        return clnet__fail(ctx, CLNET_EFORMAT, "%s: train.loss_scale_state '%s' is not "
                           "'scale,good updates,skipped updates' (a scale within "
                           "2^-24..2^24, counts >= 0)", path, v);
    clnet__loss_scale_init(ls, x[0]);
    ls[1] = x[1];
    ls[3] = x[2];
    return CLNET_OK;
}

static clnet_status keep_meta(clnet_model *m, const clnet__st_file *f)
{
    clnet__model_meta_clear(m);
    size_t n = clnet__st_meta_count(f);
    m->meta = calloc(2 * n + 1, sizeof *m->meta);
    if (!m->meta)
        return clnet__fail(m->ctx, CLNET_ENOMEM, "out of host memory");
    for (size_t i = 0; i < n; i++) {
        const char *k, *v;
        clnet__st_meta_at(f, i, &k, &v);
        size_t lk = strlen(k) + 1, lv = strlen(v) + 1;
        m->meta[2 * i] = malloc(lk);
        m->meta[2 * i + 1] = malloc(lv);
        m->n_meta = i + 1;
        if (!m->meta[2 * i] || !m->meta[2 * i + 1])
            return clnet__fail(m->ctx, CLNET_ENOMEM, "out of host memory");
        memcpy(m->meta[2 * i], k, lk);
        memcpy(m->meta[2 * i + 1], v, lv);
    }
    return CLNET_OK;
}

clnet_status clnet_model_load_checkpoint(clnet_model *m, const char *path)
{
    if (!m || !path)
        return clnet__fail(m ? m->ctx : NULL, CLNET_EINVAL, "clnet_model_load_checkpoint: NULL argument");
    clnet_ctx *ctx = m->ctx;
    clnet__st_file *f = NULL;
    clnet_status st = clnet__st_open(ctx, path, &f);
    if (st != CLNET_OK)
        return st;
    const char *fmt = clnet__st_meta_get(f, "format");
    if (!fmt || strcmp(fmt, CKPT_FORMAT) != 0) {
        clnet__st_close(f);
        return clnet__fail(ctx, CLNET_EFORMAT, "%s: not a clnet checkpoint (format '%s', "
                           "expected '%s')", path, fmt ? fmt : "(none)", CKPT_FORMAT);
    }
    /* Validate and read everything into host memory before touching m. */
    const clnet__graph *g = m->graph;
    clnet_train_settings recipe = m->recipe;
    recipe_from_meta(f, &recipe);
    host_state h;
    st = host_alloc(m, &h);
    size_t shape[4];
    for (int i = 0; i < g->n_params && st == CLNET_OK; i++)
        st = clnet__st_read(ctx, f, g->params[i].name, (int)dims_shape(g->params[i].dims, shape),
                            shape, h.params + g->params[i].offset);
    for (int i = 0; i < g->n_state && st == CLNET_OK; i++)
        st = clnet__st_read(ctx, f, g->state[i].name, (int)dims_shape(g->state[i].dims, shape),
                            shape, h.state + g->state[i].offset);
    /* Moments: read every one the file has (validated) before applying. */
    static const char *const moment_names[] = {"optim.momentum", "optim.exp_avg",
                                               "optim.exp_avg_sq"};
    float *moments[3] = {0};
    for (int i = 0; i < 3 && st == CLNET_OK && g->params_count; i++) {
        if (!clnet__st_find(f, moment_names[i]))
            continue;
        moments[i] = malloc(g->params_count * sizeof(float));
        shape[0] = g->params_count;
        st = moments[i] ? clnet__st_read(ctx, f, moment_names[i], 1, shape, moments[i])
                        : clnet__fail(ctx, CLNET_ENOMEM, "out of host memory");
    }
    float ls[CLNET__LSCALE_FLOATS];
    int have_ls = 0;
    if (st == CLNET_OK)
        st = loss_scale_state(ctx, f, path, ls, &have_ls);
    const char *step = clnet__st_meta_get(f, "train.step");
    const char *seed = clnet__st_meta_get(f, "train.seed");
    /* The running counters, then zeros over the non-finite record (a saved
     * run had none). Absent or malformed: zeros. */
    float counters[CLNET__STAT_COUNT + CLNET__NONFINITE_FLOATS] = {0};
    const char *cs = clnet__st_meta_get(f, "train.counters");
    for (int i = 0; cs && *cs && i < CLNET__STAT_COUNT; i++) {
        char *end;
        counters[i] = strtof(cs, &end);
        cs = *end == ',' ? end + 1 : end;
    }
    /* The frozen layers (absent in checkpoints from before freezing
     * existed: the model's flags stay as they are). */
    const char *frozen_list = clnet__st_meta_get(f, "train.frozen");
    unsigned char *frozen = NULL;
    if (st == CLNET_OK && frozen_list) {
        frozen = malloc((size_t)m->desc->n_layers);
        st = frozen ? clnet__model_frozen_parse(m, frozen_list, path, frozen)
                    : clnet__fail(ctx, CLNET_ENOMEM, "out of host memory");
    }
    if (st == CLNET_OK)
        st = keep_meta(m, f);
    if (st == CLNET_OK && g->params_count)
        st = clnet__buf_write(ctx, g->params_buf, 0, g->params_count * sizeof(float), h.params);
    if (st == CLNET_OK && g->state_count)
        st = clnet__buf_write(ctx, g->state_buf, 0, g->state_count * sizeof(float), h.state);
    if (st == CLNET_OK)
        st = clnet__buf_write(ctx, g->stats.buf, g->stats.off * sizeof(float),
                              sizeof counters, counters);
    m->micro = 0; /* a partial accumulation is the old parameters' */
    if (st == CLNET_OK && m->settings.training) {
        /* The optimizer must be the file's before its moments load. */
        st = clnet_model_set_train_settings(m, &recipe);
        clnet__optim_state ost[CLNET__OPTIM_MAX_STATES];
        size_t no = st == CLNET_OK && m->optim ? clnet__optim_states(m->optim, ost) : 0;
        for (size_t i = 0; i < no && st == CLNET_OK; i++) {
            const float *src = NULL;
            for (int k = 0; k < 3; k++)
                if (strcmp(ost[i].name, moment_names[k]) == 0)
                    src = moments[k];
            if (src && ost[i].n == g->params_count)
                st = clnet__buf_write(ctx, ost[i].buf, 0, ost[i].n * sizeof(float), src);
            else
                clnet__log(ctx, CLNET_LOG_WARN, "%s: no %s; optimizer moments restart "
                           "from zero", path, ost[i].name);
        }
        if (st == CLNET_OK && have_ls)
            st = clnet__optim_loss_scale_set(ctx, m->optim, ls);
    } else if (st == CLNET_OK) {
        m->recipe = recipe;
    }
    for (int i = 0; i < 3; i++)
        free(moments[i]);
    if (st == CLNET_OK && frozen)
        st = clnet__model_frozen_apply(m, frozen);
    free(frozen);
    if (st == CLNET_OK) {
        m->step = step ? strtoull(step, NULL, 10) : 0;
        if (seed)
            m->settings.seed = strtoull(seed, NULL, 10);
    }
    host_free(&h);
    clnet__st_close(f);
    return st;
}

clnet_status clnet_model_open_checkpoint(clnet_ctx *ctx, const char *path,
                                         const clnet_model_settings *s,
                                         clnet_model **out)
{
    if (!ctx || !path || !out)
        return clnet__fail(ctx, CLNET_EINVAL, "clnet_model_open_checkpoint: NULL argument");
    *out = NULL;
    clnet__st_file *f = NULL;
    clnet_status st = clnet__st_open(ctx, path, &f);
    if (st != CLNET_OK)
        return st;
    const char *cfg = clnet__st_meta_get(f, "model.cfg");
    if (!cfg) {
        clnet__st_close(f);
        return clnet__fail(ctx, CLNET_EFORMAT, "%s: no model.cfg in its metadata "
                           "(not a clnet checkpoint?)", path);
    }
    char label[600];
    snprintf(label, sizeof label, "%s[model.cfg]", path);
    st = clnet_model_load_string(ctx, label, cfg, s, out);
    clnet__st_close(f);
    if (st == CLNET_OK)
        st = clnet_model_load_checkpoint(*out, path);
    if (st != CLNET_OK) {
        clnet_model_free(*out);
        *out = NULL;
    }
    return st;
}
