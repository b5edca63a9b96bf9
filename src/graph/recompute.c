/* Segments for activation recomputation (gradient checkpointing).
 *
 * With recompute on, a training step keeps only the outputs of segment
 * boundaries from forward to backward. Backward walks the segments from the
 * last to the first; for each it first replays the segment's forward (op.h,
 * io.replay: same inputs, same seeds, so the same values bit for bit), then
 * runs the segment's backward. The last segment is not replayed: its
 * activations are still there when backward starts.
 *
 * A boundary must be a cut of the graph: no layer after it reads a layer
 * before it (residual connections never cross a boundary), so a segment's
 * replay needs nothing but the previous boundary and the network input.
 * Among the cuts, boundaries are chosen greedily so each segment holds about
 * 1/sqrt(L) of the activation bytes: memory then grows with the largest
 * segment plus the boundaries, about 2 sqrt(L) layers' worth instead of L,
 * for one extra forward pass. */
#include "graph/graph.h"

#include <math.h>
#include <stdlib.h>

/* Bytes layer i keeps from forward to backward without recompute. */
static double layer_bytes(const clnet__model_desc *m, int i)
{
    const clnet__op_plan *p = &m->layers[i].plan;
    double b = (double)clnet__shape_count(p->out) + (double)p->work_count;
    for (int k = 0; k < p->n_saved; k++)
        b += (double)p->saved_count[k];
    return b;
}

int clnet__recompute_segments(const clnet__model_desc *m, int training, int *last)
{
    int L = m->n_layers;
    last[0] = L - 1;
    if (!training || !m->recompute || L < 3)
        return 1;
    /* min_after[i]: the earliest layer read by any layer after i (L when
     * none); i is a cut when that is i itself or later. */
    int *min_after = malloc((size_t)L * sizeof *min_after);
    if (!min_after)
        return 1; /* no recompute rather than a failure: the plan still holds */
    int lo = L;
    for (int i = L - 1; i >= 0; i--) {
        min_after[i] = lo;
        for (int k = 0; k < m->layers[i].n_in; k++)
            if (m->layers[i].from[k] >= 0 && m->layers[i].from[k] < lo)
                lo = m->layers[i].from[k];
    }
    double total = 0;
    for (int i = 0; i < L; i++)
        total += layer_bytes(m, i);
    double budget = total / ceil(sqrt((double)L));
    int n = 0;
    double acc = 0;
    for (int i = 0; i < L - 1; i++) {
        acc += layer_bytes(m, i);
        /* A layer whose relu is fused into it has no output of its own:
         * the boundary is the relu. */
        int cut = min_after[i] >= i && clnet__fused_into(m, i + 1) != i;
        if (cut && acc >= budget) {
            last[n++] = i;
            acc = 0;
        }
    }
    last[n++] = L - 1;
    free(min_after);
    return n;
}
