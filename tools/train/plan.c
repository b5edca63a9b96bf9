/* clnet-train --plan: the model's device memory at its batch under each
 * memory option and their combinations, with the largest batch that fits
 * this device under each; nothing is trained or allocated. */
#include "run.h"

#include <stdio.h>
#include <string.h>

clnet_precision precision_from_name(const char *name)
{
    if (name && strcmp(name, "fp16-storage") == 0)
        return CLNET_PRECISION_FP16_STORAGE;
    if (name && strcmp(name, "fp16") == 0)
        return CLNET_PRECISION_FP16;
    return CLNET_PRECISION_FP32;
}

typedef struct plan_row {
    const char *name;
    int recompute;            /* 1 on, -1 off */
    clnet_precision precision;
    int accumulate;           /* micro-batches per update */
} plan_row;

static double mib(size_t b) { return (double)b / 1048576.0; }

int train_plan(train_run *r)
{
    const train_opts *o = &r->opts;
    if (!o->model_path) {
        fprintf(stderr, "clnet-train: --plan needs MODEL.cfg\n");
        return 2;
    }
    clnet_model_settings ms;
    clnet_model_default_settings(&ms);
    ms.batch = o->batch > 0 ? o->batch : 0;
    ms.channels = o->in_c;
    ms.height = o->in_h;
    ms.width = o->in_w;
    clnet_memory_plan base;
    ms.recompute = -1;
    if (clnet_model_plan_memory(r->ctx, o->model_path, &ms, &base) != CLNET_OK) {
        fprintf(stderr, "clnet-train: --plan: %s\n", clnet_errmsg(r->ctx));
        return 1;
    }
    int batch = base.batch;
    const plan_row rows[] = {
        {"fp32", -1, CLNET_PRECISION_FP32, 1},
        {"recompute", 1, CLNET_PRECISION_FP32, 1},
        {"fp16-storage", -1, CLNET_PRECISION_FP16_STORAGE, 1},
        {"fp16-storage + recompute", 1, CLNET_PRECISION_FP16_STORAGE, 1},
        {"fp16", -1, CLNET_PRECISION_FP16, 1},
        {"accumulate 2", -1, CLNET_PRECISION_FP32, 2},
        {"accumulate 4", -1, CLNET_PRECISION_FP32, 4},
        {"accumulate 4 + recompute", 1, CLNET_PRECISION_FP32, 4},
        {"accumulate 4 + fp16-storage + recompute", 1, CLNET_PRECISION_FP16_STORAGE, 4},
    };
    printf("memory plans of %s for training at %d images per update on %s "
           "(%.0f MiB)\n\n", o->model_path, batch, clnet_ctx_device_name(r->ctx),
           mib(clnet_ctx_device(r->ctx)->global_mem_bytes));
    printf("%-42s %7s %12s %10s %5s %14s\n", "option", "batch", "activations",
           "total", "fits", "largest batch");
    char last_refusal[512] = "";
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const plan_row *w = &rows[i];
        if (batch % w->accumulate != 0)
            continue;
        ms.batch = batch / w->accumulate;
        ms.recompute = w->recompute;
        ms.precision = w->precision;
        clnet_memory_plan p;
        char micro[32];
        snprintf(micro, sizeof micro, w->accumulate > 1 ? "%dx%d" : "%d", ms.batch,
                 w->accumulate);
        if (clnet_model_plan_memory(r->ctx, o->model_path, &ms, &p) != CLNET_OK) {
            /* One refusal repeats for every row with that option: say it once. */
            const char *why = clnet_errmsg(r->ctx);
            int seen = strcmp(why, last_refusal) == 0;
            printf("%-42s %7s  not available%s%s\n", w->name, micro, seen ? " (as above)" : ": ",
                   seen ? "" : why);
            snprintf(last_refusal, sizeof last_refusal, "%s", why);
            continue;
        }
        char largest[48];
        if (w->accumulate > 1)
            snprintf(largest, sizeof largest, "%dx%d", p.largest_batch, w->accumulate);
        else
            snprintf(largest, sizeof largest, "%d", p.largest_batch);
        printf("%-42s %7s %8.1f MiB %6.1f MiB %5s %14s\n", w->name, micro,
               mib(p.activations), mib(p.total), p.fits ? "yes" : "no", largest);
    }
    printf("\nactivations: layer outputs, their gradients, saved tensors and scratch "
           "(what the options change); total adds parameters, gradients, optimizer "
           "state and the two input batches. accumulate N: N batches of %d/N per "
           "update. Speed: recompute runs each segment's forward twice; see the README "
           "(Fitting a model in memory) for measured step times.\n", batch);
    return 0;
}
