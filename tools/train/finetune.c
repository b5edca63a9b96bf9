/* clnet-train --weights: a run that starts from weights trained elsewhere.
 * Every tensor of the file whose name and shape match one of the model's is
 * copied (PyTorch's dotted module paths match clnet's '_' names); the rest
 * are listed with the reason, and so are the model's tensors left as
 * initialised (a replaced final layer). Nothing matching is an error: a run
 * that silently trains from scratch is not what was asked for. */
#include "run.h"

#include "classnames.h"
#include "train/weights.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Up to `show` entries of a list, then how many more. */
static int is_onnx_path(const char *p)
{
    size_t n = strlen(p);
    return n >= 5 && strcasecmp(p + n - 5, ".onnx") == 0;
}

static int is_counter(const char *name)
{
    size_t n = strlen(name), k = strlen("num_batches_tracked");
    return n >= k && strcmp(name + n - k, "num_batches_tracked") == 0;
}

/* Up to `show` entries of a list, then how many more; PyTorch's batchnorm
 * step counters in one line (a file has one per batchnorm). */
static void print_list(const char *title, const clnet__weights_skip *l, size_t n,
                       size_t show)
{
    if (!n || !show)
        return;
    size_t counters = 0, shown = 0;
    for (size_t i = 0; i < n; i++)
        counters += is_counter(l[i].name) != 0;
    printf("         %s (%zu):\n", title, n);
    for (size_t i = 0; i < n && shown < show; i++)
        if (!is_counter(l[i].name) && ++shown)
            printf("           %s: %s\n", l[i].name, l[i].reason);
    if (n - counters > shown)
        printf("           ... and %zu more\n", n - counters - shown);
    if (counters)
        printf("           %zu num_batches_tracked: PyTorch's batchnorm step counters, "
               "not weights\n", counters);
}

/* 1 when path is a clnet checkpoint trained on exactly the data's classes
 * (names, in order): then its final layer is kept, and the run continues
 * training it; weights for other classes, or without class names (PyTorch,
 * ONNX), get a new final layer. */
static int same_classes(train_run *r, clnet__st_file *f)
{
    int n = 0, same = 0;
    char **names = f ? class_names_from_json(clnet__st_meta_get(f, "run.classes"),
                                             clnet__st_meta_get(f, "run.classes_hex"), &n)
                     : NULL;
    if (names && n == clnet_dataset_classes(r->all)) {
        same = 1;
        for (int c = 0; c < n; c++)
            same = same && strcmp(names[c], clnet_dataset_class_name(r->all, c)) == 0;
    }
    for (int c = 0; names && c < n; c++)
        free(names[c]);
    free(names);
    return same;
}

int finetune_load_weights(train_run *r)
{
    const char *path = r->opts.weights;
    clnet__tensor_set set = {0};
    clnet__weights_result res = {0};
    clnet_status st = clnet__weights_read(r->ctx, path, &set);
    if (st == CLNET_OK)
        st = clnet__weights_copy(r->model, &set, 0, &res);
    clnet__st_file *f = NULL;
    if (st == CLNET_OK && !is_onnx_path(path) && clnet__st_open(r->ctx, path, &f) != CLNET_OK)
        f = NULL; /* read a moment ago: the names are only lost, not needed */
    int keep_head = same_classes(r, f);
    size_t zeroed = 0;
    if (st == CLNET_OK)
        st = clnet__weights_zero_head(r->model, &res, !keep_head, &zeroed);
    if (st != CLNET_OK) {
        fprintf(stderr, "clnet-train: --weights %s: %s\n", path,
                *clnet_errmsg(r->ctx) ? clnet_errmsg(r->ctx) : clnet_strerror(st));
        clnet__st_close(f);
        clnet__tensor_set_clear(&set);
        clnet__weights_result_free(&res);
        return -1;
    }
    /* -q: nothing; default: the first 12 of each list; -v: all. */
    size_t show = r->opts.verbosity > 1 ? (size_t)-1 : r->opts.verbosity ? 12 : 0;
    if (show)
        printf("weights  %s: %zu of the model's %zu tensors loaded\n", path, res.loaded,
               res.model_tensors);
    print_list("skipped from the file", res.skipped, res.n_skipped, show);
    if (res.n_missing && show) {
        printf("         kept as initialised (%zu):", res.n_missing);
        for (size_t i = 0; i < res.n_missing && i < show; i++)
            printf("%s %s", i ? "," : "", res.missing[i].name);
        printf("%s\n", res.n_missing > show ? ", ..." : "");
    }
    if (zeroed && show)
        printf("         the final layer starts at zero (a uniform prediction): %s\n",
               keep_head ? "not in the file"
                         : "the weights were not trained on these classes");
    /* A clnet checkpoint knows the normalisation its weights were trained
     * with: keep it unless --mean/--std say otherwise. */
    if (f) {
        const char *mean = clnet__st_meta_get(f, "run.mean");
        const char *std = clnet__st_meta_get(f, "run.std");
        if (mean && std && !r->opts.mean && !r->opts.std &&
            snprintf(r->ft_mean, sizeof r->ft_mean, "%s", mean) < (int)sizeof r->ft_mean &&
            snprintf(r->ft_std, sizeof r->ft_std, "%s", std) < (int)sizeof r->ft_std) {
            r->opts.mean = r->ft_mean;
            r->opts.std = r->ft_std;
            if (show)
                printf("         normalisation of the checkpoint kept: mean %s, std %s\n",
                   mean, std);
        }
        clnet__st_close(f);
    }
    clnet__tensor_set_clear(&set);
    clnet__weights_result_free(&res);
    return 0;
}

int finetune_freeze(train_run *r)
{
    const char *list = r->opts.freeze;
    clnet_status st;
    if (strcmp(list, "backbone") == 0) {
        st = clnet_model_set_backbone_frozen(r->model, 1);
    } else {
        char buf[1024];
        const char *prefixes[64];
        size_t n = 0;
        snprintf(buf, sizeof buf, "%s", list);
        char *save = NULL;
        for (char *t = strtok_r(buf, ",", &save); t && n < 64; t = strtok_r(NULL, ",", &save))
            prefixes[n++] = t;
        st = n ? clnet_model_set_frozen(r->model, prefixes, n, 1) : CLNET_EINVAL;
    }
    if (st != CLNET_OK) {
        fprintf(stderr, "clnet-train: --freeze %s: %s\n", list,
                *clnet_errmsg(r->ctx) ? clnet_errmsg(r->ctx)
                                      : "expected layer-name prefixes or 'backbone'");
        return -1;
    }
    if (r->opts.verbosity)
        printf("freeze   %s: %zu of %zu parameters fixed (frozen batchnorms use their "
               "running statistics)\n", list, clnet_model_frozen_params(r->model),
               r->info.params);
    return 0;
}
