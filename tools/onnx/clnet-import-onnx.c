/* clnet-import-onnx MODEL.onnx OUT_DIR: an ONNX network as a clnet model file
 * (OUT_DIR/model.cfg) and a checkpoint with its weights
 * (OUT_DIR/model.safetensors), to read, edit, train or run like any other. */
#include "clnet/clnet.h"
#include "clnet/model.h"
#include "onnx/import.h"

#include "../cli.h"

#include <cJSON.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: clnet-import-onnx [--device N] [-v|-q] MODEL.onnx OUT_DIR\n"
            "Writes OUT_DIR/model.cfg (the network as a clnet model file) and\n"
            "OUT_DIR/model.safetensors (a clnet checkpoint holding its weights).\n");
}

/* Temp file in the same folder, then rename: a reader never sees half. */
static int write_text(const char *path, const char *text)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return -1;
    size_t n = strlen(text);
    int ok = fwrite(text, 1, n, f) == n;
    ok = fflush(f) == 0 && ok;
    ok = fsync(fileno(f)) == 0 && ok;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *device = NULL, *in = NULL, *dir = NULL;
    cli_verbosity verb = {1};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--device") == 0 && i + 1 < argc) {
            device = argv[++i];
        } else if (strcmp(argv[i], "-v") == 0) {
            verb.level = 2;
        } else if (strcmp(argv[i], "-q") == 0) {
            verb.level = 0;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "clnet-import-onnx: unknown option %s\n", argv[i]);
            usage(stderr);
            return 2;
        } else if (!in) {
            in = argv[i];
        } else if (!dir) {
            dir = argv[i];
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (!in || !dir) {
        usage(stderr);
        return 2;
    }
    clnet_ctx_settings cs;
    clnet_ctx_default_settings(&cs);
    cs.device = device;
    cs.log = cli_log;
    cs.log_user = &verb;
    cs.log_level = cli_log_level(verb.level);
    clnet_ctx *ctx = NULL;
    if (clnet_ctx_create(&ctx, &cs) != CLNET_OK) {
        fprintf(stderr, "clnet-import-onnx: %s\n", ctx ? clnet_errmsg(ctx) : "no OpenCL device");
        clnet_ctx_free(ctx);
        return 1;
    }
    int rc = 1;
    char *text = NULL;
    clnet__tensor_set w = {0};
    clnet_model *m = NULL;
    char cfg[4096], ckpt[4096];
    snprintf(cfg, sizeof cfg, "%s/model.cfg", dir);
    snprintf(ckpt, sizeof ckpt, "%s/model.safetensors", dir);
    clnet_model_settings ms;
    clnet_model_default_settings(&ms);
    ms.training = 0;
    if (clnet__onnx_import(ctx, in, &text, &w) != CLNET_OK ||
        clnet_model_load_string(ctx, in, text, &ms, &m) != CLNET_OK ||
        clnet__weights_copy(m, &w, 1, NULL) != CLNET_OK) {
        fprintf(stderr, "clnet-import-onnx: %s\n", clnet_errmsg(ctx));
        goto done;
    }
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "clnet-import-onnx: cannot create %s: %s\n", dir, strerror(errno));
        goto done;
    }
    if (write_text(cfg, text) != 0) {
        fprintf(stderr, "clnet-import-onnx: cannot write %s: %s\n", cfg, strerror(errno));
        goto done;
    }
    /* Class names of a clnet export (metadata "classes", a JSON array of
     * one name per class) go into the checkpoint, where clnet-predict and
     * clnet-train --weights read them. */
    clnet_model_info mi;
    clnet_model_get_info(m, &mi);
    char *classes = NULL;
    if (clnet__onnx_meta(ctx, in, "classes", &classes) != CLNET_OK)
        classes = NULL;
    cJSON *arr = classes ? cJSON_Parse(classes) : NULL;
    int ok = cJSON_IsArray(arr) && cJSON_GetArraySize(arr) == mi.classes;
    for (cJSON *c = arr ? arr->child : NULL; ok && c; c = c->next)
        ok = cJSON_IsString(c);
    cJSON_Delete(arr);
    const clnet_meta kv[1] = {{"run.classes", classes}};
    clnet_status sv = clnet_model_save(m, ckpt, ok ? kv : NULL, ok ? 1 : 0);
    free(classes);
    if (sv != CLNET_OK) {
        fprintf(stderr, "clnet-import-onnx: %s\n", clnet_errmsg(ctx));
        goto done;
    }
    clnet_model_info info;
    clnet_model_get_info(m, &info);
    printf("imported %s: %d layers, %zu parameters, input %dx%dx%d, %d classes\n", in,
           info.layers, info.params, info.channels, info.height, info.width,
           info.classes);
    printf("wrote %s (the network as a clnet model file)\n", cfg);
    printf("wrote %s (a clnet checkpoint with the weights and that model text)\n", ckpt);
    printf("next:\n"
           "  clnet-predict %s IMAGE...    # classify with the imported weights\n"
           "  clnet-train %s DATA_DIR      # train it (its weights are the start)\n"
           "  clnet-train %s DATA_DIR      # train the edited model file from scratch\n",
           ckpt, in, cfg);
    rc = 0;
done:
    clnet_model_free(m);
    free(text);
    clnet__tensor_set_clear(&w);
    clnet_ctx_free(ctx);
    return rc;
}
