#include "ckpt_util.h"

#include "graph/model_impl.h"

#include <stdlib.h>

uint64_t ckpt_params_sum(clnet_model *m)
{
    const clnet__graph *g = m->graph;
    size_t n = g->params_count;
    float *p = malloc((n + 1) * sizeof *p);
    if (!p || clnet__buf_read(m->ctx, g->params_buf, 0, n * sizeof *p, p) != CLNET_OK) {
        free(p);
        return 0;
    }
    uint64_t h = 0xcbf29ce484222325ull;
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < n * sizeof *p; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    free(p);
    return h;
}
