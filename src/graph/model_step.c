/* Batches and steps: double-buffered non-blocking uploads, and the step
 * sequences. The host waits for the device only in read_stats/predict. */
#include "graph/model_impl.h"

#include "core/core.h"
#include "ops/loss.h"
#include "train/loss_scale.h"
#include "train/optim.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

clnet_status clnet_model_set_batch(clnet_model *m, const float *images,
                                   const int32_t *labels, int n)
{
    if (!m)
        return CLNET_EINVAL;
    clnet__graph *g = m->graph;
    if (!images || n < 1 || n > g->batch)
        return clnet__fail(m->ctx, CLNET_EINVAL,
                           "batch of %d images (model bound to batch %d)%s", n,
                           g->batch, images ? "" : ", images NULL");
    /* Upload into the slot the previous step did not read, after the step
     * before it (which did) has finished on the device. */
    int slot = m->slot ^ 1;
    clnet__pending_upload *up = &m->upload[slot];
    clnet_status st = clnet__upload_wait(m->ctx, &up->images);
    if (st == CLNET_OK)
        st = clnet__upload_wait(m->ctx, &up->labels);
    const clnet__model_desc *d = m->desc;
    size_t bytes = (size_t)n * d->channels * d->height * d->width * sizeof(float);
    if (st == CLNET_OK)
        st = clnet__upload_after(m->ctx, g->input_slot[slot].buf,
                                 g->input_slot[slot].off * sizeof(float), bytes,
                                 images, &m->slot_done[slot], &up->images);
    if (st == CLNET_OK && labels)
        st = clnet__upload_after(m->ctx, g->labels_slot[slot].buf,
                                 g->labels_slot[slot].off * sizeof(float),
                                 (size_t)n * sizeof(int32_t), labels,
                                 &m->slot_done[slot], &up->labels);
    if (st != CLNET_OK)
        return st;
    m->slot = slot;
    m->batch_n = n;
    m->batch_has_labels = labels != NULL;
    return CLNET_OK;
}

/* Orders compute after the uploads of the current slot and selects it. */
static clnet_status begin_step(clnet_model *m, int need_labels)
{
    if (m->batch_n < 1)
        return clnet__fail(m->ctx, CLNET_EINVAL, "no batch set (clnet_model_set_batch)");
    if (need_labels && !m->batch_has_labels)
        return clnet__fail(m->ctx, CLNET_EINVAL, "the batch was set without labels");
    clnet__pending_upload *up = &m->upload[m->slot];
    clnet_status st = clnet__compute_after_upload(m->ctx, &up->images);
    if (st == CLNET_OK)
        st = clnet__compute_after_upload(m->ctx, &up->labels);
    /* A partial batch (eval, predict): zero the rows past n, so the forward
     * pass never reads memory nothing wrote (valgrind caught maxpool
     * comparing it) and cannot meet a NaN or Inf there. Their outputs are
     * never read; the upload does not touch these rows. */
    clnet__graph *g = m->graph;
    if (st == CLNET_OK && m->batch_n < g->batch) {
        const clnet__model_desc *d = m->desc;
        size_t item = (size_t)d->channels * d->height * d->width;
        clnet__tensor tail = g->input_slot[m->slot];
        tail.off += (size_t)m->batch_n * item;
        st = clnet__fill(m->ctx, tail, (size_t)(g->batch - m->batch_n) * item, 0.0f);
    }
    clnet__graph_use_slot(g, m->slot);
    return st;
}

/* Marks the slot's last reader, and lets the caller reuse its host arrays
 * (the uploads are complete once this returns). */
static clnet_status end_step(clnet_model *m)
{
    clnet__pending_upload *up = &m->upload[m->slot];
    clnet_status st = clnet__marker_record(m->ctx, &m->slot_done[m->slot]);
    if (st == CLNET_OK)
        st = clnet__upload_wait(m->ctx, &up->images);
    if (st == CLNET_OK)
        st = clnet__upload_wait(m->ctx, &up->labels);
    return st;
}

/* Distinct per update and per micro-batch within it (the first
 * micro-batch's seed is the one a run without accumulation uses). */
static uint64_t step_seed(const clnet_model *m)
{
    return m->settings.seed * 0x9E3779B97F4A7C15ull + m->step + 1 +
           ((uint64_t)m->micro << 40);
}

static int accumulate_of(const clnet_model *m)
{
    return m->recipe.accumulate > 1 ? m->recipe.accumulate : 1;
}

int clnet_model_accumulated(const clnet_model *m) { return m ? m->micro : 0; }

clnet_status clnet_model_train_step(clnet_model *m)
{
    if (!m)
        return CLNET_EINVAL;
    if (!m->settings.training)
        return clnet__fail(m->ctx, CLNET_EINVAL, "model loaded for inference only");
    if (m->batch_n != m->graph->batch)
        return clnet__fail(m->ctx, CLNET_EINVAL,
                           "training step needs a full batch of %d (got %d): "
                           "batch statistics of a partial batch differ",
                           m->graph->batch, m->batch_n);
    clnet_status st = begin_step(m, 1);
    uint64_t seed = step_seed(m);
    /* Each micro-batch's loss gradient is scaled by 1/N, so the sum over N
     * of them is the gradient of the mean loss over all N*batch images; the
     * same for R replicas' sum (src/dist/). */
    int n_acc = accumulate_of(m);
    float grad_scale = 1.0f / ((float)n_acc * (float)clnet__model_replicas(m));
    int update = m->micro + 1 >= n_acc;
    if (st == CLNET_OK)
        st = clnet__graph_forward(m->graph, 1, seed);
    if (st == CLNET_OK)
        st = clnet__graph_loss(m->graph, m->batch_n, m->recipe.label_smoothing,
                               grad_scale);
    /* Loss scaling: the scale is on the device (the last update may have
     * changed it), so it multiplies the loss gradient there. */
    if (st == CLNET_OK && clnet__optim_loss_scaled(m->optim)) {
        clnet__graph *g = m->graph;
        st = clnet__optim_scale_loss_grad(m->ctx, m->optim,
                                          g->dlogits.buf ? g->dlogits : g->logits,
                                          (size_t)g->batch * m->desc->classes);
    }
    /* With buckets the last micro-batch's backward sums as it goes. */
    clnet__buckets *buckets = update && st == CLNET_OK ? m->buckets : NULL;
    if (buckets)
        clnet__buckets_begin(buckets);
    if (st == CLNET_OK)
        st = clnet__graph_backward(m->graph, seed, m->micro > 0);
    if (buckets)
        st = clnet__buckets_finish(buckets, st);
    else if (st == CLNET_OK && update)
        st = clnet__model_reduce(m);
    if (st == CLNET_OK && update)
        st = clnet__model_optim_step(m);
    if (st == CLNET_OK)
        st = end_step(m);
    if (st == CLNET_OK) {
        m->micro = update ? 0 : m->micro + 1;
        m->step += update;
    }
    return st;
}

clnet_status clnet_model_eval_step(clnet_model *m)
{
    if (!m)
        return CLNET_EINVAL;
    clnet_status st = begin_step(m, 1);
    if (st == CLNET_OK)
        st = clnet__graph_forward(m->graph, 0, 0);
    if (st == CLNET_OK)
        st = clnet__graph_loss(m->graph, m->batch_n, 0.0f, 0.0f);
    if (st == CLNET_OK)
        st = end_step(m);
    return st;
}

clnet_status clnet_model_predict(clnet_model *m, float *probs)
{
    if (!m || !probs)
        return CLNET_EINVAL;
    clnet__graph *g = m->graph;
    clnet_status st = begin_step(m, 0);
    if (st == CLNET_OK)
        st = clnet__graph_forward(g, 0, 0);
    /* Softmax in place: the logits are not needed afterwards. */
    if (st == CLNET_OK)
        st = clnet__softmax(m->ctx, m->batch_n, m->desc->classes, g->logits, g->logits);
    if (st == CLNET_OK)
        st = end_step(m);
    if (st == CLNET_OK)
        st = clnet__buf_read(m->ctx, g->logits.buf, g->logits.off * sizeof(float),
                             (size_t)m->batch_n * m->desc->classes * sizeof(float),
                             probs);
    return st;
}

clnet_status clnet_model_read_stats(clnet_model *m, clnet_stats *out, int reset)
{
    if (!m || !out)
        return CLNET_EINVAL;
    clnet__graph *g = m->graph;
    /* The counters, then the optimizer's non-finite flag and record. */
    float s[CLNET__STAT_COUNT + CLNET__NONFINITE_FLOATS];
    clnet_status st = clnet__buf_read(m->ctx, g->stats.buf, g->stats.off * sizeof(float),
                                      sizeof s, s);
    if (st != CLNET_OK)
        return st;
    memset(out, 0, sizeof *out);
    out->loss_sum = s[CLNET__STAT_LOSS_SUM];
    out->correct = s[CLNET__STAT_CORRECT];
    out->correct5 = s[CLNET__STAT_CORRECT5];
    out->samples = s[CLNET__STAT_SAMPLES];
    out->nonfinite = !isfinite(s[CLNET__STAT_LOSS_SUM]) || s[CLNET__STAT_COUNT] != 0;
    if (out->nonfinite) {
        m->nonfinite_seen = 1;
        m->nonfinite_recorded = clnet__nonfinite_decode(&s[CLNET__STAT_COUNT],
                                                        &m->nonfinite);
    }
    float ls[CLNET__LSCALE_FLOATS];
    st = clnet__optim_loss_scale_get(m->ctx, m->optim, ls);
    out->loss_scale = ls[0];
    out->skipped_updates = ls[3];
    if (st == CLNET_OK && reset)
        st = clnet__fill(m->ctx, g->stats, CLNET__STAT_COUNT + CLNET__NONFINITE_FLOATS,
                         0.0f);
    return st;
}

clnet_status clnet_model_find_nonfinite(const clnet_model *m, char *buf, size_t cap)
{
    if (!m || !buf || cap == 0)
        return CLNET_EINVAL;
    buf[0] = '\0';
    if (!m->nonfinite_seen)
        return CLNET_OK;
    const clnet__nonfinite *r = &m->nonfinite;
    const clnet__graph *g = m->graph;
    const clnet__param_ref *p = NULL;
    for (int i = 0; m->nonfinite_recorded && i < g->n_params && !p; i++)
        if (r->index >= g->params[i].offset &&
            r->index - g->params[i].offset < g->params[i].count)
            p = &g->params[i];
    if (!p)
        snprintf(buf, cap, "the loss is NaN or Inf");
    else if (r->loss_bad)
        /* Every gradient is bad when the loss is: the record then only
         * names the last layer, and the cause is in the forward pass. */
        snprintf(buf, cap, "the loss became NaN or Inf at step %u (the forward "
                 "pass overflowed, so every gradient from %s back is %s)",
                 (unsigned)r->step, p->name, r->is_nan ? "NaN" : "Inf");
    else
        snprintf(buf, cap, "gradient of %s is %s (first at step %u, with a finite "
                 "loss)", p->name, r->is_nan ? "NaN" : "Inf", (unsigned)r->step);
    return CLNET_OK;
}
