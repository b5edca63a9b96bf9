/* clnet-predict CHECKPOINT PATH...: classify image files (or every image
 * under folders) with a clnet-train checkpoint, or with --model MODEL WEIGHTS
 * a model file and any weights file (predict_model.c); on a class-folder
 * tree also report accuracy, top-5 and the confusion matrix. */
#include "../cli.h"
#include "clnet/clnet.h"
#include "clnet/data.h"
#include "classnames.h"
#include "eval.h"
#include "predict_model.h"
#include "skips.h"

#include <cJSON.h>
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char usage[] =
    "usage: clnet-predict [options] CHECKPOINT PATH...\n"
    "       clnet-predict [options] --model MODEL WEIGHTS PATH...\n"
    "\n"
    "PATH is an image file or a folder (searched recursively). For a folder of\n"
    "class subfolders named like the checkpoint's classes, accuracy, top-5 and\n"
    "the confusion matrix are printed too.\n"
    "  --model MODEL  run MODEL (.cfg or .onnx) with WEIGHTS: a safetensors file\n"
    "                 with every tensor of the model (a torchvision state_dict\n"
    "                 saved as safetensors, a clnet checkpoint)\n"
    "  --classes FILE class names, one per line (default: the checkpoint's, or\n"
    "                 numbers)\n"
    "  --mean a[,b,c], --std a[,b,c]  input normalisation (default: the\n"
    "                 checkpoint's; with --model mean 0, std 1, so give the\n"
    "                 weights' own, e.g. ImageNet's 0.485,0.456,0.406 and\n"
    "                 0.229,0.224,0.225 for torchvision)\n"
    "  --input CxHxW  with --model: another input size (global pooling nets)\n"
    "  --top K        classes shown per image (default 3)\n"
    "  --json         one JSON object per line: {\"file\", \"top\": [{\"class\", \"prob\"}]}\n"
    "  --batch N      images per device batch (default 64)\n"
    "  --device X     OpenCL device (index or name substring)\n"
    "  --quiet-files  with a class-folder tree, print only the summary\n"
    "  -q, -v         quieter, more verbose\n"
    "  -h, --help, --version\n";

typedef struct predict {
    clnet_ctx *ctx;
    clnet_model *model;
    clnet_model_info info;
    char **classes;
    int n_classes;
    float mean[4], std[4];
    int top, json, quiet_files;
    float *images, *probs;
    char **paths;          /* of the images in the current batch */
    int n;                 /* images in the batch */
} predict;

/* --mean/--std: one value for every channel, or one per channel. */
static int parse_norm(const char *s, int c, float *out, const char *what)
{
    float v[4];
    int n = 0;
    const char *q = s;
    while (n < 4) {
        char *end;
        v[n] = strtof(q, &end);
        if (end == q)
            break;
        n++;
        q = end;
        if (*q != ',')
            break;
        q++;
    }
    if (*q || (n != 1 && n != c) || (strcmp(what, "std") == 0 && v[0] <= 0)) {
        fprintf(stderr, "clnet-predict: --%s %s: expected 1 or %d numbers%s\n", what, s, c,
                strcmp(what, "std") == 0 ? " above 0" : "");
        return -1;
    }
    for (int i = 0; i < c; i++)
        out[i] = v[n == 1 ? 0 : i];
    return 0;
}

/* The checkpoint's class names; numbers when it has none (a model run with
 * --model and no --classes). */
static int load_classes(predict *p, int model_mode)
{
    int n = 0;
    p->classes = class_names_from_json(clnet_model_meta(p->model, "run.classes"),
                                       clnet_model_meta(p->model, "run.classes_hex"), &n);
    p->n_classes = n;
    if (!p->classes || n != p->info.classes) {
        if (!model_mode)
            fprintf(stderr, "clnet-predict: the checkpoint lists %d class names for %d "
                            "outputs; using numbers\n", n, p->info.classes);
        for (int i = 0; p->classes && i < n; i++)
            free(p->classes[i]);
        free(p->classes);
        p->classes = calloc((size_t)p->info.classes, sizeof *p->classes);
        for (int i = 0; p->classes && i < p->info.classes; i++) {
            char buf[16];
            snprintf(buf, sizeof buf, "%d", i);
            p->classes[i] = strdup(buf);
        }
        p->n_classes = p->info.classes;
    }
    return p->classes ? 0 : -1;
}

static void load_norm(predict *p)
{
    const char *keys[2] = {"run.mean", "run.std"};
    float *dst[2] = {p->mean, p->std};
    for (int k = 0; k < 2; k++) {
        for (int c = 0; c < 4; c++)
            dst[k][c] = (float)k; /* mean 0, std 1 */
        const char *s = clnet_model_meta(p->model, keys[k]);
        for (int c = 0; s && *s && c < p->info.channels; c++) {
            char *end;
            dst[k][c] = strtof(s, &end);
            s = *end == ',' ? end + 1 : end;
        }
    }
}

static void print_one(predict *p, int i)
{
    const float *pr = p->probs + (size_t)i * p->info.classes;
    int k = p->top < p->info.classes ? p->top : p->info.classes;
    int order[64];
    if (k > 64)
        k = 64;
    for (int t = 0; t < k; t++) {
        int best = -1;
        for (int c = 0; c < p->info.classes; c++) {
            int used = 0;
            for (int u = 0; u < t; u++)
                used |= order[u] == c;
            if (!used && (best < 0 || pr[c] > pr[best]))
                best = c;
        }
        order[t] = best;
    }
    if (p->json) {
        cJSON *o = cJSON_CreateObject(), *arr = cJSON_CreateArray();
        cJSON_AddStringToObject(o, "file", p->paths[i]);
        for (int t = 0; t < k; t++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "class", p->classes[order[t]]);
            cJSON_AddNumberToObject(e, "prob", pr[order[t]]);
            cJSON_AddItemToArray(arr, e);
        }
        cJSON_AddItemToObject(o, "top", arr);
        char *s = cJSON_PrintUnformatted(o);
        puts(s ? s : "{}");
        free(s);
        cJSON_Delete(o);
    } else {
        printf("%s:", p->paths[i]);
        for (int t = 0; t < k; t++)
            printf(" %s %.3f", p->classes[order[t]], (double)pr[order[t]]);
        putchar('\n');
    }
}

static int flush_batch(predict *p)
{
    if (!p->n)
        return 0;
    clnet_status st = clnet_model_set_batch(p->model, p->images, NULL, p->n);
    if (st == CLNET_OK)
        st = clnet_model_predict(p->model, p->probs);
    if (st != CLNET_OK) {
        fprintf(stderr, "clnet-predict: %s\n", clnet_errmsg(p->ctx));
        return -1;
    }
    for (int i = 0; i < p->n; i++) {
        print_one(p, i);
        free(p->paths[i]);
    }
    p->n = 0;
    return 0;
}

static int add_file(predict *p, const char *path)
{
    clnet_dataset_settings ds;
    clnet_dataset_default_settings(&ds);
    ds.channels = p->info.channels;
    ds.height = p->info.height;
    ds.width = p->info.width;
    size_t per = (size_t)ds.channels * ds.height * ds.width;
    float *dst = p->images + (size_t)p->n * per;
    if (clnet_image_load(p->ctx, path, &ds, dst) != CLNET_OK) {
        fprintf(stderr, "clnet-predict: skipping %s\n", clnet_errmsg(p->ctx));
        return 0;
    }
    for (size_t i = 0; i < per; i++) {
        int c = (int)(i / ((size_t)ds.height * ds.width));
        dst[i] = (dst[i] - p->mean[c]) / p->std[c];
    }
    p->paths[p->n++] = strdup(path);
    return p->n == p->info.batch ? flush_batch(p) : 0;
}

static int is_dir(const char *path)
{
    struct stat s;
    return stat(path, &s) == 0 && S_ISDIR(s.st_mode);
}

static int has_class_folders(const predict *p, const char *dir)
{
    char sub[4096];
    for (int c = 0; c < p->n_classes; c++) {
        snprintf(sub, sizeof sub, "%s/%s", dir, p->classes[c]);
        if (!is_dir(sub))
            return 0;
    }
    return p->n_classes > 1;
}

/* A tree whose subfolders are the checkpoint's classes: evaluate it. */
static int evaluate_tree(predict *p, const char *dir)
{
    clnet_dataset_settings ds;
    clnet_dataset_default_settings(&ds);
    ds.channels = p->info.channels;
    ds.height = p->info.height;
    ds.width = p->info.width;
    clnet_dataset *d = NULL;
    if (clnet_dataset_open(p->ctx, dir, &ds, &d) != CLNET_OK) {
        fprintf(stderr, "clnet-predict: %s\n", clnet_errmsg(p->ctx));
        return -1;
    }
    clnet_loader_settings ls;
    clnet_loader_default_settings(&ls);
    ls.mean = p->mean;
    ls.std = p->std;
    ls.cache = CLNET_CACHE_OFF;
    eval_result r;
    int rc = eval_result_init(&r, p->info.classes, 0) == 0 ? 0 : -1;
    if (rc == 0 && eval_dataset(p->ctx, p->model, d, &ls, &r) != CLNET_OK) {
        fprintf(stderr, "clnet-predict: %s\n", clnet_errmsg(p->ctx));
        rc = -1;
    }
    if (rc == 0 && r.n) {
        int k = p->info.classes;
        printf("%s: %llu images, accuracy %.2f%%, top-5 %.2f%%, mean loss %.4f\n", dir,
               (unsigned long long)r.n, 100.0 * r.top1 / r.n, 100.0 * r.top5 / r.n,
               r.loss_sum / r.n);
        /* The files the warnings named, left out of those numbers. */
        clnet_skip_stats sk;
        char skipped[1024];
        clnet_dataset_get_skips(d, &sk);
        if (*skips_describe(&sk, skipped, sizeof skipped))
            printf("%s: %s\n", dir, skipped);
        if (k <= 30) {
            printf("confusion matrix (rows: true class, columns: predicted)\n%14s", "");
            for (int c = 0; c < k; c++)
                printf(" %6.6s", p->classes[c]);
            putchar('\n');
            for (int t = 0; t < k; t++) {
                printf("%14.14s", p->classes[t]);
                for (int c = 0; c < k; c++)
                    printf(" %6llu", (unsigned long long)r.confusion[(size_t)t * k + c]);
                putchar('\n');
            }
        }
    }
    eval_result_free(&r);
    clnet_dataset_free(d);
    return rc;
}

static int walk(predict *p, const char *path, int depth)
{
    if (!is_dir(path))
        return add_file(p, path);
    if (depth > 64)
        return 0;
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "clnet-predict: cannot open %s\n", path);
        return 0;
    }
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        rc = walk(p, sub, depth + 1);
    }
    closedir(d);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"top", 1, 0, 't'}, {"json", 0, 0, 'j'}, {"batch", 1, 0, 'b'},
        {"device", 1, 0, 'd'}, {"quiet-files", 0, 0, 'Q'}, {"help", 0, 0, 'h'},
        {"version", 0, 0, 'V'}, {"model", 1, 0, 'M'}, {"classes", 1, 0, 'C'},
        {"mean", 1, 0, 'm'}, {"std", 1, 0, 's'}, {"input", 1, 0, 'I'}, {0, 0, 0, 0}};
    const char *model = NULL, *class_file = NULL, *mean = NULL, *std = NULL;
    int in[3] = {0, 0, 0};
    predict p = {.top = 3};
    int batch = 64, c;
    const char *device = NULL;
    cli_verbosity verb = {1};
    while ((c = getopt_long(argc, argv, "hqv", longopts, NULL)) != -1) {
        switch (c) {
        case 't': p.top = atoi(optarg); break;
        case 'j': p.json = 1; break;
        case 'b': batch = atoi(optarg); break;
        case 'd': device = optarg; break;
        case 'Q': p.quiet_files = 1; break;
        case 'M': model = optarg; break;
        case 'C': class_file = optarg; break;
        case 'm': mean = optarg; break;
        case 's': std = optarg; break;
        case 'I':
            if (sscanf(optarg, "%dx%dx%d", &in[0], &in[1], &in[2]) != 3 || in[0] < 1 ||
                in[0] > 4 || in[1] < 1 || in[2] < 1) {
                fprintf(stderr, "clnet-predict: --input %s: expected CxHxW, e.g. "
                                "3x224x224\n", optarg);
                return 2;
            }
            break;
        case 'q': verb.level = 0; break;
        case 'v': verb.level++; break;
        case 'h': fputs(usage, stdout); return 0;
        case 'V': printf("clnet-predict %s\n", clnet_version()); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (argc - optind < 2 || p.top < 1 || batch < 1 || batch > 4096) {
        fputs(usage, stderr);
        return 2;
    }
    clnet_ctx_settings cs;
    clnet_ctx_default_settings(&cs);
    cs.device = device;
    cs.log = cli_log;
    cs.log_user = &verb;
    cs.log_level = cli_log_level(verb.level);
    clnet_model_settings ms;
    clnet_model_default_settings(&ms);
    ms.batch = batch;
    ms.training = 0;
    int rc = 1;
    ms.channels = in[0];
    ms.height = in[1];
    ms.width = in[2];
    if (clnet_ctx_create(&p.ctx, &cs) != CLNET_OK) {
        fprintf(stderr, "clnet-predict: %s\n", p.ctx ? clnet_errmsg(p.ctx) : "no device");
        goto out;
    }
    if (model) {
        if (predict_open_model(p.ctx, model, argv[optind], &ms, &p.model) != 0)
            goto out;
    } else if (clnet_model_open_checkpoint(p.ctx, argv[optind], &ms, &p.model) != CLNET_OK) {
        fprintf(stderr, "clnet-predict: %s\n", clnet_errmsg(p.ctx));
        goto out;
    }
    clnet_model_get_info(p.model, &p.info);
    if (class_file) {
        if (!(p.classes = predict_read_class_file(class_file, p.info.classes)))
            goto out;
        p.n_classes = p.info.classes;
    } else if (load_classes(&p, model != NULL) != 0) {
        goto out;
    }
    load_norm(&p);
    if ((mean && parse_norm(mean, p.info.channels, p.mean, "mean")) ||
        (std && parse_norm(std, p.info.channels, p.std, "std")))
        goto out;
    size_t per = (size_t)p.info.channels * p.info.height * p.info.width;
    p.images = malloc((size_t)batch * per * sizeof(float));
    p.probs = malloc((size_t)batch * p.info.classes * sizeof(float));
    p.paths = calloc((size_t)batch, sizeof *p.paths);
    if (!p.images || !p.probs || !p.paths)
        goto out;
    rc = 0;
    for (int i = optind + 1; i < argc && rc == 0; i++) {
        int tree = is_dir(argv[i]) && has_class_folders(&p, argv[i]);
        if (!(tree && p.quiet_files))
            rc = walk(&p, argv[i], 0) || flush_batch(&p);
        if (rc == 0 && tree)
            rc = evaluate_tree(&p, argv[i]);
    }
    rc = rc ? 1 : 0;
out:
    for (int i = 0; i < p.n_classes; i++)
        free(p.classes[i]);
    free(p.classes);
    free(p.images);
    free(p.probs);
    free(p.paths);
    clnet_model_free(p.model);
    clnet_ctx_free(p.ctx);
    return rc;
}
