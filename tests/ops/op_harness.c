#include "op_harness.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t op_test_seed(void)
{
    const char *s = getenv("CLNET_TEST_SEED");
    if (s && *s)
        return strtoull(s, NULL, 10);
    return (uint64_t)time(NULL) ^ ((uint64_t)clock() << 20);
}


/* Elements of all inputs of a case. */
static size_t case_elems(const op_case *c)
{
    size_t n = 0;
    for (int i = 0; i < c->n_in; i++)
        n += (size_t)c->in[i].n * c->in[i].c * c->in[i].h * c->in[i].w;
    return n;
}

int op_test_quick(void)
{
    const char *s = getenv("CLNET_TEST_QUICK");
    return s && *s && strcmp(s, "0") != 0;
}

static void run(clnet_ctx *ctx, const op_case *cases, size_t n, int half)
{
    ck_assert_msg(ctx != NULL, "no OpenCL context");
    int quick = op_test_quick();
    size_t smallest = 0;
    for (size_t i = 1; i < n; i++)
        if (case_elems(&cases[i]) < case_elems(&cases[smallest]))
            smallest = i;
    /* Each case runs with a fixed seed (reproducible) and a fresh one. */
    uint64_t fresh = op_test_seed();
    for (size_t i = 0; i < n; i++) {
        if (quick && i != smallest && case_elems(&cases[i]) > OP_QUICK_ELEMS)
            continue;
        uint64_t seeds[2] = {1000 + i, fresh + i};
        for (int s = 0; s < 2 - quick; s++) {
            char msg[1024], label[256];
            /* Half: every activation half with the fixed seed; with the
             * fresh one the first layer's mix (fp32 input, half output),
             * then the last layer's (half input, fp32 output). Then the
             * same with the gradients half as well (precision fp16). */
            enum { IN = CLNET__HALF_IN, OUT = CLNET__HALF_OUT,
                   DIN = CLNET__HALF_DIN, DOUT = CLNET__HALF_DOUT };
            static const int halves[2][4] = {
                {IN | OUT, IN | OUT | DIN | DOUT, 0, 0},
                {OUT, IN, OUT | DOUT, IN | DIN},
            };
            for (int h = 0; h < (half ? 4 : 1); h++) {
                int mix = half ? halves[s][h] : 0;
                if (half && !mix)
                    continue;
                /* Quick runs (oclgrind, forced local sizes): the half
                 * gradients on the smallest case only; under oclgrind
                 * they took op_conv from 8 to 24 minutes on every case. */
                if (quick && (mix & DOUT) && i != smallest)
                    continue;
                int ok = half ? clnet__op_case_check_half(ctx, &cases[i], seeds[s], mix,
                                                          msg, sizeof msg)
                              : clnet__op_case_check(ctx, &cases[i], seeds[s], !quick,
                                                     msg, sizeof msg);
                ck_assert_msg(ok, "%s%s (seed %llu; fresh seeds repeat with "
                                  "CLNET_TEST_SEED=%llu): %s",
                              !half ? ""
                              : mix == IN ? "half input, fp32 output: "
                              : mix == OUT ? "fp32 input, half output: "
                              : mix == (IN | OUT) ? "half storage: "
                              : mix == (IN | DIN) ? "half input and gradient, fp32 output: "
                              : mix == (OUT | DOUT) ? "fp32 input, half output and gradient: "
                                                    : "half storage and gradients: ",
                              clnet__op_case_label(&cases[i], label, sizeof label),
                              (unsigned long long)seeds[s], (unsigned long long)fresh,
                              msg);
            }
        }
    }
}

void op_cases_run(clnet_ctx *ctx, const op_case *cases, size_t n)
{
    run(ctx, cases, n, 0);
}

void op_cases_run_half(clnet_ctx *ctx, const op_case *cases, size_t n)
{
    run(ctx, cases, n, 1);
}
