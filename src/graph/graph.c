/* Binding a model description to device memory: flat parameter buffers and
 * the liveness-planned arena. */
#include "graph/graph.h"

#include "core/ctx.h"
#include "graph/memplan.h"
#include "ops/loss.h"
#include "train/optim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Arena offsets are aligned to 64 floats (256 bytes): harmless on CPUs and
 * what GPU memory transactions like. */
#define ARENA_ALIGN 256

/* Lifetimes on the step schedule. Without recompute: forward of layer i
 * at time i, the loss at time L, backward of layer i at time 2L - i.
 *
 * With recompute (recompute.c) each segment s gets a block of times of its
 * own, in segment order: its layers' forward, a turn, their backward, as if
 * the segment ran alone. The first forward and the replay of a segment's
 * forward land on the same times, which is what lets every segment's
 * interior share memory with every other segment's: the real schedule
 * (forward of all segments, then each segment's replay and backward from
 * the last) never has two segments' interiors live at once. A tensor that
 * lives across segments spans every block it is live in: a boundary's
 * output (read by the next segment in forward and replay, and by its own
 * backward) from its forward to the end, its gradient (written in the next
 * segment's backward) over both blocks. Without recompute there is one
 * segment and this is the plain schedule. */
typedef struct schedule {
    int n_seg;
    int *seg;     /* layer -> segment */
    int *base;    /* segment -> its first time */
    int *len;     /* segment -> layers */
    int *first;   /* segment -> first layer */
    int end;      /* the last time */
} schedule;

static void schedule_free(schedule *sc)
{
    free(sc->seg);
    free(sc->base);
    free(sc->len);
    free(sc->first);
}

static int schedule_make(const clnet__model_desc *m, int training, schedule *sc)
{
    int L = m->n_layers;
    memset(sc, 0, sizeof *sc);
    sc->seg = malloc((size_t)L * sizeof(int));
    sc->base = malloc((size_t)L * sizeof(int));
    sc->len = malloc((size_t)L * sizeof(int));
    sc->first = malloc((size_t)L * sizeof(int));
    int *last = malloc((size_t)L * sizeof(int));
    if (!sc->seg || !sc->base || !sc->len || !sc->first || !last) {
        free(last);
        schedule_free(sc);
        return -1;
    }
    sc->n_seg = clnet__recompute_segments(m, training, last);
    int t = 0, i = 0;
    for (int s = 0; s < sc->n_seg; s++) {
        sc->first[s] = i;
        sc->len[s] = last[s] - i + 1;
        sc->base[s] = t;
        for (; i <= last[s]; i++)
            sc->seg[i] = s;
        t += 2 * sc->len[s] + 1;
    }
    sc->end = t - 1;
    free(last);
    return 0;
}

static int t_fwd(const schedule *sc, int i)
{
    int s = sc->seg[i];
    return sc->base[s] + i - sc->first[s];
}
static int t_turn(const schedule *sc, int s) { return sc->base[s] + sc->len[s]; }
static int t_bwd(const schedule *sc, int i)
{
    int s = sc->seg[i];
    return sc->base[s] + 2 * sc->len[s] - (i - sc->first[s]);
}
static int t_block_end(const schedule *sc, int s) { return sc->base[s] + 2 * sc->len[s]; }
/* Layer i ends a segment that backward replays. */
static int is_boundary(const schedule *sc, const clnet__model_desc *m, int i)
{
    return i < m->n_layers - 1 && sc->seg[i + 1] != sc->seg[i];
}

/* Index of the latest layer that reads layer i's output (-1 if none). */
static int last_consumer(const clnet__model_desc *m, int i)
{
    int last = -1;
    for (int j = i + 1; j < m->n_layers; j++)
        for (int k = 0; k < m->layers[j].n_in; k++)
            if (m->layers[j].from[k] == i)
                last = j;
    return last;
}

static void param_name(char *dst, size_t cap, const char *layer, const char *p)
{
    snprintf(dst, cap, "%s.%s", layer, p);
}

static clnet_status collect_params(clnet__graph *g)
{
    const clnet__model_desc *m = g->desc;
    int np = 0, ns = 0;
    for (int i = 0; i < m->n_layers; i++) {
        np += m->layers[i].plan.n_params;
        ns += m->layers[i].plan.n_state;
    }
    g->params = calloc((size_t)np + 1, sizeof *g->params);
    g->state = calloc((size_t)ns + 1, sizeof *g->state);
    if (!g->params || !g->state)
        return clnet__fail(g->ctx, CLNET_ENOMEM, "out of host memory");
    for (int i = 0; i < m->n_layers; i++) {
        const clnet__op_plan *p = &m->layers[i].plan;
        for (int k = 0; k < p->n_params; k++) {
            clnet__param_ref *r = &g->params[g->n_params++];
            param_name(r->name, sizeof r->name, m->layers[i].name, p->param_name[k]);
            r->layer = i;
            r->dims = p->param[k];
            r->count = clnet__dims_count(p->param[k]);
            r->offset = g->params_count;
            r->init = p->param_init[k];
            r->decay = p->param_decay[k];
            g->params_count += r->count;
        }
        for (int k = 0; k < p->n_state; k++) {
            clnet__param_ref *r = &g->state[g->n_state++];
            param_name(r->name, sizeof r->name, m->layers[i].name, p->state_name[k]);
            r->layer = i;
            r->dims = p->state[k];
            r->count = clnet__dims_count(p->state[k]);
            r->offset = g->state_count;
            r->init = p->state_init[k];
            g->state_count += r->count;
        }
    }
    return CLNET_OK;
}

/* Per layer, the arena intervals: out, dout, saved[], work. */
enum { IV_OUT, IV_DOUT, IV_SAVED0, IV_WORK = IV_SAVED0 + CLNET__MAX_SAVED, IV_PER_LAYER };

static void lifetimes(const clnet__model_desc *m, int training,
                      const schedule *sc, clnet__interval *iv)
{
    int L = m->n_layers;
    int fp16 = m->precision == CLNET_PRECISION_FP16_STORAGE ||
               m->precision == CLNET_PRECISION_FP16;
    /* fp16: the gradients between layers half as well (loss scaling keeps
     * them above half's subnormals; src/train/loss_scale.h). */
    int grad_half = m->precision == CLNET_PRECISION_FP16;
    for (int i = 0; i < L; i++) {
        const clnet__layer_desc *ld = &m->layers[i];
        const clnet__op_plan *p = &ld->plan;
        clnet__interval *v = &iv[(size_t)i * IV_PER_LAYER];
        int last = last_consumer(m, i), s = sc->seg[i];
        int boundary = training && is_boundary(sc, m, i);
        /* fp16-storage: every output as half but the logits, which the
         * loss reads in fp32. Gradients stay fp32: a half gradient loses
         * bits below 6e-5 (where per-element gradients often are: half's
         * subnormals) and in batchnorm's cancellations, which only loss
         * scaling would avoid; they live from a layer's consumer's backward
         * to its own, so they add little to the peak. */
        int half = fp16 && i != L - 1;
        v[IV_OUT].half = (unsigned char)half;
        v[IV_OUT].bytes = clnet__shape_count(p->out) * (half ? 2 : sizeof(float));
        v[IV_OUT].start = t_fwd(sc, i);
        if (training)
            v[IV_OUT].end = boundary ? sc->end : t_bwd(sc, i);
        else
            v[IV_OUT].end = last >= 0 ? t_fwd(sc, last) : L;
        if (i == L - 1 && v[IV_OUT].end < L)
            v[IV_OUT].end = L;
        if (training) {
            v[IV_DOUT].half = (unsigned char)(grad_half && i != L - 1);
            v[IV_DOUT].bytes = clnet__shape_count(p->out) * (v[IV_DOUT].half ? 2 : sizeof(float));
            if (boundary) { /* written by the next segment's backward */
                v[IV_DOUT].start = sc->base[s];
                v[IV_DOUT].end = t_block_end(sc, s + 1);
            } else {
                v[IV_DOUT].start = i == L - 1 ? t_turn(sc, s)
                                  : last >= 0 ? t_bwd(sc, last) : t_bwd(sc, i);
                v[IV_DOUT].end = t_bwd(sc, i);
            }
            /* Saved tensors a replay reuses live from the first forward
             * to backward, across the later segments. */
            int kept = sc->n_seg > 1 && ld->op->replay_reads_saved;
            for (int k = 0; k < p->n_saved; k++) {
                v[IV_SAVED0 + k].bytes = p->saved_count[k] * sizeof(float);
                v[IV_SAVED0 + k].start = t_fwd(sc, i);
                v[IV_SAVED0 + k].end = kept ? sc->end : t_bwd(sc, i);
            }
        }
        /* Scratch lives from forward to backward: an op may keep what it
         * computed in forward there (e.g. im2col columns). */
        v[IV_WORK].bytes = clnet__work_bytes(p, fp16);
        v[IV_WORK].half = (unsigned char)(fp16 && p->work_half);
        v[IV_WORK].start = t_fwd(sc, i);
        v[IV_WORK].end = training ? t_bwd(sc, i) : t_fwd(sc, i);
    }
    /* A relu fused into layer f (fuse.c): f writes the relu's output in its
     * forward and reads the relu's output gradient in its backward, and
     * its own output and gradient are never used. (f and the relu are in
     * one segment: recompute.c never puts a boundary between them.) */
    for (int j = 0; j < L; j++) {
        int f = clnet__fused_into(m, j);
        if (f < 0)
            continue;
        clnet__interval *vf = &iv[(size_t)f * IV_PER_LAYER];
        clnet__interval *vj = &iv[(size_t)j * IV_PER_LAYER];
        vf[IV_OUT].bytes = vf[IV_DOUT].bytes = 0;
        vj[IV_OUT].start = t_fwd(sc, f);
        /* f's backward reads the relu's output (its mask) and gradient,
         * one step after the relu's own backward time: both live to it.
         * (Without this, f's input gradient could take the output's
         * bytes, which the kernel reads as it writes: harmless only when
         * both have the same element size.) */
        if (training && !is_boundary(sc, m, j)) {
            vj[IV_DOUT].end = t_bwd(sc, f);
            if (vj[IV_OUT].end < t_bwd(sc, f))
                vj[IV_OUT].end = t_bwd(sc, f);
        }
    }
}

static clnet__tensor arena_at(const clnet__graph *g, const clnet__interval *v)
{
    clnet__tensor t = {0};
    if (v->bytes) {
        t.buf = g->arena[v->chunk];
        t.half = v->half;
        t.off = v->offset / clnet__esize(t);
    }
    return t;
}

static void bind_layers(clnet__graph *g, const clnet__interval *iv)
{
    const clnet__model_desc *m = g->desc;
    int L = m->n_layers;
    int pi = 0, si = 0;
    for (int i = 0; i < L; i++) {
        const clnet__layer_desc *ld = &m->layers[i];
        const clnet__op_plan *p = &ld->plan;
        clnet__op_io *io = &g->layers[i].io;
        const clnet__interval *v = &iv[(size_t)i * IV_PER_LAYER];
        memset(io, 0, sizeof *io);
        io->n_in = ld->n_in;
        for (int k = 0; k < ld->n_in; k++) {
            int f = ld->from[k];
            io->in_shape[k] = clnet__model_input_shape(m, i, k);
            if (f < 0) {
                io->in[k] = g->input; /* no gradient for the network input */
            } else {
                const clnet__interval *fv = &iv[(size_t)f * IV_PER_LAYER];
                io->in[k] = arena_at(g, &fv[IV_OUT]);
                if (g->training)
                    io->din[k] = arena_at(g, &fv[IV_DOUT]);
            }
        }
        io->out_shape = p->out;
        io->out = arena_at(g, &v[IV_OUT]);
        if (g->training)
            io->dout = arena_at(g, &v[IV_DOUT]);
        for (int k = 0; k < p->n_params; k++, pi++) {
            io->param[k] = (clnet__tensor){g->params_buf, g->params[pi].offset, 0};
            if (g->training)
                io->dparam[k] = (clnet__tensor){g->grads_buf, g->params[pi].offset, 0};
        }
        for (int k = 0; k < p->n_state; k++, si++)
            io->state[k] = (clnet__tensor){g->state_buf, g->state[si].offset, 0};
        for (int k = 0; k < p->n_saved && g->training; k++)
            io->saved[k] = arena_at(g, &v[IV_SAVED0 + k]);
        io->work = arena_at(g, &v[IV_WORK]);
        g->layers[i].out_grad_first_use = last_consumer(m, i);
    }
    for (int j = 0; j < L; j++) {
        int f = clnet__fused_into(m, j);
        if (f < 0)
            continue;
        clnet__op_io *fi = &g->layers[f].io;
        fi->out = g->layers[j].io.out;
        fi->dout = g->layers[j].io.dout;
        fi->relu_after = 1;
        g->layers[j].fused = 1;
    }
    g->logits = g->layers[L - 1].io.out;
    g->dlogits = g->layers[L - 1].io.dout;
}

/* The io buffer's layout: input x2 | labels x2 | stats (the counters and
 * the optimizer's non-finite record after them) | xent scratch, each
 * 64-float aligned. Returns its size in floats; fills g's views when g is
 * given. */
static size_t io_layout(const clnet__model_desc *m, int batch, clnet__graph *g)
{
    size_t in_count = (size_t)batch * m->channels * m->height * m->width;
    size_t a = 64, off = 0;
    clnet__tensor input[2], labels[2], stats, xent;
    for (int s = 0; s < 2; s++) {
        input[s] = (clnet__tensor){NULL, off, 0};
        off += (in_count + a - 1) / a * a;
        labels[s] = (clnet__tensor){NULL, off, 0};
        off += ((size_t)batch + a - 1) / a * a;
    }
    stats = (clnet__tensor){NULL, off, 0};
    off += a;
    xent = (clnet__tensor){NULL, off, 0};
    off += clnet__xent_work_count(batch) + a;
    if (g) {
        for (int s = 0; s < 2; s++) {
            g->input_slot[s] = input[s];
            g->labels_slot[s] = labels[s];
        }
        g->stats = stats;
        g->xent_work = xent;
    }
    return off;
}

static void flat_counts(const clnet__model_desc *m, size_t *params, size_t *state)
{
    *params = *state = 0;
    for (int i = 0; i < m->n_layers; i++) {
        const clnet__op_plan *p = &m->layers[i].plan;
        for (int k = 0; k < p->n_params; k++)
            *params += clnet__dims_count(p->param[k]);
        for (int k = 0; k < p->n_state; k++)
            *state += clnet__dims_count(p->state[k]);
    }
}

/* The arena plan for a description: intervals placed in chunks of at most
 * cap bytes. iv has n_layers * IV_PER_LAYER entries, chunk_bytes as many. */
static size_t plan_arena(const clnet__model_desc *m, int training, size_t cap,
                         clnet__interval *iv, size_t *chunk_bytes)
{
    schedule sc;
    if (schedule_make(m, training, &sc) != 0)
        return (size_t)-1;
    lifetimes(m, training, &sc, iv);
    schedule_free(&sc);
    return clnet__memplan(iv, (size_t)m->n_layers * IV_PER_LAYER, ARENA_ALIGN,
                          cap, chunk_bytes);
}

static const char *const iv_names[IV_PER_LAYER] = {
    [IV_OUT] = "output", [IV_DOUT] = "output gradient", [IV_WORK] = "scratch",
};

clnet_status clnet__graph_need_of(clnet_ctx *ctx, const clnet__model_desc *m,
                                  int training, size_t cap, clnet__graph_need *out)
{
    memset(out, 0, sizeof *out);
    size_t pc, sc;
    flat_counts(m, &pc, &sc);
    out->params = pc * sizeof(float);
    out->grads = training ? out->params : 0;
    out->state = sc * sizeof(float);
    out->io = io_layout(m, m->batch, NULL) * sizeof(float);
    size_t n = (size_t)m->n_layers * IV_PER_LAYER;
    clnet__interval *iv = calloc(n, sizeof *iv);
    size_t *chunks = calloc(n, sizeof *chunks);
    size_t nc = iv && chunks ? plan_arena(m, training, cap, iv, chunks) : (size_t)-1;
    if (nc == (size_t)-1) {
        free(iv);
        free(chunks);
        return clnet__fail(ctx, CLNET_ENOMEM, "out of host memory");
    }
    out->n_chunks = nc;
    for (size_t c = 0; c < nc; c++) {
        out->arena += chunks[c];
        out->device_arena += clnet__buf_alloc_bytes(ctx, chunks[c]);
    }
    out->device_io = clnet__buf_alloc_bytes(ctx, out->io);
    out->device = out->device_arena + out->device_io;
    size_t flat[] = {out->params, out->grads, out->state};
    for (size_t i = 0; i < sizeof flat / sizeof flat[0]; i++)
        if (flat[i])
            out->device += clnet__buf_alloc_bytes(ctx, flat[i]);
    for (size_t i = 0; i < n; i++)
        if (iv[i].bytes > out->largest) {
            out->largest = iv[i].bytes;
            int layer = (int)(i / IV_PER_LAYER), kind = (int)(i % IV_PER_LAYER);
            snprintf(out->largest_what, sizeof out->largest_what, "layer %s's %s",
                     m->layers[layer].name,
                     iv_names[kind] ? iv_names[kind] : "saved tensor");
        }
    free(iv);
    free(chunks);
    return CLNET_OK;
}

static clnet_status alloc_flat(clnet__graph *g)
{
    clnet_ctx *ctx = g->ctx;
    clnet_status st = CLNET_OK;
    if (g->params_count)
        st = clnet__buf_create(ctx, g->params_count * sizeof(float), &g->params_buf);
    if (st == CLNET_OK && g->params_count && g->training)
        st = clnet__buf_create(ctx, g->params_count * sizeof(float), &g->grads_buf);
    if (st == CLNET_OK && g->state_count)
        st = clnet__buf_create(ctx, g->state_count * sizeof(float), &g->state_buf);
    if (st != CLNET_OK)
        return st;
    size_t off = io_layout(g->desc, g->batch, g);
    st = clnet__buf_create(ctx, off * sizeof(float), &g->io_buf);
    if (st != CLNET_OK)
        return st;
    for (int s = 0; s < 2; s++)
        g->input_slot[s].buf = g->labels_slot[s].buf = g->io_buf;
    g->stats.buf = g->xent_work.buf = g->io_buf;
    clnet__graph_use_slot(g, 0);
    return clnet__fill(ctx, g->stats, CLNET__STAT_COUNT + CLNET__NONFINITE_FLOATS, 0.0f);
}

/* The arena's chunks, one buffer each (usually one). */
static clnet_status alloc_arena(clnet__graph *g, clnet__interval *iv)
{
    clnet_ctx *ctx = g->ctx;
    const clnet__model_desc *m = g->desc;
    size_t n = (size_t)m->n_layers * IV_PER_LAYER;
    size_t cap = ctx->ocl.desc.max_alloc_bytes;
    size_t *chunks = calloc(n, sizeof *chunks);
    size_t nc = chunks ? plan_arena(m, g->training, cap, iv, chunks) : (size_t)-1;
    if (nc == (size_t)-1) {
        free(chunks);
        return clnet__fail(ctx, CLNET_ENOMEM, "out of host memory");
    }
    for (size_t i = 0; i < n; i++)
        g->naive_bytes += iv[i].bytes;
    g->arena = calloc(nc ? nc : 1, sizeof *g->arena);
    clnet_status st = g->arena ? CLNET_OK
                               : clnet__fail(ctx, CLNET_ENOMEM, "out of host memory");
    if (st == CLNET_OK && nc == 0) /* a model of views only: one small buffer */
        st = clnet__buf_create(ctx, 256, &g->arena[g->n_arena++]);
    for (size_t c = 0; c < nc && st == CLNET_OK; c++) {
        st = clnet__buf_create(ctx, chunks[c], &g->arena[c]);
        if (st == CLNET_OK) {
            g->n_arena++;
            g->arena_bytes += chunks[c];
        }
    }
    free(chunks);
    if (st == CLNET_OK && nc > 1)
        clnet__log(ctx, CLNET_LOG_INFO, "activation memory of batch %d split into "
                   "%zu buffers of at most %zu MiB (the device's limit per buffer)",
                   g->batch, nc, cap >> 20);
    return st;
}

clnet_status clnet__graph_create(clnet_ctx *ctx, const clnet__model_desc *desc,
                                 int batch, int training, clnet__graph **out)
{
    *out = NULL;
    if (!desc || desc->n_layers < 1)
        return clnet__fail(ctx, CLNET_EINVAL, "empty model");
    if (batch != desc->batch)
        return clnet__fail(ctx, CLNET_EINTERNAL,
                           "graph batch %d differs from the planned batch %d",
                           batch, desc->batch);
    clnet__graph *g = calloc(1, sizeof *g);
    if (!g)
        return clnet__fail(ctx, CLNET_ENOMEM, "out of host memory");
    g->ctx = ctx;
    g->desc = desc;
    g->batch = batch;
    g->training = training;
    int L = desc->n_layers;
    g->layers = calloc((size_t)L, sizeof *g->layers);
    clnet__interval *iv = calloc((size_t)L * IV_PER_LAYER, sizeof *iv);
    clnet_status st = (!g->layers || !iv)
                          ? clnet__fail(ctx, CLNET_ENOMEM, "out of host memory")
                          : collect_params(g);
    if (st == CLNET_OK)
        st = alloc_flat(g);
    if (st == CLNET_OK) {
        st = alloc_arena(g, iv);
        if (st != CLNET_OK)
            clnet__fail_prefix(ctx, st, "activation memory for batch %d", batch);
    }
    if (st == CLNET_OK) {
        g->segment_last = malloc((size_t)L * sizeof *g->segment_last);
        if (!g->segment_last)
            st = clnet__fail(ctx, CLNET_ENOMEM, "out of host memory");
        else
            g->n_segments = clnet__recompute_segments(desc, training, g->segment_last);
    }
    if (st == CLNET_OK) {
        bind_layers(g, iv);
        clnet__graph_update_frozen(g); /* nothing frozen yet */
    }
    free(iv);
    if (st != CLNET_OK) {
        clnet__graph_free(g);
        return st;
    }
    *out = g;
    return CLNET_OK;
}

void clnet__graph_free(clnet__graph *g)
{
    if (!g)
        return;
    for (size_t c = 0; c < g->n_arena; c++)
        clnet__buf_release(g->ctx, g->arena[c]);
    free(g->arena);
    clnet__buf_release(g->ctx, g->params_buf);
    clnet__buf_release(g->ctx, g->grads_buf);
    clnet__buf_release(g->ctx, g->state_buf);
    clnet__buf_release(g->ctx, g->io_buf);
    free(g->params);
    free(g->state);
    free(g->layers);
    free(g->segment_last);
    free(g);
}

void clnet__graph_use_slot(clnet__graph *g, int slot)
{
    g->input = g->input_slot[slot & 1];
    g->labels = g->labels_slot[slot & 1];
}

void clnet__graph_memory(const clnet__graph *g, size_t *planned, size_t *naive)
{
    size_t flat = (g->params_count * (g->training ? 2 : 1) + g->state_count) *
                  sizeof(float);
    if (planned)
        *planned = g->arena_bytes + flat;
    if (naive)
        *naive = g->naive_bytes + flat;
}
