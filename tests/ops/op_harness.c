#include "op_harness.h"

#include <check.h>
#include <stdlib.h>
#include <time.h>

uint64_t op_test_seed(void)
{
    const char *s = getenv("CLNET_TEST_SEED");
    if (s && *s)
        return strtoull(s, NULL, 10);
    return (uint64_t)time(NULL) ^ ((uint64_t)clock() << 20);
}


void op_cases_run(clnet_ctx *ctx, const op_case *cases, size_t n)
{
    ck_assert_msg(ctx != NULL, "no OpenCL context");
    /* Each case runs with a fixed seed (reproducible) and a fresh one. */
    uint64_t fresh = op_test_seed();
    for (size_t i = 0; i < n; i++) {
        uint64_t seeds[2] = {1000 + i, fresh + i};
        for (int s = 0; s < 2; s++) {
            char msg[1024], label[256];
            int ok = clnet__op_case_check(ctx, &cases[i], seeds[s], 1, msg, sizeof msg);
            ck_assert_msg(ok, "%s (seed %llu; fresh seeds repeat with "
                              "CLNET_TEST_SEED=%llu): %s",
                          clnet__op_case_label(&cases[i], label, sizeof label),
                          (unsigned long long)seeds[s], (unsigned long long)fresh, msg);
        }
    }
}
