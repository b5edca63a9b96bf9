/* Injected faults through the public API (CLNET_FAULT, src/core/fault.h):
 * every device allocation and every program build of loading, training,
 * saving and reloading a model is made to fail in turn, and each time the
 * call returns the right error with a useful message, nothing stays
 * allocated, and the same calls then succeed. Also: a model too large for
 * the device is refused before anything is allocated, with a batch size
 * that fits; an arena larger than the device's largest buffer is split and
 * trains the same; a non-finite gradient is traced to its parameter. */
#include "../support.h"
#include "clnet/clnet.h"
#include "core/ctx.h"
#include "graph/model_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef CLNET_SOURCE_ROOT
#define CLNET_SOURCE_ROOT "."
#endif
#define LENET CLNET_SOURCE_ROOT "/models/lenet.cfg"

enum { B = 4, PIXELS = 28 * 28 };
static float images[B * PIXELS];
static int32_t labels[B];
static char dir[] = "/tmp/clnet-fault-XXXXXX";

static void make_batch(void)
{
    clnet_test_rng r;
    clnet_test_rng_seed(&r, 5);
    for (int i = 0; i < B * PIXELS; i++)
        images[i] = clnet_test_uniform(&r, 0, 1);
    for (int i = 0; i < B; i++)
        labels[i] = i % 10;
}

/* Warnings the library logged since the last reset (one context at a
 * time), echoed to stderr as clnet_test_ctx does. */
static char logged[1 << 16];

static void log_line(void *user, clnet_log_level level, const char *msg)
{
    (void)user;
    size_t len = strlen(logged);
    snprintf(logged + len, sizeof logged - len, "%s\n", msg);
    if (level <= CLNET_LOG_WARN)
        fprintf(stderr, "clnet: %s\n", msg);
}

static clnet_ctx *ctx_with(const char *fault)
{
    if (fault)
        setenv("CLNET_FAULT", fault, 1);
    else
        unsetenv("CLNET_FAULT");
    clnet_ctx_settings cs;
    clnet_ctx_default_settings(&cs);
    cs.log = log_line;
    cs.log_level = CLNET_LOG_WARN;
    logged[0] = '\0';
    clnet_ctx *c = NULL;
    clnet_status st = clnet_ctx_create(&c, &cs);
    unsetenv("CLNET_FAULT");
    ck_assert_msg(st == CLNET_OK, "%s", clnet_errmsg(c));
    return c;
}

static size_t live(clnet_ctx *c) { return clnet__ocl_of(c)->pool_bytes_live; }

/* What clnet-train does with a model, in small: load, train, change the
 * optimizer, save, reload into it, open a second model from the file and
 * predict. Stops at the first error, frees everything, and says where. */
static clnet_status scenario(clnet_ctx *c, const char **stage)
{
    char path[256];
    snprintf(path, sizeof path, "%s/fault.safetensors", dir);
    clnet_model_settings ms;
    clnet_model_default_settings(&ms);
    ms.batch = B;
    clnet_model *m = NULL, *m2 = NULL;
    clnet_stats stats;
    float probs[B * 10];
    clnet_status st;
#define RUN(what, call) \
    if (st == CLNET_OK) { *stage = what; st = (call); }
    st = CLNET_OK;
    RUN("load", clnet_model_load(c, LENET, &ms, &m));
    for (int i = 0; i < 2; i++) {
        RUN("set batch", clnet_model_set_batch(m, images, labels, B));
        RUN("train step", clnet_model_train_step(m));
    }
    RUN("read stats", clnet_model_read_stats(m, &stats, 1));
    clnet_train_settings ts;
    RUN("get recipe", clnet_model_get_train_settings(m, &ts));
    ts.optimizer = CLNET_OPTIM_ADAM;
    ts.lr = 1e-3f;
    RUN("new optimizer", clnet_model_set_train_settings(m, &ts));
    RUN("set batch", clnet_model_set_batch(m, images, labels, B));
    RUN("train step", clnet_model_train_step(m));
    RUN("save", clnet_model_save(m, path, NULL, 0));
    RUN("load checkpoint", clnet_model_load_checkpoint(m, path));
    RUN("open checkpoint", clnet_model_open_checkpoint(c, path, &ms, &m2));
    RUN("set batch", clnet_model_set_batch(m2, images, NULL, B));
    RUN("predict", clnet_model_predict(m2, probs));
#undef RUN
    clnet_model_free(m);
    clnet_model_free(m2);
    if (st == CLNET_OK)
        *stage = "done";
    return st;
}

START_TEST(fault_spec)
{
    clnet__fault f;
    ck_assert_int_eq(clnet__fault_parse(NULL, &f), 0);
    ck_assert_int_eq(clnet__fault_parse("", &f), 0);
    ck_assert_int_eq(clnet__fault_parse("alloc:3,build:2,devmem:64M,maxalloc:2k", &f), 0);
    ck_assert(f.alloc_at == 3 && f.build_at == 2);
    ck_assert(f.devmem == 64u << 20 && f.maxalloc == 2048);
    const char *bad[] = {"alloc", "alloc:", "alloc:0", "alloc:x", "alloc:3x", "build:2M",
                         "devmem:1T", "oom:1", "alloc:1,", ",alloc:1", "alloc:-1",
                         "devmem:99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(clnet__fault_parse(bad[i], &f) == -1, "'%s' accepted", bad[i]);
    setenv("CLNET_FAULT", "alloc:zero", 1);
    clnet_ctx *c = NULL;
    ck_assert_int_eq(clnet_ctx_create(&c, NULL), CLNET_EINVAL);
    ck_assert_ptr_nonnull(strstr(clnet_errmsg(c), "CLNET_FAULT='alloc:zero'"));
    clnet_ctx_free(c);
    unsetenv("CLNET_FAULT");
}
END_TEST

/* alloc:N for every N the scenario reaches, in one context: the counter
 * is reset between runs, which is what a fresh context would do. */
START_TEST(every_allocation_fails_cleanly)
{
    clnet_ctx *c = ctx_with(NULL);
    const char *stage = NULL;
    ck_assert_msg(scenario(c, &stage) == CLNET_OK, "%s: %s", stage, clnet_errmsg(c));
    uint64_t total = c->fault.allocs;
    ck_assert_uint_gt(total, 10);
    ck_assert_uint_eq(live(c), 0);
    const char *last = "";
    char where[512] = "";
    for (uint64_t n = 1; n <= total + 1; n++) {
        c->fault = (clnet__fault){.alloc_at = n};
        clnet_status st = scenario(c, &stage);
        if (n == total + 1) {
            ck_assert_msg(st == CLNET_OK, "alloc:%llu beyond the last: %s: %s",
                          (unsigned long long)n, stage, clnet_errmsg(c));
            break;
        }
        ck_assert_msg(st == CLNET_ENOMEM, "alloc:%llu: %s returned %s: %s",
                      (unsigned long long)n, stage, clnet_status_name(st), clnet_errmsg(c));
        ck_assert_msg(strstr(clnet_errmsg(c), "device allocation of") &&
                          strstr(clnet_errmsg(c), "CL_MEM_OBJECT_ALLOCATION_FAILURE"),
                      "alloc:%llu: %s: unhelpful message: %s", (unsigned long long)n,
                      stage, clnet_errmsg(c));
        ck_assert_msg(live(c) == 0, "alloc:%llu at %s: %zu bytes still allocated",
                      (unsigned long long)n, stage, live(c));
        if (strcmp(stage, last) != 0) {
            size_t len = strlen(where);
            snprintf(where + len, sizeof where - len, "%s%s", len ? ", " : "", stage);
        }
        last = stage;
        /* The context is fine: the same calls succeed now. */
        c->fault = (clnet__fault){0};
        ck_assert_msg(scenario(c, &stage) == CLNET_OK, "after alloc:%llu: %s: %s",
                      (unsigned long long)n, stage, clnet_errmsg(c));
        ck_assert_uint_eq(live(c), 0);
    }
    fprintf(stderr, "fault: %llu device allocations failed in turn (in: %s), each an "
            "error, nothing left allocated\n", (unsigned long long)total, where);
    clnet_ctx_free(c);
}
END_TEST

/* build:N needs a fresh context each time (a context builds a program
 * once), so this also reads CLNET_FAULT from the environment. */
START_TEST(every_build_fails_cleanly)
{
    clnet_ctx *c = ctx_with(NULL);
    const char *stage = NULL;
    ck_assert_msg(scenario(c, &stage) == CLNET_OK, "%s: %s", stage, clnet_errmsg(c));
    uint64_t total = c->fault.builds;
    clnet_ctx_free(c);
    ck_assert_uint_gt(total, 2);
    int fallbacks = 0;
    for (uint64_t n = 1; n <= total; n++) {
        char spec[32];
        snprintf(spec, sizeof spec, "build:%llu", (unsigned long long)n);
        c = ctx_with(spec);
        clnet_status st = scenario(c, &stage);
        /* A program with a fallback (a GEMM variant: CLBlast takes over)
         * may succeed, but must say so with the build log. */
        const char *fallback = strstr(logged, "injected by CLNET_FAULT");
        ck_assert_msg(st == CLNET_EBUILD || (st == CLNET_OK && fallback),
                      "%s: %s returned %s: %s", spec, stage, clnet_status_name(st),
                      clnet_errmsg(c));
        fallbacks += st == CLNET_OK;
        const char *msg = st == CLNET_OK ? logged : clnet_errmsg(c);
        ck_assert_msg(strstr(msg, "building cl/") && strstr(msg, "injected by CLNET_FAULT"),
                      "%s: %s: no build log in: %s", spec, stage, msg);
        ck_assert_msg(live(c) == 0, "%s at %s: %zu bytes still allocated", spec, stage,
                      live(c));
        ck_assert_msg(scenario(c, &stage) == CLNET_OK, "after %s: %s: %s", spec, stage,
                      clnet_errmsg(c));
        ck_assert_uint_eq(live(c), 0);
        clnet_ctx_free(c);
    }
    fprintf(stderr, "fault: %llu program builds failed in turn, each an error with "
            "the build log (%d with a fallback)\n", (unsigned long long)total, fallbacks);
}
END_TEST

/* N of "batch N would fit" (options to keep the batch may follow). */
static int suggested_batch(const char *msg)
{
    const char *fit = strstr(msg, " would fit");
    ck_assert_msg(fit != NULL, "no suggestion in: %s", msg);
    const char *last = NULL;
    for (const char *p = strstr(msg, "batch "); p && p < fit; p = strstr(p + 1, "batch "))
        last = p;
    ck_assert_ptr_nonnull(last);
    return atoi(last + 6);
}

static clnet_status load_at(clnet_ctx *c, int batch, clnet_model **m)
{
    clnet_model_settings ms;
    clnet_model_default_settings(&ms);
    ms.batch = batch;
    *m = NULL;
    return clnet_model_load(c, LENET, &ms, m);
}

START_TEST(too_large_for_the_device)
{
    /* The real device: a batch too large is refused before any allocation,
     * with the bytes; an absurd one already by the parser (a tensor over
     * 2^31 elements), which still suggests a batch. */
    clnet_ctx *c = ctx_with(NULL);
    clnet_model *m = NULL;
    uint64_t global = clnet__ocl_of(c)->desc.global_mem_bytes;
    int big = (int)(global / (64 * 1024)) + 1; /* lenet: > 64 KiB a sample */
    ck_assert_int_eq(load_at(c, big, &m), CLNET_ENOMEM);
    ck_assert_ptr_null(m);
    const char *msg = clnet_errmsg(c);
    ck_assert_msg(strstr(msg, "MiB of device memory") && strstr(msg, clnet_ctx_device_name(c)),
                  "%s", msg);
    int fit = suggested_batch(msg);
    ck_assert_int_gt(fit, 0);
    ck_assert_int_lt(fit, big);
    ck_assert_int_eq(load_at(c, 1000000, &m), CLNET_EPARSE);
    ck_assert_int_eq(suggested_batch(clnet_errmsg(c)), fit);
    ck_assert_uint_eq(c->fault.allocs, 0);
    clnet_ctx_free(c);

    /* A 64 MiB device: the suggested batch loads and trains, one more
     * does not load. */
    c = ctx_with("devmem:64M");
    ck_assert_int_eq(load_at(c, 100000, &m), CLNET_ENOMEM);
    ck_assert_msg(strstr(clnet_errmsg(c), "has 64.0 MiB"), "%s", clnet_errmsg(c));
    fit = suggested_batch(clnet_errmsg(c));
    fprintf(stderr, "fault: lenet on a 64 MiB device: %s\n", clnet_errmsg(c));
    ck_assert_int_eq(c->fault.allocs, 0);
    ck_assert_msg(load_at(c, fit, &m) == CLNET_OK, "batch %d: %s", fit, clnet_errmsg(c));
    ck_assert_uint_le(live(c), (size_t)64 << 20);
    float *x = calloc((size_t)fit * PIXELS, sizeof *x);
    int32_t *y = calloc((size_t)fit, sizeof *y);
    ck_assert(x && y);
    ck_assert_int_eq(clnet_model_set_batch(m, x, y, fit), CLNET_OK);
    ck_assert_msg(clnet_model_train_step(m) == CLNET_OK, "%s", clnet_errmsg(c));
    clnet_stats s;
    ck_assert_int_eq(clnet_model_read_stats(m, &s, 1), CLNET_OK);
    free(x);
    free(y);
    clnet_model_free(m);
    ck_assert_int_eq(load_at(c, fit + 1, &m), CLNET_ENOMEM);
    ck_assert_ptr_nonnull(strstr(clnet_errmsg(c), "would fit"));
    ck_assert_uint_eq(live(c), 0);
    clnet_ctx_free(c);

    /* Parameters alone larger than the device: no batch helps. */
    c = ctx_with("devmem:64K");
    ck_assert_int_eq(load_at(c, 1, &m), CLNET_ENOMEM);
    ck_assert_msg(strstr(clnet_errmsg(c), "does not fit even at batch 1"), "%s",
                  clnet_errmsg(c));
    clnet_ctx_free(c);
}
END_TEST

/* Loss sums of three steps of lenet at batch 64 on the same data. */
static void three_steps(clnet_ctx *c, double loss[3], size_t *n_arena)
{
    enum { N = 64 };
    float *x = malloc((size_t)N * PIXELS * sizeof *x);
    int32_t y[N];
    ck_assert_ptr_nonnull(x);
    for (int i = 0; i < N; i++) {
        y[i] = i % 10;
        for (int k = 0; k < PIXELS; k++)
            x[(size_t)i * PIXELS + k] = images[(i % B) * PIXELS + k] * (float)(1 + i % 3);
    }
    clnet_model *m = NULL;
    ck_assert_msg(load_at(c, N, &m) == CLNET_OK, "%s", clnet_errmsg(c));
    *n_arena = m->graph->n_arena;
    for (int s = 0; s < 3; s++) {
        ck_assert_int_eq(clnet_model_set_batch(m, x, y, N), CLNET_OK);
        ck_assert_int_eq(clnet_model_train_step(m), CLNET_OK);
        clnet_stats st;
        ck_assert_int_eq(clnet_model_read_stats(m, &st, 1), CLNET_OK);
        loss[s] = st.loss_sum;
    }
    clnet_model_free(m);
    free(x);
}

START_TEST(arena_split_over_small_buffers)
{
    clnet_ctx *c = ctx_with(NULL);
    double whole[3], split[3];
    size_t n1 = 0, n2 = 0;
    three_steps(c, whole, &n1);
    clnet_ctx_free(c);
    c = ctx_with("maxalloc:5M");
    three_steps(c, split, &n2);
    clnet_ctx_free(c);
    ck_assert_uint_eq(n1, 1);
    ck_assert_uint_gt(n2, 1);
    for (int s = 0; s < 3; s++)
        ck_assert_msg(whole[s] == split[s], "step %d: loss %.9g in one buffer, %.9g in %zu",
                      s, whole[s], split[s], n2);
}
END_TEST

/* A NaN and an Inf put into the gradients between backward and the
 * optimizer: the record names the bad parameter nearest the loss. */
START_TEST(nonfinite_gradient_is_named)
{
    clnet_ctx *c = ctx_with(NULL);
    clnet_model *m = NULL;
    ck_assert_int_eq(load_at(c, B, &m), CLNET_OK);
    char where[256] = "x";
    ck_assert_int_eq(clnet_model_find_nonfinite(m, where, sizeof where), CLNET_OK);
    ck_assert_str_eq(where, "");
    ck_assert_int_eq(clnet_model_set_batch(m, images, labels, B), CLNET_OK);
    ck_assert_int_eq(clnet_model_train_step(m), CLNET_OK);
    const clnet__graph *g = m->graph;
    const clnet__param_ref *first = &g->params[0], *mid = &g->params[g->n_params / 2];
    float nan = NAN, inf = -INFINITY;
    ck_assert_int_eq(clnet__buf_write(c, g->grads_buf, (first->offset + 3) * 4, 4, &nan),
                     CLNET_OK);
    ck_assert_int_eq(clnet__buf_write(c, g->grads_buf, (mid->offset + mid->count - 1) * 4,
                                      4, &inf),
                     CLNET_OK);
    ck_assert_int_eq(clnet__model_optim_step(m), CLNET_OK);
    m->step++; /* as clnet_model_train_step counts its update */
    clnet_stats s;
    ck_assert_int_eq(clnet_model_read_stats(m, &s, 1), CLNET_OK);
    ck_assert_int_eq(s.nonfinite, 1);
    ck_assert_int_eq(clnet_model_find_nonfinite(m, where, sizeof where), CLNET_OK);
    char want[256];
    snprintf(want, sizeof want, "gradient of %s is Inf (first at step 2, with a finite loss)",
             mid->name);
    ck_assert_str_eq(where, want);
    /* Training on: the loss goes NaN, every gradient follows; the record
     * is of the first bad step, not overwritten. */
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(clnet_model_set_batch(m, images, labels, B), CLNET_OK);
        ck_assert_int_eq(clnet_model_train_step(m), CLNET_OK);
    }
    ck_assert_int_eq(clnet_model_read_stats(m, &s, 1), CLNET_OK);
    ck_assert_int_eq(s.nonfinite, 1);
    ck_assert_int_eq(clnet_model_find_nonfinite(m, where, sizeof where), CLNET_OK);
    ck_assert_msg(strstr(where, "the loss became NaN or Inf at step 3") &&
                      strstr(where, g->params[g->n_params - 1].name),
                  "%s", where);
    ck_assert_int_eq(clnet_model_find_nonfinite(m, where, 0), CLNET_EINVAL);
    ck_assert_int_eq(clnet_model_find_nonfinite(NULL, where, sizeof where), CLNET_EINVAL);
    clnet_model_free(m);
    clnet_ctx_free(c);
}
END_TEST

int main(void)
{
    clnet_test_require_device();
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    make_batch();
    Suite *s = suite_create("fault");
    TCase *tc = tcase_create("fault");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, fault_spec);
    tcase_add_test(tc, every_allocation_fails_cleanly);
    tcase_add_test(tc, every_build_fails_cleanly);
    tcase_add_test(tc, too_large_for_the_device);
    tcase_add_test(tc, arena_split_over_small_buffers);
    tcase_add_test(tc, nonfinite_gradient_is_named);
    suite_add_tcase(s, tc);
    int rc = clnet_test_run_forked(s);
    char path[256];
    snprintf(path, sizeof path, "%s/fault.safetensors", dir);
    unlink(path);
    rmdir(dir);
    return rc;
}
