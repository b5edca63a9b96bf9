/* Freezing layers (clnet_model_set_frozen, issue 15) on a small conv + bn +
 * dense network: frozen parameters, their optimizer moments and a frozen
 * batchnorm's running statistics stay bit-identical while the rest train;
 * one training step equals a host reference step built from the ops'
 * plain-C references (frozen batchnorm in its inference form, frozen
 * parameters constants), whose gradients a finite-difference check
 * confirms; a frozen batchnorm's training forward equals inference; backward
 * skips what no trained parameter needs; errors name the prefix; and
 * checkpoints keep the frozen set. */
#include "../support.h"
#include "clnet/clnet.h"
#include "graph/model_impl.h"
#include "ocl/ocl.h"
#include "ops/loss.h"
#include "train/optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static clnet_ctx *ctx;

#define B 4
#define C 2
#define H 6
#define W 6
#define K 3

/* conv1 -> bn1 -> relu -> conv2 -> bn2 -> relu -> fc: the backbone is
 * conv1..bn2 (fc is the last layer with parameters). Weight decay and
 * momentum, so a frozen parameter that moved would show. */
static const char cfg[] =
    "[net]\nchannels=2\nheight=6\nwidth=6\nclasses=3\nbatch=4\n"
    "[train]\nlr=0.1\nmomentum=0.9\nweight_decay=0.01\n"
    "[conv]\nname=conv1\nfilters=4\nkernel=3\npad=1\n"
    "[batchnorm]\nname=bn1\n"
    "[relu]\nname=relu1\n"
    "[conv]\nname=conv2\nfilters=4\nkernel=3\nstride=2\npad=1\n"
    "[batchnorm]\nname=bn2\n"
    "[relu]\nname=relu2\n"
    "[dense]\nname=fc\noutputs=3\n";

static float x[B * C * H * W];
static int32_t y[B];

static void make_batch(uint64_t seed)
{
    clnet_test_rng r;
    clnet_test_rng_seed(&r, seed);
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
        x[i] = clnet_test_uniform(&r, -1.5f, 2.0f);
    for (int i = 0; i < B; i++)
        y[i] = i % K;
}

static clnet_model *load(uint64_t seed)
{
    clnet_model_settings ms;
    clnet_model_default_settings(&ms);
    ms.seed = seed;
    clnet_model *m = NULL;
    ck_assert_msg(clnet_model_load_string(ctx, "freeze-net", cfg, &ms, &m) == CLNET_OK,
                  "%s", clnet_errmsg(ctx));
    return m;
}

/* Moves the running statistics away from 0/1 (a few ordinary training steps
 * on other data, then lr 0 keeps nothing else from mattering): a frozen
 * batchnorm normalising with the batch statistics would then differ
 * clearly from one using its running ones. */
static void warm_stats(clnet_model *m)
{
    make_batch(99);
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
        x[i] = x[i] * 1.7f + 0.6f;
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(clnet_model_set_batch(m, x, y, B), CLNET_OK);
        ck_assert_msg(clnet_model_train_step(m) == CLNET_OK, "%s", clnet_errmsg(ctx));
    }
}

static void train_step(clnet_model *m)
{
    ck_assert_int_eq(clnet_model_set_batch(m, x, y, B), CLNET_OK);
    ck_assert_msg(clnet_model_train_step(m) == CLNET_OK, "%s", clnet_errmsg(ctx));
}

/* Host copies of the flat buffers. */
static float *read_flat(clnet__buf *b, size_t n)
{
    float *h = malloc((n + 1) * sizeof *h);
    ck_assert_ptr_nonnull(h);
    if (n)
        ck_assert_int_eq(clnet__buf_read(ctx, b, 0, n * sizeof *h, h), CLNET_OK);
    return h;
}

static float *read_params(clnet_model *m)
{
    return read_flat(m->graph->params_buf, m->graph->params_count);
}

static float *read_state(clnet_model *m)
{
    return read_flat(m->graph->state_buf, m->graph->state_count);
}

static int layer_frozen(const clnet_model *m, int layer)
{
    return m->graph->layers[layer].frozen;
}

/* Every parameter and state tensor: bit-identical when its layer is
 * frozen, changed (some element) when not. */
static void check_frozen_kept(clnet_model *m, const float *p0, const float *p1,
                              const float *s0, const float *s1, const char *when)
{
    const clnet__graph *g = m->graph;
    for (int i = 0; i < g->n_params; i++) {
        const clnet__param_ref *r = &g->params[i];
        int same = memcmp(p0 + r->offset, p1 + r->offset, r->count * sizeof *p0) == 0;
        if (layer_frozen(m, r->layer))
            ck_assert_msg(same, "%s: frozen %s changed", when, r->name);
        else
            ck_assert_msg(!same, "%s: trained %s did not change", when, r->name);
    }
    for (int i = 0; i < g->n_state; i++) {
        const clnet__param_ref *r = &g->state[i];
        int same = memcmp(s0 + r->offset, s1 + r->offset, r->count * sizeof *s0) == 0;
        if (layer_frozen(m, r->layer))
            ck_assert_msg(same, "%s: frozen %s changed", when, r->name);
        else
            ck_assert_msg(!same, "%s: trained %s did not change", when, r->name);
    }
}

/* (a) A frozen prefix keeps its parameters, moments and running statistics
 * bit for bit over several steps, with SGD and with Adam, while everything
 * else trains; unfreezing brings it back. */
static void frozen_prefix_kept(clnet_optimizer opt)
{
    clnet_model *m = load(7);
    warm_stats(m);
    if (opt != CLNET_OPTIM_SGD) {
        clnet_train_settings ts;
        clnet_model_get_train_settings(m, &ts);
        ts.optimizer = opt;
        ts.lr = 0.01f;
        ck_assert_int_eq(clnet_model_set_train_settings(m, &ts), CLNET_OK);
    }
    const char *const prefixes[] = {"conv1", "bn"};
    ck_assert_int_eq(clnet_model_set_frozen(m, prefixes, 2, 1), CLNET_OK);
    ck_assert_int_eq(clnet_model_layer_frozen(m, "conv1"), 1);
    ck_assert_int_eq(clnet_model_layer_frozen(m, "bn1"), 1);
    ck_assert_int_eq(clnet_model_layer_frozen(m, "bn2"), 1);
    ck_assert_int_eq(clnet_model_layer_frozen(m, "conv2"), 0);
    ck_assert_int_eq(clnet_model_layer_frozen(m, "fc"), 0);
    ck_assert_int_eq(clnet_model_layer_frozen(m, "nope"), -1);
    /* conv1 4*2*9 + 4, bn1 and bn2 4 + 4 each */
    ck_assert_uint_eq(clnet_model_frozen_params(m), 4 * 2 * 9 + 4 + 2 * 8);

    float *p0 = read_params(m), *s0 = read_state(m);
    const clnet__graph *g = m->graph;
    clnet__optim_state os[CLNET__OPTIM_MAX_STATES];
    size_t nos = clnet__optim_states(m->optim, os);
    ck_assert_uint_ge(nos, 1);
    float *mom0[CLNET__OPTIM_MAX_STATES] = {0};
    for (size_t k = 0; k < nos; k++)
        mom0[k] = read_flat(os[k].buf, os[k].n);
    make_batch(5);
    for (int i = 0; i < 3; i++)
        train_step(m);
    clnet_stats st;
    ck_assert_int_eq(clnet_model_read_stats(m, &st, 1), CLNET_OK);
    ck_assert(!st.nonfinite);
    float *p1 = read_params(m), *s1 = read_state(m);
    check_frozen_kept(m, p0, p1, s0, s1, "frozen conv1, bn*");

    /* The optimizer moments of frozen parameters are as they were (SGD's
     * momentum from the warm-up steps; Adam's zero, its optimizer being
     * new), of trained ones not. */
    for (size_t q = 0; q < nos; q++) {
        float *mom = read_flat(os[q].buf, os[q].n);
        for (int i = 0; i < g->n_params; i++) {
            const clnet__param_ref *r = &g->params[i];
            int same = memcmp(mom + r->offset, mom0[q] + r->offset, r->count * 4) == 0;
            ck_assert_msg(same == layer_frozen(m, r->layer), "%s of %s %s", os[q].name,
                          r->name, same ? "did not move" : "moved");
        }
        free(mom);
        free(mom0[q]);
    }
    /* No weight-gradient work for frozen layers: their gradients stay 0. */
    float *gr = read_flat(g->grads_buf, g->params_count);
    for (int i = 0; i < g->n_params; i++) {
        const clnet__param_ref *r = &g->params[i];
        for (size_t k = 0; layer_frozen(m, r->layer) && k < r->count; k++)
            ck_assert_msg(gr[r->offset + k] == 0.0f, "gradient of frozen %s written", r->name);
    }

    /* Unfreezing bn1 only: it trains again (parameters and statistics),
     * the others stay. */
    const char *const bn1[] = {"bn1"};
    ck_assert_int_eq(clnet_model_set_frozen(m, bn1, 1, 0), CLNET_OK);
    ck_assert_int_eq(clnet_model_layer_frozen(m, "bn1"), 0);
    for (int i = 0; i < 2; i++)
        train_step(m);
    float *p2 = read_params(m), *s2 = read_state(m);
    check_frozen_kept(m, p1, p2, s1, s2, "bn1 unfrozen");
    free(p0), free(p1), free(p2), free(s0), free(s1), free(s2), free(gr);
    clnet_model_free(m);
}

START_TEST(frozen_prefix_is_bit_identical_sgd)
{
    frozen_prefix_kept(CLNET_OPTIM_SGD);
}
END_TEST

START_TEST(frozen_prefix_is_bit_identical_adam)
{
    frozen_prefix_kept(CLNET_OPTIM_ADAMW);
}
END_TEST

/* ---- (b) host reference step ------------------------------------------- */

/* The network on the host through the ops' references: flat parameters and
 * state as on the device, per-layer activations and gradients. */
typedef struct ref_net {
    const clnet_model *m;
    float *params, *state, *grads;
    float **out, **dout, **saved[CLNET__MAX_SAVED];
} ref_net;

static void ref_bind(const ref_net *r, int i, clnet__ref_io *io, int backward)
{
    const clnet__model_desc *d = r->m->desc;
    const clnet__graph *g = r->m->graph;
    const clnet__layer_desc *l = &d->layers[i];
    memset(io, 0, sizeof *io);
    io->n_in = l->n_in;
    for (int k = 0; k < l->n_in; k++) {
        io->in_shape[k] = clnet__model_input_shape(d, i, k);
        io->in[k] = l->from[k] < 0 ? x : r->out[l->from[k]];
        io->din[k] = backward && l->from[k] >= 0 ? r->dout[l->from[k]] : NULL;
    }
    io->out_shape = l->plan.out;
    io->out = r->out[i];
    io->dout = r->dout[i];
    int np = 0, ns = 0;
    for (int q = 0; q < g->n_params; q++)
        if (g->params[q].layer == i) {
            io->param[np] = r->params + g->params[q].offset;
            io->dparam[np++] = backward ? r->grads + g->params[q].offset : NULL;
        }
    for (int q = 0; q < g->n_state; q++)
        if (g->state[q].layer == i)
            io->state[ns++] = r->state + g->state[q].offset;
    for (int k = 0; k < l->plan.n_saved; k++)
        io->saved[k] = r->saved[k][i];
    /* The rule under test, stated independently of the executor: a frozen
     * batchnorm is in its inference form. */
    io->training = !(layer_frozen(r->m, i) && l->kind == CLNET_OP_BATCHNORM);
}

static ref_net ref_new(const clnet_model *m, const float *params, const float *state)
{
    const clnet__model_desc *d = m->desc;
    const clnet__graph *g = m->graph;
    ref_net r = {.m = m};
    r.params = malloc(g->params_count * sizeof(float));
    r.state = malloc(g->state_count * sizeof(float));
    r.grads = calloc(g->params_count, sizeof(float));
    memcpy(r.params, params, g->params_count * sizeof(float));
    memcpy(r.state, state, g->state_count * sizeof(float));
    r.out = calloc((size_t)d->n_layers, sizeof *r.out);
    r.dout = calloc((size_t)d->n_layers, sizeof *r.dout);
    for (int k = 0; k < CLNET__MAX_SAVED; k++)
        r.saved[k] = calloc((size_t)d->n_layers, sizeof *r.saved[k]);
    for (int i = 0; i < d->n_layers; i++) {
        size_t n = clnet__shape_count(d->layers[i].plan.out);
        r.out[i] = calloc(n, sizeof(float));
        r.dout[i] = calloc(n, sizeof(float));
        for (int k = 0; k < d->layers[i].plan.n_saved; k++)
            r.saved[k][i] = calloc(d->layers[i].plan.saved_count[k] + 1, sizeof(float));
    }
    return r;
}

static void ref_free(ref_net *r)
{
    int L = r->m->desc->n_layers;
    for (int i = 0; i < L; i++) {
        free(r->out[i]);
        free(r->dout[i]);
        for (int k = 0; k < CLNET__MAX_SAVED; k++)
            free(r->saved[k][i]);
    }
    for (int k = 0; k < CLNET__MAX_SAVED; k++)
        free(r->saved[k]);
    free(r->out), free(r->dout), free(r->params), free(r->state), free(r->grads);
}

/* Forward and mean loss; with grads, backward into r->grads (every
 * parameter's, frozen ones too: they are simply not applied). */
static double ref_pass(ref_net *r, int grads)
{
    const clnet__model_desc *d = r->m->desc;
    int L = d->n_layers;
    clnet__ref_io io;
    for (int i = 0; i < L; i++) {
        ref_bind(r, i, &io, 0);
        d->layers[i].op->ref_forward(d->layers[i].params, &io);
    }
    double stats[4] = {0};
    clnet__xent_ref(B, K, 0.0f, 1.0f, r->out[L - 1], y, grads ? r->dout[L - 1] : NULL,
                    stats);
    if (!grads)
        return stats[CLNET__STAT_LOSS_SUM] / B;
    for (int i = 0; i < L - 1; i++)
        memset(r->dout[i], 0, clnet__shape_count(d->layers[i].plan.out) * sizeof(float));
    memset(r->grads, 0, r->m->graph->params_count * sizeof(float));
    for (int i = L - 1; i >= 0; i--) {
        ref_bind(r, i, &io, 1);
        d->layers[i].op->ref_backward(d->layers[i].params, &io);
    }
    return stats[CLNET__STAT_LOSS_SUM] / B;
}

/* The mean loss at the given parameters with the running statistics as
 * they were (a pass updates the unfrozen ones), for finite differences. */
static double ref_loss_at(ref_net *r, const float *state0)
{
    memcpy(r->state, state0, r->m->graph->state_count * sizeof(float));
    return ref_pass(r, 0);
}

/* (b) One training step with the backbone frozen (conv1, bn1, conv2, bn2)
 * against the reference: forward through the references with the frozen
 * batchnorms in inference form, the loss, backward, then the reference
 * optimizer with the frozen mask. The trained parameters' updates and the
 * running statistics agree; a finite-difference check on the reference
 * loss (frozen parameters and frozen statistics held constant) confirms
 * its gradients. A second case freezes only bn1 so that a gradient flows
 * through a frozen (inference form) batchnorm into a trained conv1. */
static void reference_step(const char *const *prefixes, size_t n, int backbone)
{
    clnet_model *m = load(11);
    warm_stats(m);
    if (backbone)
        ck_assert_int_eq(clnet_model_set_backbone_frozen(m, 1), CLNET_OK);
    else
        ck_assert_int_eq(clnet_model_set_frozen(m, prefixes, n, 1), CLNET_OK);
    /* Fresh momentum, so the update is that of step 1 of the reference. */
    clnet_train_settings ts;
    clnet_model_get_train_settings(m, &ts);
    ts.momentum = 0.5f;
    ck_assert_int_eq(clnet_model_set_train_settings(m, &ts), CLNET_OK);
    const clnet__graph *g = m->graph;
    float *p0 = read_params(m), *s0 = read_state(m);
    make_batch(21);
    train_step(m);
    float *p1 = read_params(m), *s1 = read_state(m);

    ref_net r = ref_new(m, p0, s0);
    ref_pass(&r, 1);
    /* Finite differences of the reference loss for a few elements of every
     * trained parameter tensor (central, in float: loose tolerance). */
    float *state0 = malloc(g->state_count * sizeof(float));
    float *grads = malloc(g->params_count * sizeof(float));
    memcpy(state0, s0, g->state_count * sizeof(float));
    memcpy(grads, r.grads, g->params_count * sizeof(float));
    for (int i = 0; i < g->n_params; i++) {
        const clnet__param_ref *pr = &g->params[i];
        if (layer_frozen(m, pr->layer))
            continue;
        for (size_t k = 0; k < pr->count; k += pr->count / 3 + 1) {
            size_t e = pr->offset + k;
            const float h = 1e-3f;
            float keep = r.params[e];
            r.params[e] = keep + h;
            double lp = ref_loss_at(&r, state0);
            r.params[e] = keep - h;
            double lm = ref_loss_at(&r, state0);
            r.params[e] = keep;
            double fd = (lp - lm) / (2.0 * h);
            ck_assert_msg(fabs(fd - grads[e]) <= 2e-3 + 5e-2 * fabs(fd),
                          "%s[%zu]: reference gradient %.6g, finite difference %.6g",
                          pr->name, k, (double)grads[e], fd);
        }
    }
    /* The reference step: state as after the reference forward, then the
     * optimizer over the reference gradients with the frozen mask. */
    memcpy(r.state, s0, g->state_count * sizeof(float));
    ref_pass(&r, 1);
    clnet__optim_settings os = {
        .type = CLNET__OPTIM_SGD, .lr = ts.lr, .momentum = ts.momentum,
        .weight_decay = ts.weight_decay, .beta1 = ts.beta1, .beta2 = ts.beta2,
        .eps = ts.eps,
    };
    unsigned char *decay = calloc(g->params_count, 1), *fmask = calloc(g->params_count, 1);
    float *m1 = calloc(g->params_count, sizeof(float));
    for (int i = 0; i < g->n_params; i++) {
        memset(decay + g->params[i].offset, g->params[i].decay, g->params[i].count);
        memset(fmask + g->params[i].offset, layer_frozen(m, g->params[i].layer),
               g->params[i].count);
    }
    int nf = 0;
    clnet__optim_ref_step_frozen(&os, g->params_count, r.params, r.grads, m1, NULL, decay,
                                 fmask, ts.lr, 1, &nf);
    ck_assert_int_eq(nf, 0);
    /* Updates agree per tensor relative to the tensor's largest update;
     * frozen tensors are bit-identical on both sides. (A conv bias before
     * a training batchnorm has a zero gradient and no decay: no update.) */
    int moved = 0;
    for (int i = 0; i < g->n_params; i++) {
        const clnet__param_ref *pr = &g->params[i];
        double big = 0;
        for (size_t k = 0; k < pr->count; k++)
            big = fmax(big, fabs((double)r.params[pr->offset + k] - p0[pr->offset + k]));
        if (layer_frozen(m, pr->layer)) {
            ck_assert(memcmp(p1 + pr->offset, p0 + pr->offset, pr->count * 4) == 0);
            ck_assert(big == 0);
            continue;
        }
        moved += big > 0;
        for (size_t k = 0; k < pr->count; k++) {
            size_t e = pr->offset + k;
            double dev = (double)p1[e] - p0[e], ref = (double)r.params[e] - p0[e];
            ck_assert_msg(fabs(dev - ref) <= 2e-3 * big + 1e-6,
                          "%s[%zu]: device update %.8g, reference %.8g", pr->name, k,
                          dev, ref);
        }
    }
    ck_assert_int_ge(moved, 2);
    for (size_t e = 0; e < g->state_count; e++)
        ck_assert_msg(fabs((double)s1[e] - r.state[e]) <= 1e-5 + 1e-5 * fabs(r.state[e]),
                      "state[%zu]: device %.8g, reference %.8g", e, (double)s1[e],
                      (double)r.state[e]);
    ref_free(&r);
    free(p0), free(p1), free(s0), free(s1), free(state0), free(grads);
    free(decay), free(fmask), free(m1);
    clnet_model_free(m);
}

START_TEST(step_matches_reference_backbone_frozen)
{
    reference_step(NULL, 0, 1);
}
END_TEST

START_TEST(step_matches_reference_through_frozen_bn)
{
    const char *const bn1[] = {"bn1"};
    reference_step(bn1, 1, 0);
}
END_TEST

/* (c) A frozen batchnorm's training forward is its inference forward: the
 * logits of a training-mode forward with bn1 and bn2 frozen equal the
 * eval-mode ones bit for bit, and the step's loss equals the eval loss. Not
 * frozen, the two differ (the statistics were moved away from the batch's
 * in warm_stats), so the comparison can fail. */
START_TEST(frozen_bn_training_forward_is_inference)
{
    clnet_model *m = load(3);
    warm_stats(m);
    clnet__graph *g = m->graph;
    size_t nl = (size_t)B * K;
    float eval[B * K], train[B * K];
    make_batch(8);
    for (int frozen = 0; frozen < 2; frozen++) {
        const char *const bn[] = {"bn"};
        ck_assert_int_eq(clnet_model_set_frozen(m, bn, 1, frozen), CLNET_OK);
        ck_assert_int_eq(clnet_model_set_batch(m, x, y, B), CLNET_OK);
        ck_assert_int_eq(clnet_model_eval_step(m), CLNET_OK);
        ck_assert_int_eq(clnet__buf_read(ctx, g->logits.buf, g->logits.off * 4,
                                         nl * 4, eval), CLNET_OK);
        /* The same input slot, now in training mode. */
        ck_assert_int_eq(clnet__graph_forward(g, 1, 77), CLNET_OK);
        ck_assert_int_eq(clnet__buf_read(ctx, g->logits.buf, g->logits.off * 4,
                                         nl * 4, train), CLNET_OK);
        int same = memcmp(eval, train, sizeof eval) == 0;
        ck_assert_msg(same == frozen, "bn %sfrozen: training logits %s inference's",
                      frozen ? "" : "not ", same ? "equal" : "differ from");
    }
    /* Frozen: a whole training step's loss is the eval loss. The forward
     * above with unfrozen statistics moved them: read the loss fresh. */
    clnet_stats st;
    ck_assert_int_eq(clnet_model_read_stats(m, &st, 1), CLNET_OK);
    ck_assert_int_eq(clnet_model_set_batch(m, x, y, B), CLNET_OK);
    ck_assert_int_eq(clnet_model_eval_step(m), CLNET_OK);
    clnet_stats ev, tr;
    ck_assert_int_eq(clnet_model_read_stats(m, &ev, 1), CLNET_OK);
    train_step(m);
    ck_assert_int_eq(clnet_model_read_stats(m, &tr, 1), CLNET_OK);
    ck_assert_msg(ev.loss_sum == tr.loss_sum, "eval loss %.9g, training step loss %.9g",
                  ev.loss_sum, tr.loss_sum);
    clnet_model_free(m);
}
END_TEST

/* Backward skips what nothing trained needs: with the backbone frozen only
 * the layers from fc on want gradients; with bn1 alone frozen, everything
 * from conv1 does (conv1 trains through it). */
START_TEST(backward_skips_frozen_prefix)
{
    clnet_model *m = load(1);
    const clnet__graph *g = m->graph;
    const clnet__model_desc *d = m->desc;
    for (int i = 0; i < d->n_layers; i++)
        ck_assert(g->layers[i].grad_wanted);
    ck_assert_int_eq(clnet_model_set_backbone_frozen(m, 1), CLNET_OK);
    for (int i = 0; i < d->n_layers; i++) {
        int head = strcmp(d->layers[i].name, "fc") == 0;
        ck_assert_int_eq(g->layers[i].frozen, !head);
        ck_assert_int_eq(g->layers[i].grad_wanted, head);
    }
    ck_assert_uint_eq(clnet_model_frozen_params(m), 4 * 2 * 9 + 4 + 8 + 4 * 4 * 9 + 4 + 8);
    ck_assert_int_eq(clnet_model_set_backbone_frozen(m, 0), CLNET_OK);
    const char *const bn1[] = {"bn1"};
    ck_assert_int_eq(clnet_model_set_frozen(m, bn1, 1, 1), CLNET_OK);
    for (int i = 0; i < d->n_layers; i++)
        ck_assert(g->layers[i].grad_wanted);
    /* Everything frozen (""): no backward at all, and a step still runs. */
    const char *const all[] = {""};
    ck_assert_int_eq(clnet_model_set_frozen(m, all, 1, 1), CLNET_OK);
    for (int i = 0; i < d->n_layers; i++)
        ck_assert(!g->layers[i].grad_wanted);
    ck_assert_uint_eq(clnet_model_frozen_params(m), g->params_count);
    float *p0 = read_params(m), *s0 = read_state(m);
    make_batch(4);
    train_step(m);
    float *p1 = read_params(m), *s1 = read_state(m);
    ck_assert(memcmp(p0, p1, g->params_count * 4) == 0);
    ck_assert(memcmp(s0, s1, g->state_count * 4) == 0);
    free(p0), free(p1), free(s0), free(s1);
    clnet_model_free(m);
}
END_TEST

/* (d) Errors: a prefix that matches no layer is CLNET_ENOTFOUND naming it,
 * and nothing changes (the valid prefix before it is not applied either);
 * NULL arguments; a model with no backbone. */
START_TEST(unknown_prefix_is_refused)
{
    clnet_model *m = load(1);
    const char *const p[] = {"conv1", "layer9_"};
    ck_assert_int_eq(clnet_model_set_frozen(m, p, 2, 1), CLNET_ENOTFOUND);
    ck_assert_msg(strstr(clnet_errmsg(ctx), "'layer9_'") != NULL, "message: %s",
                  clnet_errmsg(ctx));
    ck_assert_msg(strstr(clnet_errmsg(ctx), "conv1, bn1") != NULL, "message: %s",
                  clnet_errmsg(ctx));
    ck_assert_int_eq(clnet_model_layer_frozen(m, "conv1"), 0);
    ck_assert_uint_eq(clnet_model_frozen_params(m), 0);
    const char *const nul[] = {NULL};
    ck_assert_int_eq(clnet_model_set_frozen(m, nul, 1, 1), CLNET_EINVAL);
    ck_assert_int_eq(clnet_model_set_frozen(m, NULL, 1, 1), CLNET_EINVAL);
    ck_assert_int_eq(clnet_model_set_frozen(NULL, p, 1, 1), CLNET_EINVAL);
    ck_assert_int_eq(clnet_model_set_frozen(m, NULL, 0, 1), CLNET_OK);
    ck_assert_int_eq(clnet_model_set_backbone_frozen(NULL, 1), CLNET_EINVAL);
    ck_assert_int_eq(clnet_model_layer_frozen(NULL, "conv1"), -1);
    clnet_model_free(m);

    static const char one[] = "[net]\nchannels=1\nheight=2\nwidth=2\nclasses=2\nbatch=2\n"
                              "[relu]\nname=act\n[dense]\nname=fc\noutputs=2\n";
    ck_assert_int_eq(clnet_model_load_string(ctx, "one-layer", one, NULL, &m), CLNET_OK);
    ck_assert_int_eq(clnet_model_set_backbone_frozen(m, 1), CLNET_ENOTFOUND);
    ck_assert_msg(strstr(clnet_errmsg(ctx), "no backbone") != NULL, "message: %s",
                  clnet_errmsg(ctx));
    clnet_model_free(m);
}
END_TEST

/* Checkpoints store the frozen set: opening one restores it, loading one
 * into a model replaces the model's flags (an empty set unfreezes), and a
 * frozen layer named in the file that the model lacks is refused before
 * anything changes. */
START_TEST(checkpoint_keeps_frozen_set)
{
    char dir[] = "/tmp/clnet-freeze-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char frozen_path[256], plain_path[256];
    snprintf(frozen_path, sizeof frozen_path, "%s/frozen.safetensors", dir);
    snprintf(plain_path, sizeof plain_path, "%s/plain.safetensors", dir);
    clnet_model *m = load(1);
    ck_assert_int_eq(clnet_model_save(m, plain_path, NULL, 0), CLNET_OK);
    ck_assert_int_eq(clnet_model_set_backbone_frozen(m, 1), CLNET_OK);
    ck_assert_int_eq(clnet_model_save(m, frozen_path, NULL, 0), CLNET_OK);

    clnet_model *back = NULL;
    ck_assert_msg(clnet_model_open_checkpoint(ctx, frozen_path, NULL, &back) == CLNET_OK,
                  "%s", clnet_errmsg(ctx));
    ck_assert_str_eq(clnet_model_meta(back, "train.frozen"),
                     "conv1,bn1,relu1,conv2,bn2,relu2");
    for (int i = 0; i < m->desc->n_layers; i++)
        ck_assert_int_eq(layer_frozen(back, i), layer_frozen(m, i));
    ck_assert(!back->graph->layers[0].grad_wanted);
    /* Resumed training keeps the backbone. */
    float *p0 = read_params(back), *s0 = read_state(back);
    make_batch(2);
    train_step(back);
    float *p1 = read_params(back), *s1 = read_state(back);
    check_frozen_kept(back, p0, p1, s0, s1, "after open_checkpoint");
    free(p0), free(p1), free(s0), free(s1);
    /* A file with nothing frozen unfreezes. */
    ck_assert_int_eq(clnet_model_load_checkpoint(back, plain_path), CLNET_OK);
    ck_assert_uint_eq(clnet_model_frozen_params(back), 0);
    ck_assert_int_eq(clnet_model_load_checkpoint(back, frozen_path), CLNET_OK);
    ck_assert_int_eq(clnet_model_layer_frozen(back, "bn2"), 1);
    clnet_model_free(back);

    /* The same parameters under other names for the relus: the tensors
     * load, the frozen "act1" does not exist in m, and m is unchanged. */
    char other[sizeof cfg + 16], other_path[256];
    snprintf(other, sizeof other, "%s", cfg);
    char *r1 = strstr(other, "name=relu1"), *r2 = strstr(other, "name=relu2");
    memcpy(r1 + 5, "act1 ", 5);
    memcpy(r2 + 5, "act2 ", 5);
    r1[9] = r2[9] = '\n';
    ck_assert_int_eq(clnet_model_load_string(ctx, "renamed", other, NULL, &back), CLNET_OK);
    ck_assert_int_eq(clnet_model_set_backbone_frozen(back, 1), CLNET_OK);
    snprintf(other_path, sizeof other_path, "%s/renamed.safetensors", dir);
    ck_assert_int_eq(clnet_model_save(back, other_path, NULL, 0), CLNET_OK);
    clnet_model_free(back);
    ck_assert_int_eq(clnet_model_set_backbone_frozen(m, 0), CLNET_OK);
    float *before = read_params(m);
    ck_assert_int_eq(clnet_model_load_checkpoint(m, other_path), CLNET_EFORMAT);
    ck_assert_msg(strstr(clnet_errmsg(ctx), "'act1'") != NULL, "message: %s",
                  clnet_errmsg(ctx));
    float *after = read_params(m);
    ck_assert(memcmp(before, after, m->graph->params_count * 4) == 0);
    ck_assert_uint_eq(clnet_model_frozen_params(m), 0);
    free(before), free(after);
    clnet_model_free(m);
    unlink(frozen_path);
    unlink(plain_path);
    unlink(other_path);
    rmdir(dir);
}
END_TEST

int main(void)
{
    ctx = clnet_test_ctx();
    if (!ctx)
        return 1;
    Suite *s = suite_create("freeze");
    TCase *tc = tcase_create("freeze");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, frozen_prefix_is_bit_identical_sgd);
    tcase_add_test(tc, frozen_prefix_is_bit_identical_adam);
    tcase_add_test(tc, step_matches_reference_backbone_frozen);
    tcase_add_test(tc, step_matches_reference_through_frozen_bn);
    tcase_add_test(tc, frozen_bn_training_forward_is_inference);
    tcase_add_test(tc, backward_skips_frozen_prefix);
    tcase_add_test(tc, unknown_prefix_is_refused);
    tcase_add_test(tc, checkpoint_keeps_frozen_set);
    suite_add_tcase(s, tc);
    int rc = clnet_test_run(s);
    clnet_ctx_free(ctx);
    return rc;
}
