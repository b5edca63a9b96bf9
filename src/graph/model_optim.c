/* Binding the model's flat parameter/gradient buffers to an optimizer. */
#include "graph/model_impl.h"

#include "core/core.h"
#include "ops/loss.h"
#include "train/loss_scale.h"
#include "train/optim.h"

#include <stdlib.h>

static clnet__optim_type optim_type(clnet_optimizer o)
{
    return o == CLNET_OPTIM_ADAM    ? CLNET__OPTIM_ADAM
           : o == CLNET_OPTIM_ADAMW ? CLNET__OPTIM_ADAMW
                                    : CLNET__OPTIM_SGD;
}

float clnet__model_loss_scale(const clnet_model *m)
{
    /* fp16 gradients need it: on unless the recipe starts it elsewhere. */
    if (m->recipe.loss_scale == 0.0f && m->settings.precision == CLNET_PRECISION_FP16)
        return CLNET__LSCALE_INIT;
    return m->recipe.loss_scale;
}

clnet_status clnet__model_optim_create(clnet_model *m)
{
    clnet__graph *g = m->graph;
    if (!g->params_count)
        return CLNET_OK;
    const clnet_train_settings *r = &m->recipe;
    clnet__optim_settings s = {
        .type = optim_type(r->optimizer), .lr = r->lr, .momentum = r->momentum,
        .nesterov = r->nesterov, .weight_decay = r->weight_decay,
        .beta1 = r->beta1, .beta2 = r->beta2, .eps = r->eps,
        .clip_norm = r->clip_norm,
        .loss_scale = clnet__model_loss_scale(m), .loss_scale_interval = r->loss_scale_interval,
    };
    if (s.type != CLNET__OPTIM_SGD) {
        s.momentum = 0;
        s.nesterov = 0;
    }
    clnet__optim_range *ranges = calloc((size_t)g->n_params + 1, sizeof *ranges);
    if (!ranges)
        return clnet__fail(m->ctx, CLNET_ENOMEM, "out of host memory");
    size_t nr = 0;
    for (int i = 0; i < g->n_params; i++)
        if (g->params[i].decay)
            ranges[nr++] = (clnet__optim_range){g->params[i].offset, g->params[i].count};
    clnet_status st = clnet__optim_create(m->ctx, &s, g->params_count, ranges, nr,
                                          &m->optim);
    free(ranges);
    /* A re-created optimizer (new recipe) keeps the model's frozen set. */
    if (st == CLNET_OK)
        st = clnet__model_optim_frozen(m);
    /* The non-finite flag and its record sit right after the loss
     * counters, so one read returns them all. */
    if (st == CLNET_OK) {
        clnet__optim_set_flag(m->optim, (clnet__tensor){g->stats.buf,
                                                        g->stats.off + CLNET__STAT_COUNT, 0});
        clnet__optim_set_loss(m->optim, (clnet__tensor){g->stats.buf,
                                                        g->stats.off + CLNET__STAT_LOSS_SUM, 0});
    }
    return st;
}

clnet_status clnet__model_optim_frozen(clnet_model *m)
{
    clnet__graph *g = m->graph;
    if (!m->optim)
        return CLNET_OK;
    clnet__optim_range *ranges = calloc((size_t)g->n_params + 1, sizeof *ranges);
    if (!ranges)
        return clnet__fail(m->ctx, CLNET_ENOMEM, "out of host memory");
    size_t nr = 0;
    for (int i = 0; i < g->n_params; i++)
        if (g->layers[g->params[i].layer].frozen)
            ranges[nr++] = (clnet__optim_range){g->params[i].offset, g->params[i].count};
    clnet_status st = clnet__optim_set_frozen(m->ctx, m->optim, ranges, nr);
    free(ranges);
    return st;
}

void clnet__model_optim_free(clnet_model *m)
{
    clnet__optim_free(m->ctx, m->optim);
    m->optim = NULL;
}

size_t clnet__model_optim_bytes(const clnet_model *m)
{
    clnet__optim_state st[CLNET__OPTIM_MAX_STATES];
    size_t n = m->optim ? clnet__optim_states(m->optim, st) : 0, bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += st[i].n * sizeof(float);
    return bytes;
}

clnet_status clnet__model_optim_step(clnet_model *m)
{
    clnet__graph *g = m->graph;
    if (!m->optim)
        return CLNET_OK;
    return clnet__optim_step(m->ctx, m->optim, (clnet__tensor){g->params_buf, 0, 0},
                             (clnet__tensor){g->grads_buf, 0, 0}, m->recipe.lr,
                             m->step + 1);
}
