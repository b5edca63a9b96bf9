/* Which layers the executor fuses: a relu whose only input is a layer that
 * can apply it itself (an op with fuses_relu: batchnorm, add), when that
 * layer's output is read by the relu alone. The pair then runs as one
 * launch sequence (op.h, relu_after): the first layer writes the relu's
 * output and, in backward, masks the relu's output gradient itself; the
 * relu layer launches nothing, and the first layer's own output and
 * gradient take no memory. Results are bit-identical to running both:
 * the fused kernels compute the same float operations (fmax, dy * 1 or 0).
 *
 * CLNET_FUSE=0 turns fusion off (tests compare both). */
#include "graph/graph.h"

#include <stdlib.h>
#include <string.h>

static int fusion_on(void)
{
    const char *e = getenv("CLNET_FUSE");
    return !(e && strcmp(e, "0") == 0);
}

int clnet__fused_into(const clnet__model_desc *m, int j)
{
    if (j <= 0 || j >= m->n_layers || !fusion_on())
        return -1;
    const clnet__layer_desc *l = &m->layers[j];
    int i = l->from[0];
    if (l->op != clnet__op_get(CLNET_OP_RELU) || l->n_in != 1 || i < 0 ||
        !m->layers[i].op->fuses_relu)
        return -1;
    for (int k = i + 1; k < m->n_layers; k++)
        for (int s = 0; s < m->layers[k].n_in; s++)
            if (m->layers[k].from[s] == i && k != j)
                return -1; /* someone else reads the un-relu'd output */
    return i;
}
