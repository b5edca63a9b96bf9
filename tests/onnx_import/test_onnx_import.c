/* ONNX import tests.
 *   test_onnx_import compare DIR NAME...  NAME.onnx through clnet_model_load;
 *       softmax against PyTorch's (NAME.out) within 1e-4; then saved as a
 *       checkpoint, reopened, same output.
 *   test_onnx_import errors DIR   refusals: unsupported op / attribute,
 *       truncated and garbage files; each a clear error, no crash.
 *   test_onnx_import nodes NODE_DIR LIST   ONNX's backend node tests through
 *       clnet's forward pass (see run_node below); skips with reasons to LIST.
 * Exit 0 pass, 1 fail, 77 no OpenCL device. */
#include "clnet/clnet.h"
#include "clnet/model.h"
#include "graph/model_impl.h"
#include "onnx/import.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static clnet_ctx *ctx;

static float *read_floats(const char *path, size_t n)
{
    FILE *f = fopen(path, "rb");
    float *p = malloc(n * sizeof *p);
    if (!f || !p || fread(p, sizeof *p, n, f) != n) {
        if (f)
            fclose(f);
        free(p);
        return NULL;
    }
    fclose(f);
    return p;
}

static double max_diff(const float *a, const float *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]);
        if (!(e <= d))
            d = isnan(e) ? INFINITY : e;
    }
    return d;
}

static int predict(clnet_model *m, const float *x, int n, float *probs)
{
    return clnet_model_set_batch(m, x, NULL, n) != CLNET_OK ||
           clnet_model_predict(m, probs) != CLNET_OK;
}

static int compare(const char *dir, const char *name)
{
    char path[4096], p2[4096];
    snprintf(path, sizeof path, "%s/%s.onnx", dir, name);
    clnet_model_settings s;
    clnet_model_default_settings(&s);
    s.batch = 2;
    s.training = 0;
    clnet_model *m = NULL;
    if (clnet_model_load(ctx, path, &s, &m) != CLNET_OK) {
        printf("FAIL %s: %s\n", name, clnet_errmsg(ctx));
        return 1;
    }
    clnet_model_info info;
    clnet_model_get_info(m, &info);
    size_t nin = (size_t)2 * info.channels * info.height * info.width;
    size_t nout = (size_t)2 * info.classes;
    snprintf(p2, sizeof p2, "%s/%s.in", dir, name);
    float *x = read_floats(p2, nin);
    snprintf(p2, sizeof p2, "%s/%s.out", dir, name);
    float *want = read_floats(p2, nout);
    float *got = calloc(nout, sizeof *got), *again = calloc(nout, sizeof *again);
    int fail = !x || !want || !got || !again;
    if (!fail && predict(m, x, 2, got)) {
        printf("FAIL %s: %s\n", name, clnet_errmsg(ctx));
        fail = 1;
    }
    double d = fail ? INFINITY : max_diff(got, want, nout);
    printf("%s: %d layers, max |softmax - PyTorch's| = %.3g\n", name, info.layers, d);
    fail |= !(d <= 1e-4);
    /* A checkpoint of the imported model reopens from its own metadata. */
    snprintf(p2, sizeof p2, "%s/%s.safetensors", dir, name);
    clnet_model *back = NULL;
    if (!fail && (clnet_model_save(m, p2, NULL, 0) != CLNET_OK ||
                  clnet_model_open_checkpoint(ctx, p2, &s, &back) != CLNET_OK ||
                  predict(back, x, 2, again))) {
        printf("FAIL %s checkpoint: %s\n", name, clnet_errmsg(ctx));
        fail = 1;
    }
    if (!fail && max_diff(again, got, nout) > 1e-6) {
        printf("FAIL %s: reopened checkpoint differs (%.3g)\n", name, max_diff(again, got, nout));
        fail = 1;
    }
    clnet_model_free(back);
    clnet_model_free(m);
    free(x);
    free(want);
    free(got);
    free(again);
    return fail;
}

static int expect_error(const char *path, clnet_status want, const char *const *words)
{
    clnet_model *m = NULL;
    clnet_status st = clnet_model_load(ctx, path, NULL, &m);
    const char *msg = clnet_errmsg(ctx);
    int fail = st != want || m != NULL;
    for (const char *const *w = words; *w && !fail; w++)
        fail = strstr(msg, *w) == NULL;
    printf("%s %s: %s: %.300s\n", fail ? "FAIL" : "ok", path, clnet_status_name(st), msg);
    clnet_model_free(m);
    return fail;
}

static int errors(const char *dir)
{
    char path[4096], bad[4096];
    int fail = 0;
    snprintf(path, sizeof path, "%s/bad_op.onnx", dir);
    fail |= expect_error(path, CLNET_EUNSUPPORTED,
                         (const char *const[]){"node 0", "my_cos", "Cos", "Supported:", NULL});
    snprintf(path, sizeof path, "%s/bad_attr.onnx", dir);
    fail |= expect_error(path, CLNET_EUNSUPPORTED,
                         (const char *const[]){"my_conv", "auto_pad", "MIRROR", NULL});
    snprintf(path, sizeof path, "%s/bad_pool.onnx", dir);
    fail |= expect_error(path, CLNET_EUNSUPPORTED,
                         (const char *const[]){"my_pool", "MaxPool", "dilations", NULL});
    /* Truncated: the first half of a real model; garbage: random bytes. */
    snprintf(path, sizeof path, "%s/resnet18.onnx", dir);
    FILE *f = fopen(path, "rb");
    if (!f)
        return 1;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)len);
    if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len)
        fail = 1;
    fclose(f);
    long cuts[] = {len / 2, 100, 7, 0};
    for (int i = 0; i < 4 && !fail; i++) {
        snprintf(bad, sizeof bad, "%s/truncated%d.onnx", dir, i);
        f = fopen(bad, "wb");
        fwrite(buf, 1, (size_t)cuts[i], f);
        fclose(f);
        fail |= expect_error(bad, CLNET_EFORMAT, (const char *const[]){"not an ONNX model", NULL});
    }
    snprintf(bad, sizeof bad, "%s/garbage.onnx", dir);
    f = fopen(bad, "wb");
    unsigned r = 12345;
    for (int i = 0; i < 5000; i++) {
        r = r * 1103515245u + 12345u;
        fputc((int)(r >> 16) & 0xff, f);
    }
    fclose(f);
    clnet_model *m = NULL;
    clnet_status st = clnet_model_load(ctx, bad, NULL, &m);
    printf("%s garbage: %s: %.200s\n", st != CLNET_OK && !m ? "ok" : "FAIL",
           clnet_status_name(st), clnet_errmsg(ctx));
    fail |= st == CLNET_OK || m != NULL;
    clnet_model_free(m);
    free(buf);
    return fail;
}

/* ---- node tests ------------------------------------------------------------
 * A node test (model.onnx, test_data_set_0 with input_K.pb, output_0.pb) runs when
 * it fits a clnet model: input 0 is a float tensor of rank 1 to 4, read as
 * NCHW with trailing dims of 1 (elementwise and per-channel ops do not care);
 * further inputs are bound as constants (weights, bias, scale, clip bounds),
 * as initializers would be; one output, flattened into the logits. The
 * importer's node_test option does exactly that (src/onnx/import.h). Its
 * forward runs on the device in inference mode and the raw logits are read
 * back. Anything the importer refuses is a skip with its message. */

static int run_set(const char *model, const char *set, FILE *list, const char *test,
                   int *passed, int *failed, int *skipped)
{
    char path[8192];
    clnet__tensor_set bound = {0};
    clnet__named_tensor in0 = {0}, want = {0};
    const char *reason = NULL;
    snprintf(path, sizeof path, "%s/input_0.pb", set);
    clnet_status st = clnet__onnx_read_tensor_file(ctx, path, &in0);
    for (int k = 1; st == CLNET_OK; k++) {
        clnet__named_tensor t;
        snprintf(path, sizeof path, "%s/input_%d.pb", set, k);
        FILE *f = fopen(path, "rb");
        if (!f)
            break;
        fclose(f);
        st = clnet__onnx_read_tensor_file(ctx, path, &t);
        if (st == CLNET_OK) {
            char name[32];
            snprintf(name, sizeof name, "in%d", k);
            st = clnet__tensor_set_add(ctx, &bound, name, t.ndim, t.shape, t.data);
            free(t.name);
            free(t.data);
        }
    }
    snprintf(path, sizeof path, "%s/output_0.pb", set);
    if (st == CLNET_OK)
        st = clnet__onnx_read_tensor_file(ctx, path, &want);
    snprintf(path, sizeof path, "%s/output_1.pb", set);
    FILE *f2 = fopen(path, "rb");
    if (f2) {
        fclose(f2);
        st = CLNET_EUNSUPPORTED;
        reason = "the test has two outputs (clnet models have one)";
    }
    char *text = NULL;
    clnet__tensor_set w = {0};
    clnet__onnx_import_opts o = {.node_test = 1, .bound = &bound};
    if (st == CLNET_OK)
        st = clnet__onnx_import_ex(ctx, model, &o, &text, &w);
    clnet_model *m = NULL;
    clnet_model_settings s;
    clnet_model_default_settings(&s);
    s.training = 0;
    s.batch = 0; /* the [net] batch: input 0's first dimension */
    if (st == CLNET_OK)
        st = clnet_model_load_string(ctx, model, text, &s, &m);
    if (st == CLNET_OK)
        st = clnet__weights_copy(m, &w, 1, NULL);
    int result = 0; /* 1 pass, -1 fail, 0 skip */
    if (st == CLNET_OK) {
        clnet__graph *g = m->graph;
        size_t nin = 1, nout = 1;
        for (int d = 0; d < in0.ndim; d++)
            nin *= in0.shape[d];
        for (int d = 0; d < want.ndim; d++)
            nout *= want.shape[d];
        size_t have_out = (size_t)g->batch * m->desc->classes;
        size_t have_in = clnet__shape_count((clnet__shape){g->batch, m->desc->channels,
                                                           m->desc->height, m->desc->width});
        float *got = calloc(have_out + 1, sizeof *got);
        if (have_in != nin || have_out != nout || !got) {
            printf("FAIL %s: sizes (input %zu/%zu, output %zu/%zu)\n", test, have_in,
                   nin, have_out, nout);
            result = -1;
        } else {
            clnet__graph_use_slot(g, 0);
            st = clnet__buf_write(ctx, g->input.buf, g->input.off * sizeof(float),
                                  nin * sizeof(float), in0.data);
            if (st == CLNET_OK)
                st = clnet__graph_forward(g, 0, 0);
            if (st == CLNET_OK)
                st = clnet__buf_read(ctx, g->logits.buf, g->logits.off * sizeof(float),
                                     nout * sizeof(float), got);
            double worst = 0;
            for (size_t i = 0; i < nout && st == CLNET_OK; i++) {
                double e = fabs((double)got[i] - want.data[i]);
                double tol = 1e-4 + 1e-4 * fabs((double)want.data[i]);
                if (!(e <= tol) && !(isnan(got[i]) && isnan(want.data[i])))
                    worst = e > worst || isnan(e) ? e : worst, result = -1;
            }
            if (st != CLNET_OK) {
                printf("FAIL %s: %s\n", test, clnet_errmsg(ctx));
                result = -1;
            } else if (result < 0) {
                printf("FAIL %s: max error %.3g\n", test, worst);
            } else {
                result = 1;
            }
        }
        free(got);
    }
    if (result == 0)
        fprintf(list, "%s: %s\n", test, reason ? reason : clnet_errmsg(ctx));
    *passed += result > 0;
    *failed += result < 0;
    *skipped += result == 0;
    clnet_model_free(m);
    free(text);
    clnet__tensor_set_clear(&w);
    clnet__tensor_set_clear(&bound);
    free(in0.name);
    free(in0.data);
    free(want.name);
    free(want.data);
    return result;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int nodes(const char *root, const char *list_path)
{
    DIR *d = opendir(root);
    if (!d) {
        printf("cannot open %s\n", root);
        return 1;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') {
            names = realloc(names, (n + 1) * sizeof *names);
            names[n++] = strdup(e->d_name);
        }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    FILE *list = fopen(list_path, "w");
    if (!list)
        return 1;
    int passed = 0, failed = 0, skipped = 0;
    for (size_t i = 0; i < n; i++) {
        char model[4096], set[4096];
        snprintf(model, sizeof model, "%s/%s/model.onnx", root, names[i]);
        snprintf(set, sizeof set, "%s/%s/test_data_set_0", root, names[i]);
        run_set(model, set, list, names[i], &passed, &failed, &skipped);
        free(names[i]);
    }
    free(names);
    fclose(list);
    printf("%d passed, %d failed (%d skipped, reasons in %s)\n", passed, failed,
           skipped, list_path);
    return failed != 0 || passed == 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_onnx_import compare DIR NAME... | errors DIR | "
                        "nodes NODE_DIR LIST\n");
        return 2;
    }
    clnet_ctx_settings cs;
    clnet_ctx_default_settings(&cs);
    if (clnet_ctx_create(&ctx, &cs) != CLNET_OK) {
        printf("no OpenCL device: %s\n", ctx ? clnet_errmsg(ctx) : "");
        clnet_ctx_free(ctx);
        return 77;
    }
    int fail = 0;
    if (strcmp(argv[1], "compare") == 0)
        for (int i = 3; i < argc; i++)
            fail |= compare(argv[2], argv[i]);
    else if (strcmp(argv[1], "errors") == 0)
        fail = errors(argv[2]);
    else if (strcmp(argv[1], "nodes") == 0 && argc == 4)
        fail = nodes(argv[2], argv[3]);
    else
        fail = 2;
    clnet_ctx_free(ctx);
    return fail;
}
