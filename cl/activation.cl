/* Elementwise activations, forward and backward side by side.
 * ACT selects the function at build time (one program per activation):
 * 0 relu, 1 leaky relu (slope argument), 2 sigmoid, 3 tanh, 4 gelu (erf
 * form), 5 silu, 6 relu6, 7 hard sigmoid clamp(slope*x + beta, 0, 1),
 * 8 hard swish x*clamp(x/6 + 1/2, 0, 1). Backward accumulates:
 * din += dout * f'(x). */
#include "common.h"

#ifndef ACT
#define ACT 0
#endif

/* M_SQRT1_2_F comes with OpenCL C; 1/sqrt(2 pi) does not. */
#define INV_SQRT_2PI_F 0.39894228040143268f

inline float act_f(float x, float slope, float beta)
{
#if ACT == 0
    return fmax(x, 0.0f);
#elif ACT == 1
    return x > 0.0f ? x : slope * x;
#elif ACT == 2
    return 1.0f / (1.0f + exp(-x));
#elif ACT == 3
    return tanh(x);
#elif ACT == 4
    return 0.5f * x * (1.0f + erf(x * M_SQRT1_2_F));
#elif ACT == 6
    return clamp(x, 0.0f, 6.0f);
#elif ACT == 7
    return clamp(slope * x + beta, 0.0f, 1.0f);
#elif ACT == 8
    return x * clamp(x * (1.0f / 6.0f) + 0.5f, 0.0f, 1.0f);
#else
    return x / (1.0f + exp(-x));
#endif
}

/* Derivative from the input x and the output y (whichever is cheaper). */
inline float act_df(float x, float y, float slope, float beta)
{
#if ACT == 0
    return x > 0.0f ? 1.0f : 0.0f;
#elif ACT == 1
    return x > 0.0f ? 1.0f : slope;
#elif ACT == 2
    return y * (1.0f - y);
#elif ACT == 3
    return 1.0f - y * y;
#elif ACT == 4
    return 0.5f * (1.0f + erf(x * M_SQRT1_2_F)) + x * INV_SQRT_2PI_F * exp(-0.5f * x * x);
#elif ACT == 6
    return x > 0.0f && x < 6.0f ? 1.0f : 0.0f;
#elif ACT == 7
    float s = slope * x + beta;
    return s > 0.0f && s < 1.0f ? slope : 0.0f;
#elif ACT == 8
    return x < -3.0f ? 0.0f : x > 3.0f ? 1.0f : x * (1.0f / 3.0f) + 0.5f;
#else
    float s = 1.0f / (1.0f + exp(-x));
    return s + x * s * (1.0f - s);
#endif
}

kernel void act_forward(uint n, float slope, float beta, CTENSOR(x), TENSOR(y))
{
#if HALF_OF(y)
    /* Eight outputs per work-item (the host launches n/8, rounded up):
     * PoCL stores a half one at a time 3.6x slower than eight. */
    uint i8 = get_global_id(0) * 8;
    if (i8 + 8 <= n) {
        float v[8];
        for (uint k = 0; k < 8; k++)
            v[k] = act_f(LD(x, i8 + k), slope, beta);
        STORE8P(1, vload8(0, v), 0, AT(y) + i8);
        return;
    }
    for (uint i = i8; i < n; i++)
        ST(y, i, act_f(LD(x, i), slope, beta));
#else
    uint i = get_global_id(0);
    if (i < n)
        ST(y, i, act_f(LD(x, i), slope, beta));
#endif
}

kernel void act_backward(uint n, float slope, float beta, CTENSOR(x), CTENSOR(y),
                         CTENSOR(dy), TENSOR(dx), uint overwrite)
{
    uint i = get_global_id(0);
    if (i < n)
        GRAD_AT(dx, i, LD(dy, i) * act_df(LD(x, i), LD(y, i), slope, beta),
                overwrite);
}
