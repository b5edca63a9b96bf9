#include "support.h"

#include <CL/cl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_log(void *user, clnet_log_level level, const char *msg)
{
    (void)user;
    if (level <= CLNET_LOG_WARN)
        fprintf(stderr, "clnet: %s\n", msg);
}

/* Skip only without any platform: a platform that offers no device (a
 * broken driver install) should fail the tests, not hide them. */
static int no_platform(void)
{
    cl_uint n = 0;
    cl_int e = clGetPlatformIDs(0, NULL, &n);
    if (e != CL_SUCCESS || n == 0) {
        fprintf(stderr, "skipping: no OpenCL platform (clGetPlatformIDs: %d, "
                        "%u platforms)\n", (int)e, (unsigned)n);
        return 1;
    }
    return 0;
}

clnet_ctx *clnet_test_ctx(void)
{
    if (no_platform())
        exit(CLNET_TEST_SKIP);
    clnet_ctx_settings s;
    clnet_ctx_default_settings(&s);
    s.log = test_log;
    clnet_ctx *ctx = NULL;
    clnet_status st = clnet_ctx_create(&ctx, &s);
    if (st != CLNET_OK) {
        fprintf(stderr, "clnet_ctx_create: %s: %s\n", clnet_status_name(st),
                ctx ? clnet_errmsg(ctx) : "");
        clnet_ctx_free(ctx);
        return NULL;
    }
    return ctx;
}

void clnet_test_require_device(void)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        _exit(no_platform() ? CLNET_TEST_SKIP : 0);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return; /* cannot probe: let the tests find out */
    if (WIFEXITED(status) && WEXITSTATUS(status) == CLNET_TEST_SKIP)
        exit(CLNET_TEST_SKIP);
}

static int run(Suite *s, enum fork_status fork_status)
{
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, fork_status);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* No fork per test: OpenCL drivers' worker threads (PoCL's among them) do
 * not survive fork(), so a context made in the parent would hang. */
int clnet_test_run(Suite *s) { return run(s, CK_NOFORK); }

int clnet_test_run_forked(Suite *s) { return run(s, CK_FORK); }

void clnet_test_rng_seed(clnet_test_rng *r, uint64_t seed)
{
    r->s = seed * 0x9E3779B97F4A7C15ull + 1;
}

float clnet_test_uniform(clnet_test_rng *r, float lo, float hi)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    uint64_t x = r->s * 0x2545F4914F6CDD1Dull;
    float u = (float)(x >> 40) * (1.0f / 16777216.0f);
    return lo + (hi - lo) * u;
}

float clnet_test_nonzero(clnet_test_rng *r, float lo, float hi)
{
    for (;;) {
        float v = clnet_test_uniform(r, lo, hi);
        if (v > 0.05f || v < -0.05f)
            return v;
    }
}

int clnet_test_files_equal(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int eq = fa && fb;
    while (eq) {
        int ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb)
            eq = 0;
        if (ca == EOF || cb == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return eq;
}
