/* Freezing layers for fine-tuning (clnet_model_set_frozen and friends). The
 * flags live in the graph (clnet__graph_layer.frozen), where the executor
 * reads them when it enqueues a step; the optimizer gets the frozen
 * parameters' ranges. Nothing here touches the device, so flags may change
 * between any two steps. */
#include "graph/model_impl.h"

#include "core/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* A few layer names for a message about a name or prefix that matches
 * none, so the caller sees what the names look like. */
static void some_names(const clnet__model_desc *d, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < d->n_layers && len + 1 < cap; i++) {
        if (i == 8) {
            snprintf(buf + len, cap - len, ", ... (%d layers)", d->n_layers);
            return;
        }
        int w = snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", d->layers[i].name);
        if (w < 0)
            return;
        len += (size_t)w;
    }
}

clnet_status clnet__model_frozen_apply(clnet_model *m, const unsigned char *flags)
{
    clnet__graph *g = m->graph;
    for (int i = 0; i < m->desc->n_layers; i++)
        g->layers[i].frozen = flags[i] != 0;
    clnet__graph_update_frozen(g);
    return clnet__model_optim_frozen(m);
}

/* The current flags, one byte per layer, for changing some of them. */
static unsigned char *current_flags(clnet_model *m)
{
    int L = m->desc->n_layers;
    unsigned char *f = malloc((size_t)L);
    for (int i = 0; f && i < L; i++)
        f[i] = (unsigned char)m->graph->layers[i].frozen;
    if (!f)
        clnet__fail(m->ctx, CLNET_ENOMEM, "out of host memory");
    return f;
}

clnet_status clnet_model_set_frozen(clnet_model *m, const char *const *prefixes,
                                    size_t n, int frozen)
{
    if (!m)
        return CLNET_EINVAL;
    if (n && !prefixes)
        return clnet__fail(m->ctx, CLNET_EINVAL, "clnet_model_set_frozen: NULL prefixes");
    const clnet__model_desc *d = m->desc;
    unsigned char *f = current_flags(m);
    if (!f)
        return CLNET_ENOMEM;
    /* Every prefix is checked before anything changes. */
    for (size_t k = 0; k < n; k++) {
        if (!prefixes[k]) {
            free(f);
            return clnet__fail(m->ctx, CLNET_EINVAL,
                               "clnet_model_set_frozen: prefix %zu is NULL", k);
        }
        int hits = 0;
        for (int i = 0; i < d->n_layers; i++)
            if (starts_with(d->layers[i].name, prefixes[k])) {
                f[i] = frozen != 0;
                hits++;
            }
        if (!hits) {
            char names[512];
            some_names(d, names, sizeof names);
            free(f);
            return clnet__fail(m->ctx, CLNET_ENOTFOUND,
                               "no layer of %s has a name starting with '%s' "
                               "(layers: %s)", d->source, prefixes[k], names);
        }
    }
    clnet_status st = clnet__model_frozen_apply(m, f);
    free(f);
    return st;
}

clnet_status clnet_model_set_backbone_frozen(clnet_model *m, int frozen)
{
    if (!m)
        return CLNET_EINVAL;
    const clnet__model_desc *d = m->desc;
    int head = d->n_layers - 1;
    while (head >= 0 && d->layers[head].plan.n_params == 0)
        head--;
    int learnable = 0;
    for (int i = 0; i < head; i++)
        learnable |= d->layers[i].plan.n_params > 0;
    if (!learnable)
        return clnet__fail(m->ctx, CLNET_ENOTFOUND,
                           "%s has no backbone to freeze: %s", d->source,
                           head < 0 ? "no layer has learnable parameters"
                                    : "no layer with parameters comes before its "
                                      "last one");
    unsigned char *f = current_flags(m);
    if (!f)
        return CLNET_ENOMEM;
    for (int i = 0; i < head; i++)
        f[i] = frozen != 0;
    clnet_status st = clnet__model_frozen_apply(m, f);
    free(f);
    return st;
}

int clnet_model_layer_frozen(const clnet_model *m, const char *name)
{
    for (int i = 0; m && name && i < m->desc->n_layers; i++)
        if (strcmp(m->desc->layers[i].name, name) == 0)
            return m->graph->layers[i].frozen;
    return -1;
}

size_t clnet_model_frozen_params(const clnet_model *m)
{
    size_t n = 0;
    const clnet__graph *g = m ? m->graph : NULL;
    for (int i = 0; g && i < g->n_params; i++)
        if (g->layers[g->params[i].layer].frozen)
            n += g->params[i].count;
    return n;
}

size_t clnet__model_frozen_list(const clnet_model *m, char *buf, size_t cap)
{
    size_t len = 0;
    if (cap)
        buf[0] = '\0';
    for (int i = 0; i < m->desc->n_layers; i++) {
        if (!m->graph->layers[i].frozen)
            continue;
        const char *name = m->desc->layers[i].name;
        size_t need = strlen(name) + (len ? 1 : 0);
        if (len + need < cap)
            snprintf(buf + len, cap - len, "%s%s", len ? "," : "", name);
        len += need;
    }
    return len;
}

clnet_status clnet__model_frozen_parse(const clnet_model *m, const char *list,
                                       const char *source, unsigned char *flags)
{
    const clnet__model_desc *d = m->desc;
    memset(flags, 0, (size_t)d->n_layers);
    /* Layer names have no commas (io/cfg.c), so a comma ends each one. */
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        int found = -1;
        for (int i = 0; i < d->n_layers && found < 0; i++)
            if (strlen(d->layers[i].name) == len && strncmp(d->layers[i].name, p, len) == 0)
                found = i;
        if (found < 0)
            return clnet__fail(m->ctx, CLNET_EFORMAT,
                               "%s: frozen layer '%.*s' is not a layer of %s", source,
                               (int)(len > 200 ? 200 : len), p, d->source);
        flags[found] = 1;
        p += len;
        if (*p == ',')
            p++;
    }
    return CLNET_OK;
}
