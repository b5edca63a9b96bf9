#include "predict_model.h"

#include "train/weights.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int predict_open_model(clnet_ctx *ctx, const char *model_path, const char *weights,
                       const clnet_model_settings *ms, clnet_model **out)
{
    clnet__tensor_set set = {0};
    clnet__weights_result res = {0};
    clnet_status st = clnet_model_load(ctx, model_path, ms, out);
    if (st == CLNET_OK)
        st = clnet__weights_read(ctx, weights, &set);
    if (st == CLNET_OK)
        st = clnet__weights_copy(*out, &set, 1, &res);
    if (st != CLNET_OK)
        fprintf(stderr, "clnet-predict: %s\n", clnet_errmsg(ctx));
    clnet__tensor_set_clear(&set);
    clnet__weights_result_free(&res);
    if (st != CLNET_OK) {
        clnet_model_free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

char **predict_read_class_file(const char *path, int n)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "clnet-predict: --classes %s: cannot open\n", path);
        return NULL;
    }
    char **names = calloc((size_t)n + 1, sizeof *names);
    char line[1024];
    int k = 0, lineno = 0, ok = names != NULL;
    while (ok && fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0])
            continue;
        if (k == n) {
            fprintf(stderr, "clnet-predict: --classes %s:%d: more than the model's %d "
                            "classes\n", path, lineno, n);
            ok = 0;
        } else if (!(names[k++] = strdup(line))) {
            ok = 0;
        }
    }
    fclose(f);
    if (ok && k != n) {
        fprintf(stderr, "clnet-predict: --classes %s: %d names for the model's %d classes\n",
                path, k, n);
        ok = 0;
    }
    if (!ok) {
        for (int i = 0; names && i < n; i++)
            free(names[i]);
        free(names);
        return NULL;
    }
    return names;
}
