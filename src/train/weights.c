/* Named tensor sets, and copying them into a model by name and shape. */
#include "train/weights.h"

#include "core/core.h"
#include "graph/model_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t shape_count(int ndim, const size_t *shape)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    return n;
}

clnet_status clnet__tensor_set_add(clnet_ctx *ctx, clnet__tensor_set *s,
                                   const char *name, int ndim,
                                   const size_t *shape, const float *data)
{
    if (!s || !name || ndim < 0 || ndim > CLNET__TENSOR_MAX_DIMS || (ndim && !shape))
        return clnet__fail(ctx, CLNET_EINVAL, "clnet__tensor_set_add: bad argument");
    if (clnet__tensor_set_find(s, name))
        return clnet__fail(ctx, CLNET_EINVAL, "%s: tensor '%s' appears twice", s->source, name);
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        clnet__named_tensor *t = realloc(s->t, cap * sizeof *t);
        if (!t)
            return clnet__fail(ctx, CLNET_ENOMEM, "out of host memory");
        s->t = t;
        s->cap = cap;
    }
    clnet__named_tensor *t = &s->t[s->n];
    memset(t, 0, sizeof *t);
    size_t count = shape_count(ndim, shape);
    t->name = malloc(strlen(name) + 1);
    t->data = malloc((count ? count : 1) * sizeof(float));
    if (!t->name || !t->data) {
        free(t->name);
        free(t->data);
        return clnet__fail(ctx, CLNET_ENOMEM, "out of host memory");
    }
    strcpy(t->name, name);
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t->shape[i] = shape[i];
    if (count)
        memcpy(t->data, data, count * sizeof(float));
    s->n++;
    return CLNET_OK;
}

const clnet__named_tensor *clnet__tensor_set_find(const clnet__tensor_set *s,
                                                  const char *name)
{
    for (size_t i = 0; s && i < s->n; i++)
        if (strcmp(s->t[i].name, name) == 0)
            return &s->t[i];
    return NULL;
}

static void free_skips(clnet__weights_skip *l, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(l[i].name);
        free(l[i].reason);
    }
    free(l);
}

void clnet__tensor_set_clear(clnet__tensor_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->t[i].name);
        free(s->t[i].data);
    }
    free(s->t);
    free_skips(s->unread, s->n_unread);
    s->t = NULL;
    s->unread = NULL;
    s->n = s->cap = s->n_unread = 0;
}

void clnet__weights_name_key(const char *name, char *out, size_t cap)
{
    if (!cap)
        return;
    const char *last = strrchr(name, '.');
    size_t i = 0;
    for (; name[i] && i + 1 < cap; i++)
        out[i] = name[i] == '.' && name + i != last ? '_' : name[i];
    out[i] = '\0';
}

/* "[a,b,c]" */
static void shape_text(int ndim, const size_t *shape, char *buf, size_t len)
{
    size_t o = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < ndim && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%zu", i ? "," : "", shape[i]);
    if (o < len)
        snprintf(buf + o, len - o, "]");
}

/* Equal once dims of size 1 are dropped: the same row-major data. */
static int shapes_match(int na, const size_t *a, int nb, const size_t *b)
{
    int i = 0, j = 0;
    for (;;) {
        while (i < na && a[i] == 1)
            i++;
        while (j < nb && b[j] == 1)
            j++;
        if (i == na || j == nb)
            return i == na && j == nb;
        if (a[i++] != b[j++])
            return 0;
    }
}

static int push_skip(clnet__weights_skip **list, size_t *n, const char *name,
                     const char *reason)
{
    clnet__weights_skip *l = realloc(*list, (*n + 1) * sizeof *l);
    if (!l)
        return 0;
    *list = l;
    l[*n].name = malloc(strlen(name) + 1);
    l[*n].reason = malloc(strlen(reason) + 1);
    if (!l[*n].name || !l[*n].reason) {
        free(l[*n].name);
        free(l[*n].reason);
        return 0;
    }
    strcpy(l[*n].name, name);
    strcpy(l[*n].reason, reason);
    (*n)++;
    return 1;
}

clnet_status clnet__tensor_set_unread(clnet_ctx *ctx, clnet__tensor_set *s,
                                      const char *name, const char *reason)
{
    if (!push_skip(&s->unread, &s->n_unread, name, reason))
        return clnet__fail(ctx, CLNET_ENOMEM, "out of host memory");
    return CLNET_OK;
}

void clnet__weights_result_free(clnet__weights_result *res)
{
    if (!res)
        return;
    free_skips(res->skipped, res->n_skipped);
    free_skips(res->missing, res->n_missing);
    memset(res, 0, sizeof *res);
}

/* The set's tensor for a model tensor: its exact name, else the same key
 * (keys[j] is the key of s->t[j]). */
static const clnet__named_tensor *find_for(const clnet__tensor_set *s, char **keys,
                                           const char *name)
{
    const clnet__named_tensor *t = clnet__tensor_set_find(s, name);
    if (t)
        return t;
    char key[CLNET__NAME_MAX + 64];
    clnet__weights_name_key(name, key, sizeof key);
    for (size_t j = 0; j < s->n; j++)
        if (strcmp(keys[j], key) == 0)
            return &s->t[j];
    return NULL;
}

/* The model's tensors, parameters first: ref, and which flat buffer. */
typedef struct model_tensor {
    const clnet__param_ref *ref;
    clnet__buf *buf;
} model_tensor;

static size_t model_tensors(const clnet__graph *g, model_tensor *out)
{
    size_t n = 0;
    for (int i = 0; i < g->n_params; i++)
        out[n++] = (model_tensor){&g->params[i], g->params_buf};
    for (int i = 0; i < g->n_state; i++)
        out[n++] = (model_tensor){&g->state[i], g->state_buf};
    return n;
}

clnet_status clnet__weights_copy(clnet_model *m, const clnet__tensor_set *s,
                                 int strict, clnet__weights_result *res)
{
    if (!m || !s)
        return clnet__fail(m ? m->ctx : NULL, CLNET_EINVAL, "clnet__weights_copy: NULL argument");
    clnet_ctx *ctx = m->ctx;
    const clnet__graph *g = m->graph;
    clnet__weights_result r = {0};
    size_t nt = (size_t)g->n_params + (size_t)g->n_state;
    model_tensor *mt = malloc((nt + 1) * sizeof *mt);
    const clnet__named_tensor **src = calloc(nt + 1, sizeof *src);
    char *used = calloc(s->n + 1, 1);
    char **keys = calloc(s->n + 1, sizeof *keys);
    clnet_status st = mt && src && used && keys
                          ? CLNET_OK
                          : clnet__fail(ctx, CLNET_ENOMEM, "out of host memory");
    for (size_t j = 0; j < s->n && st == CLNET_OK; j++) {
        size_t len = strlen(s->t[j].name) + 1;
        keys[j] = malloc(len);
        if (!keys[j])
            st = clnet__fail(ctx, CLNET_ENOMEM, "out of host memory");
        else
            clnet__weights_name_key(s->t[j].name, keys[j], len);
    }
    if (st == CLNET_OK)
        r.model_tensors = model_tensors(g, mt);
    /* Check every tensor before writing any. */
    char a[160], b[160], why[1024];
    for (size_t i = 0; i < nt && st == CLNET_OK; i++) {
        const clnet__param_ref *p = mt[i].ref;
        size_t shape[CLNET__TENSOR_MAX_DIMS];
        for (int d = 0; d < p->dims.ndim; d++)
            shape[d] = (size_t)p->dims.d[d];
        const clnet__named_tensor *t = find_for(s, keys, p->name);
        if (t && used[t - s->t]) /* two model tensors, one key: take it once */
            t = NULL;
        if (t)
            used[t - s->t] = 1;
        if (t && shapes_match(t->ndim, t->shape, p->dims.ndim, shape)) {
            src[i] = t;
            r.loaded++;
            continue;
        }
        shape_text(p->dims.ndim, shape, b, sizeof b);
        if (t) {
            shape_text(t->ndim, t->shape, a, sizeof a);
            snprintf(why, sizeof why, "shape %s in %s, %s in the model", a, s->source, b);
        } else {
            snprintf(why, sizeof why, "not in %s", s->source);
        }
        if (strict)
            st = clnet__fail(ctx, t ? CLNET_ESHAPE : CLNET_ENOTFOUND, "%s: %s %s", s->source,
                             p->name, why);
        else if (!push_skip(&r.missing, &r.n_missing, p->name, why))
            st = clnet__fail(ctx, CLNET_ENOMEM, "out of host memory");
        if (t && !strict && st == CLNET_OK &&
            !push_skip(&r.skipped, &r.n_skipped, t->name, why))
            st = clnet__fail(ctx, CLNET_ENOMEM, "out of host memory");
    }
    for (size_t j = 0; j < s->n && st == CLNET_OK; j++)
        if (!used[j] && !push_skip(&r.skipped, &r.n_skipped, s->t[j].name,
                                   "no tensor of that name in the model"))
            st = clnet__fail(ctx, CLNET_ENOMEM, "out of host memory");
    for (size_t j = 0; j < s->n_unread && st == CLNET_OK; j++)
        if (!push_skip(&r.skipped, &r.n_skipped, s->unread[j].name, s->unread[j].reason))
            st = clnet__fail(ctx, CLNET_ENOMEM, "out of host memory");
    if (st == CLNET_OK && r.loaded == 0 && nt > 0)
        st = clnet__fail(ctx, CLNET_ENOTFOUND, "%s: none of its %zu tensors matches a "
                         "tensor of the model by name and shape (the model's first is %s)",
                         s->source, s->n, mt[0].ref->name);
    for (size_t i = 0; i < nt && st == CLNET_OK; i++)
        if (src[i])
            st = clnet__buf_write(ctx, mt[i].buf, mt[i].ref->offset * sizeof(float),
                                  mt[i].ref->count * sizeof(float), src[i]->data);
    for (size_t j = 0; keys && j < s->n; j++)
        free(keys[j]);
    free(keys);
    free(mt);
    free(src);
    free(used);
    if (res && st == CLNET_OK)
        *res = r;
    else
        clnet__weights_result_free(&r);
    return st;
}

clnet_status clnet__weights_zero_head(clnet_model *m, const clnet__weights_result *res,
                                      int all, size_t *zeroed)
{
    *zeroed = 0;
    const clnet__graph *g = m->graph;
    if (g->n_params == 0)
        return CLNET_OK;
    int head = g->params[g->n_params - 1].layer;
    clnet_status st = CLNET_OK;
    for (int i = 0; i < g->n_params && st == CLNET_OK; i++) {
        const clnet__param_ref *p = &g->params[i];
        int missing = 0;
        for (size_t j = 0; res && j < res->n_missing && !missing; j++)
            missing = strcmp(res->missing[j].name, p->name) == 0;
        if (p->layer != head || !(missing || all))
            continue;
        float *zeros = calloc(p->count ? p->count : 1, sizeof *zeros);
        st = zeros ? clnet__buf_write(m->ctx, g->params_buf, p->offset * sizeof(float),
                                      p->count * sizeof(float), zeros)
                   : clnet__fail(m->ctx, CLNET_ENOMEM, "out of host memory");
        free(zeros);
        if (st == CLNET_OK)
            (*zeroed)++;
    }
    return st;
}
