/* Enqueueing one step: forward in file order, the loss, backward in reverse.
 * Nothing here waits for the device; the host reads scalars only when asked.
 * The clnet__prof_mark calls tell a recording profiler (clnet-bench) which
 * layer the following launches belong to; they do nothing otherwise. */
#include "graph/graph.h"

#include "core/core.h"
#include "ocl/profile.h"
#include "ops/loss.h"
#include "ops/rng.h"

/* Distinct, reproducible seeds per (step, layer) for dropout masks. */
static uint64_t layer_seed(uint64_t step_seed, int layer)
{
    uint64_t hi = clnet__hash32((uint32_t)(step_seed >> 32) ^ (uint32_t)layer);
    uint64_t lo = clnet__hash32((uint32_t)step_seed + 0x9e3779b9u * (uint32_t)(layer + 1));
    return (hi << 32) | lo;
}

/* The layer's bound tensors, with the network input taken from the slot in
 * use for this step. A frozen layer with persistent state runs in its
 * inference form (graph.h): batchnorm then normalises with its running
 * statistics and leaves them alone, and its backward is the affine one. */
static clnet__op_io layer_io(const clnet__graph *g, int i, int training,
                             uint64_t step_seed)
{
    clnet__op_io io = g->layers[i].io;
    const clnet__layer_desc *l = &g->desc->layers[i];
    for (int k = 0; k < l->n_in; k++)
        if (l->from[k] < 0)
            io.in[k] = g->input;
    io.training = training && !(g->layers[i].frozen && l->plan.n_state > 0);
    io.seed = layer_seed(step_seed, i);
    io.sync = g->sync.sum ? &g->sync : NULL;
    return io;
}

void clnet__graph_update_frozen(clnet__graph *g)
{
    const clnet__model_desc *d = g->desc;
    /* File order is topological: every input's flag is known first. */
    for (int i = 0; i < d->n_layers; i++) {
        const clnet__layer_desc *l = &d->layers[i];
        int wanted = !g->layers[i].frozen && l->plan.n_params > 0;
        for (int k = 0; k < l->n_in && !wanted; k++)
            wanted = l->from[k] >= 0 && g->layers[l->from[k]].grad_wanted;
        g->layers[i].grad_wanted = wanted;
    }
}

static clnet_status layer_error(clnet__graph *g, int i, clnet_status st,
                                const char *phase)
{
    const clnet__layer_desc *l = &g->desc->layers[i];
    return clnet__fail_prefix(g->ctx, st, "%s of layer %s ([%s], %s:%d)", phase,
                              l->name, l->op->name, g->desc->source, l->line);
}

/* One layer's forward; replay: recompute's second run of it (op.h). */
static clnet_status forward_layer(clnet__graph *g, int i, int training,
                                  uint64_t step_seed, int replay)
{
    const clnet__layer_desc *l = &g->desc->layers[i];
    clnet__prof_mark(g->ctx, CLNET__PROF_FORWARD, i);
    if (g->layers[i].fused) /* its input layer applies it */
        return CLNET_OK;
    clnet__op_io io = layer_io(g, i, training, step_seed);
    io.replay = replay;
    clnet_status st = l->op->forward(g->ctx, l->params, &io);
    return st == CLNET_OK ? st : layer_error(g, i, st, replay ? "recompute" : "forward");
}

/* precision fp16: the GEMMs of this graph's passes take half operands
 * (src/ocl/gemm.h); returns the context's setting, restored after. */
static int fp16_gemms_begin(clnet__graph *g)
{
    return clnet__gemm_fp16_set(g->ctx, g->desc->precision == CLNET_PRECISION_FP16);
}

clnet_status clnet__graph_forward(clnet__graph *g, int training,
                                  uint64_t step_seed)
{
    if (training && !g->training)
        return clnet__fail(g->ctx, CLNET_EINVAL,
                           "training forward on an inference-only graph");
    clnet_status st = CLNET_OK;
    int gemm_fp16 = fp16_gemms_begin(g);
    for (int i = 0; i < g->desc->n_layers && st == CLNET_OK; i++)
        st = forward_layer(g, i, training, step_seed, 0);
    clnet__gemm_fp16_set(g->ctx, gemm_fp16);
    return st;
}

clnet_status clnet__graph_loss(clnet__graph *g, int n, float label_smoothing,
                               float grad_scale)
{
    int with_grad = grad_scale != 0.0f;
    clnet__tensor none = {0};
    if (with_grad && !g->training)
        return clnet__fail(g->ctx, CLNET_EINVAL, "loss gradient on an inference graph");
    if (n < 1 || n > g->batch)
        return clnet__fail(g->ctx, CLNET_EINVAL, "loss over %d rows of a batch of %d",
                           n, g->batch);
    clnet__prof_mark(g->ctx, CLNET__PROF_LOSS, -1);
    return clnet__xent(g->ctx, n, g->desc->classes, label_smoothing, grad_scale,
                       g->logits, g->labels, with_grad ? g->dlogits : none,
                       g->stats, g->xent_work);
}

/* The input slot k through which layer j reads layer i, when it reads it
 * through exactly one slot; -1 otherwise. */
static int single_slot(const clnet__layer_desc *l, int i)
{
    int k = -1;
    for (int s = 0; s < l->n_in; s++)
        if (l->from[s] == i) {
            if (k >= 0)
                return -1;
            k = s;
        }
    return k;
}

/* Layer j's backward, with the zeroing of the gradients it writes first. */
static clnet_status backward_layer(clnet__graph *g, int j, uint64_t step_seed)
{
    clnet__prof_mark(g->ctx, CLNET__PROF_BACKWARD, j);
    /* A fused relu: its input layer's backward does its part, and its
     * input's own gradient is never used. */
    if (g->layers[j].fused)
        return CLNET_OK;
    const clnet__layer_desc *l = &g->desc->layers[j];
    /* Gradients accumulate (+=) but start at their first writer, the
     * latest layer that reads them (only the ones backward writes:
     * grad_wanted). An op that can write its first contribution
     * (op.h, din_write) is told to; for any other the gradient is
     * zeroed right before it. */
    unsigned din_write = 0;
    for (int i = 0; i < j; i++) {
        if (g->layers[i].out_grad_first_use != j || !g->layers[i].grad_wanted)
            continue;
        int k = l->op->writes_din ? single_slot(l, i) : -1;
        if (k >= 0) {
            din_write |= 1u << k;
            continue;
        }
        clnet__op_io *src = &g->layers[i].io;
        clnet_status st = clnet__fill(g->ctx, src->dout,
                                      clnet__shape_count(src->out_shape), 0.0f);
        if (st != CLNET_OK)
            return st;
    }
    /* Nothing trained depends on this layer (it and everything before
     * it frozen, or no parameters upstream): no backward at all. */
    if (!g->layers[j].grad_wanted)
        return CLNET_OK;
    clnet__op_io io = layer_io(g, j, 1, step_seed);
    io.din_write = din_write;
    /* Unwanted gradients are {0}, which ops skip (op.h): a frozen
     * layer's parameters, and inputs that feed nothing trained. */
    if (g->layers[j].frozen)
        for (int k = 0; k < CLNET__MAX_PARAMS; k++)
            io.dparam[k] = (clnet__tensor){0};
    for (int k = 0; k < l->n_in; k++)
        if (l->from[k] >= 0 && !g->layers[l->from[k]].grad_wanted)
            io.din[k] = (clnet__tensor){0};
    clnet_status st = l->op->backward(g->ctx, l->params, &io);
    return st == CLNET_OK ? st : layer_error(g, j, st, "backward");
}

clnet_status clnet__graph_backward(clnet__graph *g, uint64_t step_seed,
                                   int accumulate)
{
    if (!g->training)
        return clnet__fail(g->ctx, CLNET_EINVAL, "backward on an inference graph");
    clnet_status st = CLNET_OK;
    clnet__prof_mark(g->ctx, CLNET__PROF_BACKWARD, -1);
    int gemm_fp16 = fp16_gemms_begin(g);
    if (g->params_count && !accumulate)
        st = clnet__fill(g->ctx, (clnet__tensor){.buf = g->grads_buf}, g->params_count, 0.0f);
    /* Segment by segment from the last (recompute.c): every segment but the
     * last first replays its forward, then runs its backward. */
    for (int s = g->n_segments - 1; s >= 0 && st == CLNET_OK; s--) {
        int first = s ? g->segment_last[s - 1] + 1 : 0, last = g->segment_last[s];
        /* A segment whose backward does nothing (all frozen) needs no
         * replay; otherwise every layer, as the wanted ones read the
         * others. */
        int wanted = 0;
        for (int i = first; i <= last; i++)
            wanted |= g->layers[i].grad_wanted;
        if (s < g->n_segments - 1 && wanted)
            for (int i = first; i <= last && st == CLNET_OK; i++)
                st = forward_layer(g, i, 1, step_seed, 1);
        for (int j = last; j >= first && st == CLNET_OK; j--) {
            st = backward_layer(g, j, step_seed);
            if (st == CLNET_OK && g->after_backward)
                st = g->after_backward(g->after_backward_user, j);
        }
    }
    clnet__gemm_fp16_set(g->ctx, gemm_fp16);
    /* The caller's optimizer update follows. */
    clnet__prof_mark(g->ctx, CLNET__PROF_UPDATE, -1);
    return st;
}
