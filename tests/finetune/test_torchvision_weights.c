/* torchvision weights into clnet's copies of torchvision's networks:
 * models/NAME.cfg (input resized to the test's SIZE: the networks end with
 * global pooling), filled by name from a PyTorch state_dict saved as
 * safetensors (torchvision_weights.py), must give PyTorch's log_softmax.
 *
 * usage: test_torchvision_weights MODELS_DIR DATA_DIR SIZE NAME...
 * Per NAME: the strict copy fills every parameter and running statistic,
 * the only tensors left over are the I64 num_batches_tracked scalars (as
 * many as NAME.info says), the parameter count is torch's, and
 * max |log(clnet's softmax) - PyTorch's log_softmax| <= 1e-4 (printed).
 * Exit 0 pass, 1 fail, 77 no OpenCL device. */
#include "clnet/clnet.h"
#include "clnet/model.h"
#include "train/weights.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 2            /* images in NAME.in */
#define TOL 1e-4
#define NBT ".num_batches_tracked"

static clnet_ctx *ctx;

static void *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *p = NULL;
    long n = -1;
    if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (p = malloc((size_t)n + 1)) &&
        fread(p, 1, (size_t)n, f) == (size_t)n) {
        p[n] = 0;
        *len = (size_t)n;
    } else {
        free(p);
        p = NULL;
    }
    if (f)
        fclose(f);
    return p;
}

/* The model file with [net]'s height= and width= lines set to size. */
static char *resize_cfg(const char *text, int size)
{
    char *out = malloc(strlen(text) + 64), *o = out;
    int in_net = 0;
    for (const char *p = text; out && *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) + 1 : strlen(p);
        if (*p == '[')
            in_net = strncmp(p, "[net]", 5) == 0;
        if (in_net && (strncmp(p, "height=", 7) == 0 || strncmp(p, "width=", 6) == 0))
            o += sprintf(o, "%.*s=%d\n", (int)(strchr(p, '=') - p), p, size);
        else
            o += sprintf(o, "%.*s", (int)len, p);
        p += len;
    }
    return out;
}

static int check(const char *models, const char *data, int size, const char *name)
{
    char path[4096];
    size_t len = 0, in_len = 0, out_len = 0;
    snprintf(path, sizeof path, "%s/%s.cfg", models, name);
    char *cfg = read_file(path, &len), *text = cfg ? resize_cfg(cfg, size) : NULL;
    snprintf(path, sizeof path, "%s/%s.info", data, name);
    char *info_txt = read_file(path, &len);
    snprintf(path, sizeof path, "%s/%s.in", data, name);
    float *x = read_file(path, &in_len);
    snprintf(path, sizeof path, "%s/%s.out", data, name);
    float *want = read_file(path, &out_len);
    unsigned long params = 0, nbt = 0;
    if (!text || !info_txt || sscanf(info_txt, "%lu %lu", &params, &nbt) != 2 || !x ||
        size < 1 || in_len != sizeof(float) * N * 3 * (size_t)size * (size_t)size || !want) {
        printf("FAIL %s: cannot read its files in %s and %s\n", name, models, data);
        return 1;
    }
    clnet_model_settings s;
    clnet_model_default_settings(&s);
    s.batch = N;
    s.training = 0;
    clnet_model *m = NULL;
    clnet__tensor_set set = {0};
    clnet__weights_result res = {0};
    clnet_model_info mi = {0};
    size_t classes = out_len / sizeof(float) / N;
    float *probs = calloc(N * classes, sizeof *probs);
    int fail = !probs;
    snprintf(path, sizeof path, "%s/%s.safetensors", data, name);
    if (!fail && (clnet_model_load_string(ctx, name, text, &s, &m) != CLNET_OK ||
                  clnet_model_get_info(m, &mi) != CLNET_OK ||
                  clnet__weights_read_safetensors(ctx, path, &set) != CLNET_OK ||
                  clnet__weights_copy(m, &set, 1, &res) != CLNET_OK ||
                  clnet_model_set_batch(m, x, NULL, N) != CLNET_OK ||
                  clnet_model_predict(m, probs) != CLNET_OK)) {
        printf("FAIL %s: %s\n", name, clnet_errmsg(ctx));
        fail = 1;
    }
    if (!fail && (mi.params != params || (size_t)mi.classes != classes ||
                  res.loaded != res.model_tensors || res.n_missing != 0)) {
        printf("FAIL %s: %zu parameters (torch: %lu), %d classes (torch: %zu), "
               "%zu of %zu tensors loaded\n", name, mi.params, params, mi.classes,
               classes, res.loaded, res.model_tensors);
        fail = 1;
    }
    /* Left over: exactly the num_batches_tracked counters, with a reason. */
    int skipped_ok = !fail && res.n_skipped == nbt;
    for (size_t i = 0; skipped_ok && i < res.n_skipped; i++) {
        const char *n = res.skipped[i].name, *why = res.skipped[i].reason;
        size_t l = strlen(n);
        skipped_ok = l > strlen(NBT) && strcmp(n + l - strlen(NBT), NBT) == 0 && why && *why;
        if (!skipped_ok)
            printf("FAIL %s: skipped %s (%s)\n", name, n, why ? why : "no reason");
    }
    if (!fail && !skipped_ok)
        printf("FAIL %s: %zu tensors skipped, expected the %lu num_batches_tracked\n", name,
               res.n_skipped, nbt);
    fail |= !skipped_ok;
    double worst = 0, scale = 0;
    for (size_t i = 0; !fail && i < N * classes; i++) {
        double d = fabs(log((double)probs[i]) - want[i]);
        worst = d > worst || isnan(d) ? d : worst;
        scale = fmax(scale, fabs(want[i]));
    }
    if (!fail) {
        printf("%s: %zu parameters, %zu tensors loaded, %zu skipped (%s: %s); "
               "max |log_softmax - PyTorch's| = %.3g (values up to %.3g)\n",
               name, mi.params, res.loaded, res.n_skipped,
               res.n_skipped ? res.skipped[0].name : "-",
               res.n_skipped ? res.skipped[0].reason : "-", worst, scale);
        fail = !(worst <= TOL);
    }
    clnet__weights_result_free(&res);
    clnet__tensor_set_clear(&set);
    clnet_model_free(m);
    free(cfg);
    free(text);
    free(info_txt);
    free(x);
    free(want);
    free(probs);
    return fail;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: test_torchvision_weights MODELS_DIR DATA_DIR SIZE NAME...\n");
        return 2;
    }
    clnet_device_desc *devs = NULL;
    size_t ndev = 0;
    if (clnet_devices_list(&devs, &ndev, NULL, 0) == CLNET_ENODEV)
        return 77;
    clnet_devices_free(devs);
    clnet_ctx_settings cs;
    clnet_ctx_default_settings(&cs);
    if (clnet_ctx_create(&ctx, &cs) != CLNET_OK) {
        printf("FAIL context: %s\n", ctx ? clnet_errmsg(ctx) : "");
        return 1;
    }
    int fail = 0;
    for (int i = 4; i < argc; i++)
        fail |= check(argv[1], argv[2], atoi(argv[3]), argv[i]);
    clnet_ctx_free(ctx);
    return fail;
}
