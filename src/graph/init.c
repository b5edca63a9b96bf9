/* Deterministic parameter initialisation on the host, uploaded once.
 * Schemes for weights (conv, dense):
 *   kaiming_uniform (default)  U(-b, b), b = sqrt(6 / fan_in)   (He, ReLU gain)
 *   kaiming_normal             N(0, 2 / fan_in)
 *   xavier                     U(-b, b), b = sqrt(6 / (fan_in + fan_out))
 *   torch                      U(-b, b), b = 1 / sqrt(fan_in)  (PyTorch's
 *                              default for Linear/Conv2d)
 * Biases: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) as PyTorch; ZERO/ONE as named. */
#include "graph/graph.h"

#include "core/core.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double uniform01(uint64_t *s)
{
    return (double)(splitmix64(s) >> 11) * (1.0 / 9007199254740992.0);
}

static double normal(uint64_t *s)
{
    double u1 = uniform01(s), u2 = uniform01(s);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

typedef enum { SCHEME_KAIMING_U, SCHEME_KAIMING_N, SCHEME_XAVIER, SCHEME_TORCH } scheme;

static int parse_scheme(const char *s, scheme *out)
{
    static const struct { const char *name; scheme v; } names[] = {
        {"kaiming_uniform", SCHEME_KAIMING_U}, {"kaiming", SCHEME_KAIMING_U},
        {"kaiming_normal", SCHEME_KAIMING_N},  {"xavier", SCHEME_XAVIER},
        {"torch", SCHEME_TORCH},
    };
    if (!s || !*s) {
        *out = SCHEME_KAIMING_U;
        return 1;
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].v;
            return 1;
        }
    return 0;
}

static void fill(float *dst, const clnet__param_ref *r, const clnet__op_plan *p,
                 scheme sc, uint64_t *rng)
{
    double fan_in = p->fan_in > 0 ? p->fan_in : 1;
    double fan_out = p->fan_out > 0 ? p->fan_out : 1;
    for (size_t i = 0; i < r->count; i++) {
        double v = 0;
        switch (r->init) {
        case CLNET__INIT_ZERO: v = 0; break;
        case CLNET__INIT_ONE: v = 1; break;
        case CLNET__INIT_BIAS: v = (2 * uniform01(rng) - 1) / sqrt(fan_in); break;
        case CLNET__INIT_KAIMING:
            switch (sc) {
            case SCHEME_KAIMING_U: v = (2 * uniform01(rng) - 1) * sqrt(6 / fan_in); break;
            case SCHEME_KAIMING_N: v = normal(rng) * sqrt(2 / fan_in); break;
            case SCHEME_XAVIER: v = (2 * uniform01(rng) - 1) * sqrt(6 / (fan_in + fan_out)); break;
            case SCHEME_TORCH: v = (2 * uniform01(rng) - 1) / sqrt(fan_in); break;
            }
            break;
        }
        dst[i] = (float)v;
    }
}

static clnet_status init_flat(clnet__graph *g, const clnet__param_ref *refs,
                              int n, size_t count, clnet__buf *buf, scheme sc,
                              uint64_t *rng)
{
    if (!count)
        return CLNET_OK;
    float *host = malloc(count * sizeof *host);
    if (!host)
        return clnet__fail(g->ctx, CLNET_ENOMEM, "out of host memory");
    for (int k = 0; k < n; k++)
        fill(host + refs[k].offset, &refs[k], &g->desc->layers[refs[k].layer].plan,
             sc, rng);
    clnet_status st = clnet__buf_write(g->ctx, buf, 0, count * sizeof *host, host);
    free(host);
    return st;
}

clnet_status clnet__graph_init_params(clnet__graph *g, uint64_t seed,
                                      const char *scheme_name)
{
    scheme sc;
    if (!parse_scheme(scheme_name, &sc))
        return clnet__fail(g->ctx, CLNET_EINVAL,
                           "unknown initialisation '%s' (kaiming_uniform, "
                           "kaiming_normal, xavier, torch)",
                           scheme_name);
    uint64_t rng = seed;
    clnet_status st = init_flat(g, g->params, g->n_params, g->params_count,
                                g->params_buf, sc, &rng);
    if (st == CLNET_OK)
        st = init_flat(g, g->state, g->n_state, g->state_count, g->state_buf, sc, &rng);
    return st;
}
