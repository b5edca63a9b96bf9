/* The public model API: a parsed model file + its graph + an optimizer. */
#include "graph/model_impl.h"

#include "core/ctx.h"
#include "io/cfg_override.h"
#include "ops/loss.h"
#include "train/loss_scale.h"
#include "onnx/import.h" /* .onnx files: an importer upstream of graph/ (see clnet_model_load) */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void clnet_model_default_settings(clnet_model_settings *s)
{
    if (!s)
        return;
    memset(s, 0, sizeof *s);
    s->training = 1;
    s->seed = 1;
}

/* Built-in recipe, then whatever the model file's [train] section sets. */
void clnet__model_recipe(const clnet__model_desc *d, clnet_train_settings *t)
{
    *t = (clnet_train_settings){
        .optimizer = CLNET_OPTIM_SGD, .lr = 0.01f, .momentum = 0.9f,
        .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
    };
    const clnet__train_desc *f = &d->train;
    if (strcmp(f->optimizer, "adam") == 0)
        t->optimizer = CLNET_OPTIM_ADAM;
    else if (strcmp(f->optimizer, "adamw") == 0)
        t->optimizer = CLNET_OPTIM_ADAMW;
    if (t->optimizer != CLNET_OPTIM_SGD)
        t->lr = 0.001f;
    if (f->lr >= 0)
        t->lr = f->lr;
    if (f->momentum >= 0)
        t->momentum = f->momentum;
    if (f->nesterov >= 0)
        t->nesterov = f->nesterov;
    if (f->weight_decay >= 0)
        t->weight_decay = f->weight_decay;
    if (f->beta1 >= 0)
        t->beta1 = f->beta1;
    if (f->beta2 >= 0)
        t->beta2 = f->beta2;
    if (f->adam_eps >= 0)
        t->eps = f->adam_eps;
    if (f->clip_norm >= 0)
        t->clip_norm = f->clip_norm;
    if (f->label_smoothing >= 0)
        t->label_smoothing = f->label_smoothing;
}

static void memory_options(clnet__model_desc *desc, const clnet_model_settings *s);
static clnet_status precision_check(clnet_ctx *ctx, const clnet_model_settings *s);

static clnet_status model_create(clnet_ctx *ctx, clnet__model_desc *desc,
                                 const clnet_model_settings *s, clnet_model **out)
{
    clnet_model *m = calloc(1, sizeof *m);
    if (!m) {
        clnet__model_desc_free(desc);
        return clnet__fail(ctx, CLNET_ENOMEM, "out of host memory");
    }
    m->ctx = ctx;
    m->desc = desc;
    m->settings = *s;
    clnet__model_recipe(desc, &m->recipe);
    memory_options(desc, s);
    clnet__model_drop_idle_recompute(ctx, desc, s->training, &m->recipe);
    clnet_status st = precision_check(ctx, s);
    if (st == CLNET_OK)
        st = clnet__model_check_memory(ctx, desc, s->training, &m->recipe);
    if (st == CLNET_OK)
        st = clnet__graph_create(ctx, desc, desc->batch, s->training, &m->graph);
    if (st == CLNET_OK)
        st = clnet__graph_init_params(m->graph, s->seed, s->init);
    if (st == CLNET_OK && s->training)
        st = clnet__model_optim_create(m);
    if (st != CLNET_OK) {
        clnet_model_free(m);
        return st;
    }
    *out = m;
    return CLNET_OK;
}

/* A file that parses at batch 1 but not at the batch asked for has a
 * tensor too large for clnet's kernels (or its shapes overflow): the
 * message gets the largest batch that parses and fits the device. */
static void suggest_batch(clnet_ctx *ctx, const char *label, const char *text,
                          const clnet_model_settings *s)
{
    char *msg = malloc(sizeof ctx->errmsg);
    if (!msg)
        return;
    memcpy(msg, ctx->errmsg, sizeof ctx->errmsg);
    clnet__model_desc *d = NULL;
    int fit = 0;
    if (clnet__model_parse(ctx, label, text, 1, &d) == CLNET_OK) {
        clnet_train_settings r;
        clnet__model_recipe(d, &r);
        fit = clnet__model_fitting_batch(ctx, d, s->training, &r, s->batch);
    }
    clnet__model_desc_free(d);
    memcpy(ctx->errmsg, msg, sizeof ctx->errmsg);
    free(msg);
    if (fit > 0) {
        const clnet_device_desc *dev = &ctx->ocl.desc;
        size_t len = strlen(ctx->errmsg);
        snprintf(ctx->errmsg + len, sizeof ctx->errmsg - len,
                 "; batch %d would fit on %s (%.1f MiB, %.1f MiB per buffer)", fit,
                 dev->name, dev->global_mem_bytes / 1048576.0,
                 dev->max_alloc_bytes / 1048576.0);
    }
}

/* Parses a model file's text as the settings ask: their input size and
 * class count rewritten into it, at their batch, with a batch suggestion
 * when the batch is too large for the shapes. */
static clnet_status parse_with_settings(clnet_ctx *ctx, const char *label,
                                        const char *cfg_text,
                                        const clnet_model_settings *s,
                                        clnet__model_desc **desc)
{
    *desc = NULL;
    if (s->batch < 0)
        return clnet__fail(ctx, CLNET_EINVAL, "batch size %d < 0", s->batch);
    char *rewritten = NULL;
    if (s->channels || s->height || s->width || s->classes) {
        const clnet__cfg_overrides o = {s->channels, s->height, s->width, s->classes};
        clnet_status st = clnet__cfg_override(ctx, label, cfg_text, &o, &rewritten);
        if (st != CLNET_OK)
            return st;
        cfg_text = rewritten;
    }
    clnet_status st = clnet__model_parse(ctx, label, cfg_text, s->batch, desc);
    if (st == CLNET_EPARSE && s->batch > 1)
        suggest_batch(ctx, label, cfg_text, s);
    free(rewritten);
    return st;
}

clnet_status clnet_model_load_string(clnet_ctx *ctx, const char *label,
                                     const char *cfg_text,
                                     const clnet_model_settings *s,
                                     clnet_model **out)
{
    if (!ctx || !cfg_text || !out)
        return clnet__fail(ctx, CLNET_EINVAL, "clnet_model_load_string: NULL argument");
    *out = NULL;
    clnet_model_settings defaults;
    if (!s) {
        clnet_model_default_settings(&defaults);
        s = &defaults;
    }
    clnet__model_desc *desc = NULL;
    clnet_status st = parse_with_settings(ctx, label ? label : "<string>", cfg_text, s,
                                          &desc);
    if (st != CLNET_OK)
        return st;
    return model_create(ctx, desc, s, out);
}

/* Settings' memory options onto a parsed description (a settings'
 * recompute of 0 keeps the file's [net] recompute=). */
static void memory_options(clnet__model_desc *desc, const clnet_model_settings *s)
{
    if (s->recompute)
        desc->recompute = s->recompute > 0;
    desc->precision = s->precision;
}

/* fp16 needs cl_khr_fp16 (its GEMMs keep half tiles); fp16 storage works
 * everywhere (vload_half/vstore_half are core OpenCL). */
static clnet_status precision_check(clnet_ctx *ctx, const clnet_model_settings *s)
{
    if ((unsigned)s->precision > CLNET_PRECISION_FP16)
        return clnet__fail(ctx, CLNET_EINVAL, "unknown precision %d", (int)s->precision);
    if (s->precision == CLNET_PRECISION_FP16_STORAGE && !CLNET__FP16_STORAGE)
        return clnet__fail(ctx, CLNET_EUNSUPPORTED,
                           "precision fp16-storage (activations stored as 16-bit "
                           "floats) is not implemented in this version of clnet; "
                           "--recompute or --accumulate N reduce activation memory "
                           "instead");
    if (s->precision != CLNET_PRECISION_FP16)
        return CLNET_OK;
    if (ctx->ocl.desc.fp16)
        return CLNET_OK;
    /* CLNET_FP16_EMULATE=1, a test switch: runs fp16 on a device without
     * cl_khr_fp16 (its half tensors go through vload_half/vstore_half,
     * which round as the native half type does), so tests here cover the
     * whole path. */
    const char *emulate = getenv("CLNET_FP16_EMULATE");
    if (emulate && strcmp(emulate, "1") == 0) {
        clnet__log(ctx, CLNET_LOG_WARN, "CLNET_FP16_EMULATE=1: precision fp16 on %s, "
                   "which lacks cl_khr_fp16 (a test switch)", ctx->ocl.desc.name);
        return CLNET_OK;
    }
    return clnet__fail(ctx, CLNET_EUNSUPPORTED,
                           "precision fp16 stores gradients and GEMM operands in half "
                           "precision, which needs the cl_khr_fp16 extension; device "
                           "%s does not report it. "
                           "%s", ctx->ocl.desc.name,
                           CLNET__FP16_STORAGE
                               ? "fp16-storage (activations stored as 16-bit floats, "
                                 "fp32 arithmetic) works on every device and halves "
                                 "activation memory too"
                               : "--recompute or --accumulate N reduce activation "
                                 "memory on every device");
}

clnet_status clnet_model_plan_memory(clnet_ctx *ctx, const char *cfg_path,
                                     const clnet_model_settings *s,
                                     clnet_memory_plan *out)
{
    if (!ctx || !cfg_path || !out)
        return clnet__fail(ctx, CLNET_EINVAL, "clnet_model_plan_memory: NULL argument");
    clnet_model_settings defaults;
    if (!s) {
        clnet_model_default_settings(&defaults);
        s = &defaults;
    }
    clnet_status st = precision_check(ctx, s);
    if (st != CLNET_OK)
        return st;
    char *text = NULL;
    if (clnet__onnx_is_onnx_path(cfg_path)) {
        clnet__tensor_set w = {0};
        st = clnet__onnx_import(ctx, cfg_path, &text, &w);
        clnet__tensor_set_clear(&w);
    } else {
        st = clnet__read_file(ctx, cfg_path, &text, NULL);
    }
    clnet__model_desc *desc = NULL;
    if (st == CLNET_OK)
        st = parse_with_settings(ctx, cfg_path, text, s, &desc);
    if (st == CLNET_OK) {
        memory_options(desc, s);
        clnet_train_settings r;
        clnet__model_recipe(desc, &r);
        st = clnet__model_plan(ctx, desc, s->training, &r, out);
    }
    clnet__model_desc_free(desc);
    free(text);
    return st;
}

clnet_status clnet_model_load(clnet_ctx *ctx, const char *cfg_path,
                              const clnet_model_settings *s, clnet_model **out)
{
    if (!ctx || !cfg_path || !out)
        return clnet__fail(ctx, CLNET_EINVAL, "clnet_model_load: NULL argument");
    if (clnet__onnx_is_onnx_path(cfg_path))
        return clnet__onnx_model_load(ctx, cfg_path, s, out);
    char *text = NULL;
    clnet_status st = clnet__read_file(ctx, cfg_path, &text, NULL);
    if (st != CLNET_OK)
        return st;
    st = clnet_model_load_string(ctx, cfg_path, text, s, out);
    free(text);
    return st;
}

/* The metadata of the last checkpoint loaded belongs to the model (so that
 * freeing a model needs nothing from src/train): checkpoint.c fills it. */
void clnet__model_meta_clear(clnet_model *m)
{
    for (size_t i = 0; i < 2 * m->n_meta; i++)
        free(m->meta[i]);
    free(m->meta);
    m->meta = NULL;
    m->n_meta = 0;
}

const char *clnet_model_meta(const clnet_model *m, const char *key)
{
    for (size_t i = 0; m && key && i < m->n_meta; i++)
        if (strcmp(m->meta[2 * i], key) == 0)
            return m->meta[2 * i + 1];
    return NULL;
}

const char *clnet_model_text(const clnet_model *m)
{
    return m && m->desc->text ? m->desc->text : "";
}

void clnet_model_free(clnet_model *m)
{
    if (!m)
        return;
    if (m->ctx)
        clnet__finish(m->ctx);
    for (int i = 0; i < 2; i++) {
        clnet__upload_wait(m->ctx, &m->upload[i].images);
        clnet__upload_wait(m->ctx, &m->upload[i].labels);
        clnet__marker_clear(&m->slot_done[i]);
    }
    clnet__model_optim_free(m);
    clnet__graph_free(m->graph);
    clnet__model_desc_free(m->desc);
    clnet__model_meta_clear(m);
    clnet__buckets_free(m->buckets);
    free(m->reduce_host);
    free(m);
}

clnet_status clnet_model_get_info(const clnet_model *m, clnet_model_info *out)
{
    if (!m || !out)
        return CLNET_EINVAL;
    const clnet__model_desc *d = m->desc;
    *out = (clnet_model_info){
        .channels = d->channels, .height = d->height, .width = d->width,
        .classes = d->classes, .batch = m->graph->batch, .layers = d->n_layers,
        .params = m->graph->params_count,
        .recompute_segments = m->graph->n_segments,
    };
    clnet__graph_memory(m->graph, &out->memory_planned, &out->memory_naive);
    out->memory_planned += clnet__model_optim_bytes(m);
    out->memory_naive += clnet__model_optim_bytes(m);
    return CLNET_OK;
}

clnet_status clnet_model_get_train_settings(const clnet_model *m,
                                            clnet_train_settings *out)
{
    if (!m || !out)
        return CLNET_EINVAL;
    *out = m->recipe;
    return CLNET_OK;
}

static int finite_nonneg(float x) { return isfinite(x) && x >= 0; }

clnet_status clnet_model_set_train_settings(clnet_model *m,
                                            const clnet_train_settings *s)
{
    if (!m || !s)
        return CLNET_EINVAL;
    clnet_ctx *ctx = m->ctx;
    if ((unsigned)s->optimizer > CLNET_OPTIM_ADAMW)
        return clnet__fail(ctx, CLNET_EINVAL, "unknown optimizer %d", (int)s->optimizer);
    if (!finite_nonneg(s->lr) || !finite_nonneg(s->momentum) || s->momentum >= 1 ||
        !finite_nonneg(s->weight_decay) || !finite_nonneg(s->clip_norm) ||
        !finite_nonneg(s->label_smoothing) || s->label_smoothing >= 1 ||
        !(s->beta1 >= 0 && s->beta1 < 1) || !(s->beta2 >= 0 && s->beta2 < 1) ||
        !(s->eps > 0) || s->accumulate < 0 || s->accumulate > 65536)
        return clnet__fail(ctx, CLNET_EINVAL,
                           "bad training settings: lr %g, momentum %g, weight "
                           "decay %g, clip %g, label smoothing %g, betas %g/%g, eps %g, "
                           "accumulate %d (0 to 65536)",
                           (double)s->lr, (double)s->momentum, (double)s->weight_decay,
                           (double)s->clip_norm, (double)s->label_smoothing,
                           (double)s->beta1, (double)s->beta2, (double)s->eps,
                           s->accumulate);
    if ((s->loss_scale != 0.0f &&
         !clnet__loss_scale_valid(s->loss_scale, s->loss_scale_interval
                                                     ? s->loss_scale_interval
                                                     : CLNET__LSCALE_INTERVAL)) ||
        s->loss_scale_interval < 0)
        return clnet__fail(ctx, CLNET_EINVAL,
                           "bad loss scaling: scale %g (0 for off, or 2^-24 to 2^24), "
                           "interval %d (0 for 2000, or 1 to 1000000)",
                           (double)s->loss_scale, s->loss_scale_interval);
    int acc_old = m->recipe.accumulate > 1 ? m->recipe.accumulate : 1;
    int acc_new = s->accumulate > 1 ? s->accumulate : 1;
    if (m->micro && acc_new != acc_old)
        return clnet__fail(ctx, CLNET_EINVAL,
                           "accumulate %d: %d of %d micro-batches are accumulated "
                           "already; change it at an update", acc_new, m->micro,
                           acc_old);
    /* Anything but the learning rate and label smoothing lives in the
     * optimizer: re-create it (its moments restart from zero). */
    clnet_train_settings a = *s, b = m->recipe;
    a.lr = b.lr = 0;
    a.label_smoothing = b.label_smoothing = 0;
    a.accumulate = b.accumulate = 0;
    int changed = memcmp(&a, &b, sizeof a) != 0;
    m->recipe = *s;
    if (changed && m->settings.training) {
        clnet__model_optim_free(m);
        return clnet__model_optim_create(m);
    }
    return CLNET_OK;
}

clnet_status clnet_model_set_lr(clnet_model *m, float lr)
{
    if (!m)
        return CLNET_EINVAL;
    if (!finite_nonneg(lr))
        return clnet__fail(m->ctx, CLNET_EINVAL, "learning rate %g is not a finite "
                           "non-negative number", (double)lr);
    m->recipe.lr = lr;
    return CLNET_OK;
}

clnet_status clnet_model_get_train_plan(const clnet_model *m,
                                        clnet_train_plan *out)
{
    if (!m || !out)
        return CLNET_EINVAL;
    const clnet__train_desc *t = &m->desc->train;
    memset(out, 0, sizeof *out);
    clnet__strlcpy(out->schedule, t->schedule, sizeof out->schedule);
    clnet__strlcpy(out->augment, t->augment, sizeof out->augment);
    out->epochs = t->epochs;
    out->warmup_epochs = t->warmup_epochs;
    out->step_epochs = t->step_epochs;
    out->gamma = t->gamma;
    return CLNET_OK;
}

uint64_t clnet_model_step(const clnet_model *m) { return m ? m->step : 0; }
