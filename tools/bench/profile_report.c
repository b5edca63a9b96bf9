/* Aggregating profiler records by (phase, layer) and by kernel name. */
#include "profile_report.h"

#include <stdlib.h>
#include <string.h>

typedef struct row {
    double region_ns;  /* marker to marker: everything enqueued in between */
    double kernel_ns;  /* recorded commands */
    double launches;   /* kernel launches (clnet's and CLBlast's) */
    double fills;      /* fills and copies */
} row;

typedef struct kstat {
    char name[48];
    double ns, count;
    unsigned phases;   /* bit per clnet__prof_phase */
} kstat;

typedef struct agg {
    int L;
    row *fwd, *bwd;            /* per layer */
    row loss, zero, update, other;
    kstat *k;
    size_t nk, capk;
    int steps;
} agg;

static row *row_of(agg *a, clnet__prof_phase ph, int layer)
{
    switch (ph) {
    case CLNET__PROF_FORWARD:
        return layer >= 0 && layer < a->L ? &a->fwd[layer] : &a->other;
    case CLNET__PROF_BACKWARD:
        return layer >= 0 && layer < a->L ? &a->bwd[layer] : &a->zero;
    case CLNET__PROF_LOSS: return &a->loss;
    case CLNET__PROF_UPDATE: return &a->update;
    default: return &a->other;
    }
}

static int is_fill(const char *name)
{
    return strcmp(name, "fill") == 0 || strcmp(name, "copy") == 0;
}

static void add_kernel(agg *a, const clnet__prof_record *r)
{
    size_t i = 0;
    while (i < a->nk && strcmp(a->k[i].name, r->name) != 0)
        i++;
    if (i == a->nk) {
        if (a->nk == a->capk) {
            size_t cap = a->capk ? 2 * a->capk : 64;
            kstat *k = realloc(a->k, cap * sizeof *k);
            if (!k)
                return;
            a->k = k;
            a->capk = cap;
        }
        memset(&a->k[i], 0, sizeof a->k[i]);
        memcpy(a->k[i].name, r->name, sizeof a->k[i].name);
        a->nk++;
    }
    a->k[i].ns += (double)(r->end - r->start);
    a->k[i].count += 1;
    a->k[i].phases |= 1u << r->phase;
}

static void aggregate(agg *a, const report_input *in)
{
    const clnet__prof_record *prev = NULL;
    for (size_t i = 0; i < in->n_rec; i++) {
        const clnet__prof_record *r = &in->rec[i];
        if (r->kind == CLNET__PROF_MARK) {
            if (prev && r->end >= prev->end)
                row_of(a, prev->phase, prev->layer)->region_ns +=
                    (double)(r->end - prev->end);
            if (r->phase == CLNET__PROF_FORWARD && r->layer == 0)
                a->steps++;
            prev = r;
            continue;
        }
        row *w = row_of(a, r->phase, r->layer);
        w->kernel_ns += r->end >= r->start ? (double)(r->end - r->start) : 0;
        if (is_fill(r->name))
            w->fills += 1;
        else
            w->launches += 1;
        add_kernel(a, r);
    }
}

static double ms(double ns, int steps) { return ns / 1e6 / steps; }

static double rate(double units, double ns, int steps)
{
    return ns > 0 ? units / (ns / steps) : 0; /* units per ns = G units/s */
}

static void print_row(FILE *f, const char *idx, const char *name, const char *op,
                      const char *shape, const row *fw, const row *bw,
                      double fl_f, double fl_b, double by_f, double by_b,
                      double step_ns, int steps)
{
    double f_ns = fw ? fw->region_ns : 0, b_ns = bw ? bw->region_ns : 0;
    double k_ns = (fw ? fw->kernel_ns : 0) + (bw ? bw->kernel_ns : 0);
    double launches = (fw ? fw->launches + fw->fills : 0) +
                      (bw ? bw->launches + bw->fills : 0);
    fprintf(f, "| %s | %s | %s | %s |", idx, name, op, shape);
    fprintf(f, fw ? " %.2f |" : " |", ms(f_ns, steps));
    fprintf(f, bw ? " %.2f |" : " |", ms(b_ns, steps));
    if (fl_f > 0 && f_ns > 0)
        fprintf(f, " %.1f |", rate(fl_f, f_ns, steps));
    else
        fprintf(f, " |");
    if (fl_b > 0 && b_ns > 0)
        fprintf(f, " %.1f |", rate(fl_b, b_ns, steps));
    else
        fprintf(f, " |");
    fprintf(f, " %.1f / %.1f |", by_f / 1e6, by_b / 1e6);
    double t = f_ns + b_ns;
    fprintf(f, " %.1f |", t > 0 ? rate(by_f + by_b, t, steps) : 0);
    fprintf(f, " %.1f%% | %.0f%% | %.1f |\n", step_ns > 0 ? 100 * t / step_ns : 0,
            t > 0 ? 100 * k_ns / t : 0, launches / steps);
}

static int by_time(const void *x, const void *y)
{
    double a = ((const kstat *)x)->ns, b = ((const kstat *)y)->ns;
    return (a < b) - (a > b);
}

static void phases_text(unsigned m, char *buf, size_t cap)
{
    static const char *const names[] = {"other", "fwd", "loss", "bwd", "update"};
    buf[0] = '\0';
    size_t len = 0;
    for (int p = 0; p < CLNET__PROF_PHASES && len + 8 < cap; p++)
        if (m & (1u << p))
            len += (size_t)snprintf(buf + len, cap - len, "%s%s", len ? "+" : "",
                                    names[p]);
}

report_totals report_print(FILE *f, const report_input *in, int top)
{
    report_totals t = {0};
    agg a = {.L = in->n_layers};
    a.fwd = calloc((size_t)a.L + 1, sizeof *a.fwd);
    a.bwd = calloc((size_t)a.L + 1, sizeof *a.bwd);
    if (!a.fwd || !a.bwd) {
        free(a.fwd);
        free(a.bwd);
        return t;
    }
    aggregate(&a, in);
    int S = a.steps;
    t.steps = S;
    if (S == 0)
        goto out;
    double step_ns = 0, flops = in->update_flops;
    for (int i = 0; i < a.L; i++) {
        step_ns += a.fwd[i].region_ns + a.bwd[i].region_ns;
        flops += in->layers[i].flops_fwd + in->layers[i].flops_bwd;
    }
    step_ns += a.loss.region_ns + a.zero.region_ns + a.update.region_ns +
               a.other.region_ns;
    for (size_t i = 0; i < a.nk; i++) {
        t.kernel_ns += a.k[i].ns;
        int clb = strncmp(a.k[i].name, "[clblast]", 9) == 0;
        if (clb) {
            t.clblast_ns += a.k[i].ns;
            t.clblast_launches += a.k[i].count;
        }
        if (is_fill(a.k[i].name))
            t.fills += a.k[i].count;
        else
            t.launches += a.k[i].count;
    }
    t.step_ns = step_ns / S;
    t.kernel_ns /= S;
    t.clblast_ns /= S;
    t.launches /= S;
    t.clblast_launches /= S;
    t.fills /= S;
    t.flops = flops;

    fprintf(f, "| # | layer | op | output | fwd ms | bwd ms | fwd GFLOP/s | "
               "bwd GFLOP/s | MB fwd / bwd | GB/s | share | busy | launches |\n"
               "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < a.L; i++) {
        const report_layer *l = &in->layers[i];
        char idx[16], shape[48];
        snprintf(idx, sizeof idx, "%d", i);
        snprintf(shape, sizeof shape, "%dx%dx%dx%d", l->n, l->c, l->h, l->w);
        print_row(f, idx, l->name, l->op, shape, &a.fwd[i], &a.bwd[i], l->flops_fwd,
                  l->flops_bwd, l->bytes_fwd, l->bytes_bwd, step_ns, S);
    }
    print_row(f, "", "loss", "softmax xent", "", &a.loss, NULL, 0, 0, 0, 0, step_ns, S);
    print_row(f, "", "zero grads", "fill", "", NULL, &a.zero, 0, 0, 0, 0, step_ns, S);
    print_row(f, "", "update", in->optimizer, "", NULL, &a.update, 0, in->update_flops,
              0, in->update_bytes, step_ns, S);
    if (a.other.region_ns > 0 || a.other.launches > 0)
        print_row(f, "", "other", "", "", &a.other, NULL, 0, 0, 0, 0, step_ns, S);
    double ff = 0, fb = 0, tf = 0, tb = 0;
    for (int i = 0; i < a.L; i++) {
        ff += in->layers[i].flops_fwd;
        fb += in->layers[i].flops_bwd;
        tf += a.fwd[i].region_ns;
        tb += a.bwd[i].region_ns;
    }
    fprintf(f, "| | **layers** | | | **%.2f** | **%.2f** | %.1f | %.1f | | | "
               "| | |\n",
            ms(tf, S), ms(tb + a.zero.region_ns, S), rate(ff, tf, S),
            rate(fb, tb + a.zero.region_ns, S));
    fprintf(f, "\nfwd/bwd ms: device time per step from marker to marker (every "
               "command between them: clnet's kernels, CLBlast's, fills, and any "
               "wait for the host). busy: recorded command time / that time. "
               "MB: estimated compulsory traffic (inputs, parameters, outputs and "
               "their gradients; no scratch). GFLOP/s on plan.flops_forward; "
               "backward = 1x forward per GEMM product (2x for conv/dense with an "
               "input gradient).\n");

    qsort(a.k, a.nk, sizeof *a.k, by_time);
    fprintf(f, "\n| kernel | phases | launches/step | ms/step | µs/launch | share |\n"
               "|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < a.nk && (int)i < top; i++) {
        char ph[64];
        phases_text(a.k[i].phases, ph, sizeof ph);
        fprintf(f, "| %s | %s | %.1f | %.2f | %.0f | %.1f%% |\n", a.k[i].name, ph,
                a.k[i].count / S, ms(a.k[i].ns, S), a.k[i].ns / a.k[i].count / 1e3,
                100 * a.k[i].ns / S / t.step_ns);
    }
    if (a.nk > (size_t)top)
        fprintf(f, "| (%zu more) | | | | | |\n", a.nk - (size_t)top);
out:
    free(a.fwd);
    free(a.bwd);
    free(a.k);
    return t;
}
