/* The clnet side of the export tests (check_export.py drives it): trains a
 * model file for a few steps on random data (so weights and batchnorm's
 * running statistics are not their initial values), saves a checkpoint with
 * clnet-train's metadata, reopens it for inference, exports it, and writes
 * what onnxruntime must reproduce.
 *
 * usage: export_check MODEL.cfg OUT_DIR [N] [--roundtrip]
 * Writes into OUT_DIR:
 *   model.safetensors  the checkpoint (run.mean, run.std, run.classes)
 *   model.onnx         exported with the defaults (normalisation from the
 *                      checkpoint, Softmax)
 *   model-raw.onnx     normalize = 0, softmax = 0 (takes normalised input,
 *                      gives logits)
 *   input.bin          N images, float32 pixels in [0, 1], NCHW
 *   input-norm.bin     the same normalised as clnet-predict does
 *   clnet.bin          clnet's probabilities for them, N x classes
 *   info.txt           "N C H W classes"
 * --roundtrip: also exports model-rt.onnx (normalize = 0), loads it back
 * with clnet_model_load (the ONNX importer) and checks that the imported
 * model gives the same probabilities within 1e-5 on the normalised images,
 * and model.onnx (with its normalisation) on the raw pixels (prints the
 * largest differences; exit 1 above it).
 * Exit 77 when no OpenCL platform exists. */
#include "clnet/clnet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SKIP 77
#define TRAIN_STEPS 3
#define SEED 7

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static float uniform(float lo, float hi)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    uint64_t x = rng * 0x2545F4914F6CDD1Dull;
    return lo + (hi - lo) * (float)(x >> 40) * (1.0f / 16777216.0f);
}

static int die(clnet_ctx *ctx, const char *what)
{
    fprintf(stderr, "export_check: %s: %s\n", what, ctx ? clnet_errmsg(ctx) : "");
    return 1;
}

static int write_floats(const char *dir, const char *name, const float *v, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(v, sizeof *v, n, f) == n;
    if (f && fclose(f) != 0)
        ok = 0;
    if (!ok)
        fprintf(stderr, "export_check: cannot write %s\n", path);
    return ok ? 0 : 1;
}

/* A few SGD steps on random images and labels. */
static int train(clnet_ctx *ctx, clnet_model *m, const clnet_model_info *in)
{
    size_t per = (size_t)in->channels * in->height * in->width;
    float *img = malloc((size_t)in->batch * per * sizeof *img);
    int32_t *lab = malloc((size_t)in->batch * sizeof *lab);
    clnet_train_settings ts;
    int rc = !img || !lab;
    if (!rc && (clnet_model_get_train_settings(m, &ts) != CLNET_OK))
        rc = die(ctx, "train settings");
    if (!rc) {
        ts.optimizer = CLNET_OPTIM_SGD;
        ts.lr = 0.01f;
        ts.clip_norm = 1.0f;
        rc = clnet_model_set_train_settings(m, &ts) != CLNET_OK ? die(ctx, "set") : 0;
    }
    for (int s = 0; !rc && s < TRAIN_STEPS; s++) {
        for (size_t i = 0; i < (size_t)in->batch * per; i++)
            img[i] = uniform(-2, 2);
        for (int i = 0; i < in->batch; i++)
            lab[i] = (int32_t)(uniform(0, 1) * (float)in->classes) % in->classes;
        if (clnet_model_set_batch(m, img, lab, in->batch) != CLNET_OK ||
            clnet_model_train_step(m) != CLNET_OK)
            rc = die(ctx, "train step");
    }
    clnet_stats st;
    if (!rc && clnet_model_read_stats(m, &st, 1) != CLNET_OK)
        rc = die(ctx, "read stats");
    free(img);
    free(lab);
    return rc;
}

/* Checkpoint metadata as clnet-train writes it. */
static int save(clnet_ctx *ctx, clnet_model *m, const char *path, int channels,
                int classes, const float *mean, const float *std)
{
    char mean_s[128] = "", std_s[128] = "";
    for (int c = 0; c < channels; c++) {
        size_t a = strlen(mean_s), b = strlen(std_s);
        snprintf(mean_s + a, sizeof mean_s - a, "%s%.9g", c ? "," : "", (double)mean[c]);
        snprintf(std_s + b, sizeof std_s - b, "%s%.9g", c ? "," : "", (double)std[c]);
    }
    /* Names with a quote, a non-ASCII letter and a space: JSON must escape
     * what needs it and keep the rest. */
    size_t cap = (size_t)classes * 32 + 8, len = 1;
    char *classes_s = malloc(cap);
    if (!classes_s)
        return 1;
    strcpy(classes_s, "[");
    for (int k = 0; k < classes; k++)
        len += (size_t)snprintf(classes_s + len, cap - len, "%s\"%s %d\"", k ? "," : "",
                                k == 0 ? "caf\xc3\xa9" : k == 1 ? "say \\\"hi\\\"" : "class",
                                k);
    snprintf(classes_s + len, cap - len, "]");
    const clnet_meta meta[] = {{"run.mean", mean_s}, {"run.std", std_s},
                               {"run.classes", classes_s}};
    int rc = clnet_model_save(m, path, meta, 3) != CLNET_OK ? die(ctx, path) : 0;
    free(classes_s);
    return rc;
}

/* Imports path with clnet_model_load and checks that it gives want for
 * input x (what the exported graph takes). */
static int import_matches(clnet_ctx *ctx, clnet_model *m, const char *path, const float *x,
                          const float *want, int n)
{
    clnet_model_info in;
    clnet_model_get_info(m, &in);
    clnet_model_settings ms;
    clnet_model_default_settings(&ms);
    ms.batch = n;
    ms.training = 0;
    clnet_model *back = NULL;
    float *got = malloc((size_t)n * in.classes * sizeof *got);
    int rc = 0;
    if (!got || clnet_model_load(ctx, path, &ms, &back) != CLNET_OK)
        rc = die(ctx, "importing the export");
    clnet_model_info bi;
    if (!rc && (clnet_model_get_info(back, &bi) != CLNET_OK || bi.classes != in.classes ||
                bi.channels != in.channels || bi.height != in.height ||
                bi.width != in.width)) {
        fprintf(stderr, "export_check: the imported model's shape differs\n");
        rc = 1;
    }
    if (!rc && (clnet_model_set_batch(back, x, NULL, n) != CLNET_OK ||
                clnet_model_predict(back, got) != CLNET_OK))
        rc = die(ctx, "predict with the imported model");
    double worst = 0;
    for (size_t i = 0; !rc && i < (size_t)n * in.classes; i++) {
        double d = got[i] > want[i] ? got[i] - want[i] : want[i] - got[i];
        worst = d > worst || d != d ? d : worst;
    }
    if (!rc) {
        const char *base = strrchr(path, '/');
        printf("round trip (%s): max |imported - exported| %.3g\n", base ? base + 1 : path,
               worst);
        rc = worst <= 1e-5 ? 0 : 1;
    }
    free(got);
    clnet_model_free(back);
    return rc;
}

/* Export without normalisation (the network alone) and import it, fed the
 * normalised images; then the default export (its normalisation nodes
 * become a per-channel 1x1 conv), fed the raw pixels. */
static int round_trip(clnet_ctx *ctx, clnet_model *m, const char *dir, const float *x,
                      const float *xn, const float *want, int n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/model-rt.onnx", dir);
    clnet_onnx_export_options eo;
    clnet_onnx_export_default_options(&eo);
    eo.normalize = 0;
    if (clnet_model_export_onnx(m, path, &eo) != CLNET_OK)
        return die(ctx, path);
    int rc = import_matches(ctx, m, path, xn, want, n);
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    return rc || import_matches(ctx, m, path, x, want, n);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: export_check MODEL.cfg OUT_DIR [N]\n");
        return 2;
    }
    const char *cfg = argv[1], *dir = argv[2];
    int n = argc > 3 ? atoi(argv[3]) : 5;
    int roundtrip = argc > 4 && strcmp(argv[4], "--roundtrip") == 0;
    clnet_device_desc *devs = NULL;
    size_t ndev = 0;
    if (clnet_devices_list(&devs, &ndev, NULL, 0) == CLNET_ENODEV)
        return SKIP;
    clnet_devices_free(devs);
    clnet_ctx_settings cs;
    clnet_ctx_default_settings(&cs);
    clnet_ctx *ctx = NULL;
    if (clnet_ctx_create(&ctx, &cs) != CLNET_OK)
        return die(ctx, "context");

    char ckpt[4096], onnx[4096], raw[4096];
    snprintf(ckpt, sizeof ckpt, "%s/model.safetensors", dir);
    snprintf(onnx, sizeof onnx, "%s/model.onnx", dir);
    snprintf(raw, sizeof raw, "%s/model-raw.onnx", dir);
    clnet_model_settings ms;
    clnet_model_default_settings(&ms);
    ms.batch = n > 8 ? n : 8;
    ms.seed = SEED;
    clnet_model *m = NULL;
    clnet_model_info in;
    float mean[4], std[4];
    for (int c = 0; c < 4; c++) {
        mean[c] = 0.3f + 0.1f * (float)c;
        std[c] = 0.2f + 0.05f * (float)c;
    }
    int rc = 0;
    if (clnet_model_load(ctx, cfg, &ms, &m) != CLNET_OK)
        rc = die(ctx, cfg);
    if (!rc)
        clnet_model_get_info(m, &in);
    if (!rc && n > in.batch)
        n = in.batch;
    if (!rc)
        rc = train(ctx, m, &in);
    if (!rc)
        rc = save(ctx, m, ckpt, in.channels, in.classes, mean, std);
    clnet_model_free(m);
    m = NULL;

    /* What clnet-export-onnx does: the checkpoint alone, for inference. */
    ms.training = 0;
    ms.batch = n;
    if (!rc && clnet_model_open_checkpoint(ctx, ckpt, &ms, &m) != CLNET_OK)
        rc = die(ctx, ckpt);
    if (!rc && clnet_model_export_onnx(m, onnx, NULL) != CLNET_OK)
        rc = die(ctx, onnx);
    clnet_onnx_export_options eo;
    clnet_onnx_export_default_options(&eo);
    eo.normalize = 0;
    eo.softmax = 0;
    if (!rc && clnet_model_export_onnx(m, raw, &eo) != CLNET_OK)
        rc = die(ctx, raw);

    size_t per = (size_t)in.channels * in.height * in.width;
    float *x = malloc((size_t)n * per * sizeof *x);
    float *xn = malloc((size_t)n * per * sizeof *xn);
    float *p = malloc((size_t)n * in.classes * sizeof *p);
    if (!rc && (!x || !xn || !p))
        rc = die(NULL, "out of memory");
    for (size_t i = 0; !rc && i < (size_t)n * per; i++) {
        int c = (int)(i / ((size_t)in.height * in.width) % (size_t)in.channels);
        x[i] = uniform(0, 1);
        xn[i] = (x[i] - mean[c]) / std[c]; /* as clnet-predict */
    }
    if (!rc && (clnet_model_set_batch(m, xn, NULL, n) != CLNET_OK ||
                clnet_model_predict(m, p) != CLNET_OK))
        rc = die(ctx, "predict");
    if (!rc)
        rc = write_floats(dir, "input.bin", x, (size_t)n * per) ||
             write_floats(dir, "input-norm.bin", xn, (size_t)n * per) ||
             write_floats(dir, "clnet.bin", p, (size_t)n * in.classes);
    if (!rc) {
        char path[4096];
        snprintf(path, sizeof path, "%s/info.txt", dir);
        FILE *f = fopen(path, "w");
        rc = !f || fprintf(f, "%d %d %d %d %d\n", n, in.channels, in.height, in.width,
                           in.classes) < 0;
        if (f && fclose(f) != 0)
            rc = 1;
    }
    if (!rc && roundtrip)
        rc = round_trip(ctx, m, dir, x, xn, p, n);
    free(x);
    free(xn);
    free(p);
    clnet_model_free(m);
    clnet_ctx_free(ctx);
    return rc;
}
