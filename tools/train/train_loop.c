/* The epoch loop of clnet-train: batches from the loader (decoded ahead by
 * its threads) are uploaded while the previous step computes; the host reads
 * the loss counters back every --log-every steps only. */
#include "run.h"

#include "progress.h"
#include "skips.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* Reads and resets the device's counters into the epoch's sums and a
 * metrics.csv row. */
static int read_counters(train_run *r, uint64_t step, double epoch_f, float lr)
{
    clnet_stats s;
    if (replicas_read_stats(r, &s) != 0 || world_sum_stats(r, &s) != 0)
        return -1;
    if (s.nonfinite && r->world.rank > 0)
        return -2; /* rank 0 explains */
    if (s.nonfinite) {
        char where[256] = "";
        clnet_model_find_nonfinite(r->model, where, sizeof where);
        fprintf(stderr,
                "\nclnet-train: the loss or a gradient became NaN/Inf near step %llu "
                "(epoch %.2f)%s%s: training diverged. Try a lower learning rate, e.g. "
                "--lr %g. The last good checkpoint (if any) is %s/last.safetensors.\n",
                (unsigned long long)step, epoch_f, where[0] ? ": " : "", where,
                (double)r->recipe.lr / 10, r->out_dir);
        return -2;
    }
    r->loss_scale = s.loss_scale;
    r->skipped_updates = s.skipped_updates;
    if (s.samples > 0) {
        r->ep_loss += s.loss_sum;
        r->ep_correct += s.correct;
        r->ep_samples += s.samples;
        report_point p = {step, epoch_f, s.loss_sum / s.samples, s.correct / s.samples, lr};
        run_add_point(r, &p);
    }
    return 0;
}

static int validate(train_run *r, report_epoch *row)
{
    row->val_loss = row->val_top1 = row->val_top5 = -1;
    if (!r->val || r->world.rank > 0) /* under mpirun rank 0 validates */
        return 0;
    eval_result_free(&r->last_eval);
    if (eval_result_init(&r->last_eval, r->info.classes, 64) != 0) {
        fprintf(stderr, "clnet-train: out of memory\n");
        return -1;
    }
    clnet_status st = eval_dataset(r->ctx, r->model, r->val, &r->loader, &r->last_eval);
    if (st != CLNET_OK) {
        fprintf(stderr, "clnet-train: validation: %s\n", clnet_errmsg(r->ctx));
        return -1;
    }
    double n = r->last_eval.n ? (double)r->last_eval.n : 1;
    row->val_loss = r->last_eval.loss_sum / n;
    row->val_top1 = r->last_eval.top1 / n;
    row->val_top5 = r->last_eval.top5 / n;
    return 0;
}

/* --bench: steps excluded from the steady rate (kernel builds, warm-up). */
#define BENCH_SKIP 20

/* --bench: waits for the device (the counters stay), so a time taken after
 * it covers the steps before it. */
static int bench_sync(train_run *r)
{
    clnet_stats s;
    if (clnet_model_read_stats(r->model, &s, 0) == CLNET_OK)
        return 0;
    fprintf(stderr, "\nclnet-train: %s\n", clnet_errmsg(r->ctx));
    return -1;
}

static void bench_first_step(const train_run *r, double t_data)
{
    double t = progress_now();
    printf("bench: start-up context %.3f s, model %.3f s, data and loader %.3f s, "
           "first step %.3f s; first step done %.3f s after start\n",
           r->t_ctx - r->t_start, r->t_model - r->t_ctx, t_data - r->t_model,
           t - t_data, t - r->t_start);
    fflush(stdout);
}

static void bench_epoch(uint32_t epoch, uint64_t steps, int batch, double secs)
{
    if (steps == 0 || secs <= 0)
        return;
    printf("bench: epoch %u steady %.1f img/s over %llu steps after the first %d\n",
           epoch + 1, (double)steps * batch / secs, (unsigned long long)steps,
           BENCH_SKIP);
    fflush(stdout);
}

/* Ctrl-C: save where we are and tell the user how to continue. The counters
 * not read yet stay in the checkpoint (clnet_model_save keeps them), so the
 * resumed run's next metrics.csv row is the one this run would have written. */
static int interrupted(train_run *r, uint32_t epoch, uint64_t next_batch)
{
    if (r->world.rank > 0)
        return 130; /* rank 0 saves */
    fprintf(stderr, "\nclnet-train: interrupted; saving %s/last.safetensors\n", r->out_dir);
    if (run_dir_save(r, "last.safetensors", epoch, next_batch) != 0)
        return 1;
    if (next_batch)
        run_dir_report(r); /* the curves so far */
    fprintf(stderr, "resume with:\n  %s --resume %s/last.safetensors\n", r->argv0,
            r->out_dir);
    return 130;
}

int train_loop(train_run *r)
{
    clnet_loader *ld = NULL;
    const clnet_dataset *tr = r->train ? r->train : r->all;
    clnet_status st = clnet_loader_create(r->ctx, tr, &r->loader, &ld);
    if (st != CLNET_OK) {
        fprintf(stderr, "clnet-train: loader: %s\n", clnet_errmsg(r->ctx));
        return 1;
    }
    /* Resumed from the end of the best epoch: the model is that epoch's, so
     * best.safetensors is written again, the same bytes, in case the run
     * stopped between its last and best saves. */
    if (r->opts.resume && r->start_batch == 0 && r->start_epoch > 0 &&
        r->best_epoch == (int)r->start_epoch &&
        run_dir_save(r, "best.safetensors", r->start_epoch, 0) != 0) {
        clnet_loader_free(ld);
        return 1;
    }
    int rc = 0;
    uint64_t batch_images = (uint64_t)r->global_batch;
    double t_run = progress_now();
    int bench_first = r->opts.bench;
    for (uint32_t epoch = r->start_epoch; epoch < (uint32_t)r->epochs && rc == 0; epoch++) {
        uint64_t first = epoch == r->start_epoch ? r->start_batch : 0;
        if (first > r->steps_per_epoch)
            first = r->steps_per_epoch;
        st = clnet_loader_start_epoch(ld, epoch, first);
        progress pg;
        progress_start(&pg, stdout, (int)epoch + 1, r->epochs, r->steps_per_epoch);
        if (first == 0) /* else the checkpoint's epoch in progress goes on */
            r->ep_loss = r->ep_correct = r->ep_samples = r->ep_seconds = 0;
        double t0 = progress_now(), secs_before = r->ep_seconds;
        uint64_t done = first;
        /* The schedule counts updates (with --accumulate, one per
         * accumulate batches). */
        uint64_t k = (uint64_t)r->accumulate;
        float lr = clnet__lr_at(&r->schedule, r->recipe.lr,
                                done ? clnet_model_step(r->model) - 1 : 0, r->updates_per_epoch,
                                (uint32_t)r->epochs);
        double t_steady = 0;
        const clnet_batch *b = NULL;
        while (st == CLNET_OK && done < r->steps_per_epoch &&
               (st = clnet_loader_next(ld, &b)) == CLNET_OK && b) {
            uint64_t step = clnet_model_step(r->model);
            lr = clnet__lr_at(&r->schedule, r->recipe.lr, step, r->updates_per_epoch,
                              (uint32_t)r->epochs);
            st = replicas_step(r, b, lr);
            if (st != CLNET_OK)
                break;
            done++;
            if (r->opts.bench && (bench_first || done == first + BENCH_SKIP)) {
                if (bench_sync(r) != 0) {
                    st = CLNET_EOPENCL;
                    break;
                }
                if (bench_first)
                    bench_first_step(r, t_run);
                if (done == first + BENCH_SKIP)
                    t_steady = progress_now();
                bench_first = 0;
            }
            double epoch_f = epoch + (double)done / (double)r->steps_per_epoch;
            r->ep_seconds = secs_before + progress_now() - t0;
            /* Progress, checkpoints and Ctrl-C wait for the end of an
             * accumulation: a checkpoint holds the parameters of an update. */
            if (done % k != 0)
                continue;
            uint64_t updates = clnet_model_step(r->model);
            if ((done / k) % (uint64_t)r->opts.log_every == 0 || done == r->steps_per_epoch) {
                int cr = read_counters(r, updates, epoch_f, lr);
                if (cr) {
                    progress_end(&pg);
                    clnet_loader_free(ld);
                    return cr == -2 ? 3 : 1;
                }
                double secs = progress_now() - t0;
                progress_update(&pg, done, first,
                                r->ep_samples ? r->ep_loss / r->ep_samples : 0,
                                r->ep_samples ? r->ep_correct / r->ep_samples : 0,
                                secs > 0 ? (double)(done - first) * batch_images / secs : 0, lr);
                /* --save-every: at a progress update, so no counts are pending. */
                if (r->opts.save_every > 0 && done < r->steps_per_epoch &&
                    updates - r->saved_step >= (uint64_t)r->opts.save_every &&
                    run_dir_save(r, "last.safetensors", epoch, done) != 0) {
                    progress_end(&pg);
                    clnet_loader_free(ld);
                    return 1;
                }
            }
            /* --check-every: the replicas' parameters compared mid-epoch too. */
            if (r->opts.check_every > 0 && (done / k) % (uint64_t)r->opts.check_every == 0 &&
                done < r->steps_per_epoch &&
                ((r->n_replicas > 1 && replicas_check(r) != 0) ||
                 world_epoch_end(r, "the parameter check (--check-every)", 0) != 0)) {
                progress_end(&pg);
                clnet_loader_free(ld);
                return 1;
            }
            if (r->world.size > 1 ? r->world.stop : train_stop_requested) {
                progress_end(&pg);
                clnet_loader_free(ld);
                return interrupted(r, epoch, done);
            }
        }
        progress_end(&pg);
        if (r->opts.bench && st == CLNET_OK && done > first + BENCH_SKIP)
            bench_epoch(epoch, done - first - BENCH_SKIP, r->global_batch,
                        progress_now() - t_steady);
        if (st != CLNET_OK) {
            fprintf(stderr, "clnet-train: epoch %u: %s\n", epoch + 1, clnet_errmsg(r->ctx));
            rc = 1;
            break;
        }
        double secs = progress_now() - t0;
        report_epoch row = {
            .epoch = (int)epoch + 1,
            .train_loss = r->ep_samples ? r->ep_loss / r->ep_samples : NAN,
            .train_acc = r->ep_samples ? r->ep_correct / r->ep_samples : NAN,
            .seconds = secs_before + secs,
            .images_per_s = secs > 0 ? (double)(done - first) * batch_images / secs : 0,
            .lr = lr,
        };
        /* Replicas apply the same update to the same parameters: checked
         * once an epoch (a reduction that lost or reordered data shows). */
        if (r->n_replicas > 1 && replicas_check(r) != 0) {
            rc = 1;
            break;
        }
        if (validate(r, &row) != 0) {
            rc = 1;
            break;
        }
        run_add_epoch(r, &row);
        char dur[32];
        printf("epoch %u/%d  train loss %.4f acc %.2f%%", epoch + 1, r->epochs,
               row.train_loss, 100 * row.train_acc);
        if (row.val_top1 >= 0)
            printf("  val loss %.4f top-1 %.2f%% top-5 %.2f%%", row.val_loss,
                   100 * row.val_top1, 100 * row.val_top5);
        printf("  %s, %.0f img/s", progress_duration(secs, dur, sizeof dur), row.images_per_s);
        /* Loss scaling: where the scale is, and the updates it skipped. */
        if (r->loss_scale != 1.0 || r->skipped_updates > 0)
            printf("  loss scale %g, %.0f update%s skipped", r->loss_scale,
                   r->skipped_updates, r->skipped_updates == 1 ? "" : "s");
        printf("\n");
        fflush(stdout);
        /* last, then best, both with the new best score: a run killed
         * between the two saves rewrites best when it resumes (below). */
        double score = row.val_top1 >= 0 ? row.val_top1 : row.train_acc;
        int better = score > r->best_top1;
        if (better) {
            r->best_top1 = score;
            r->best_epoch = (int)epoch + 1;
        }
        if (run_dir_save(r, "last.safetensors", epoch + 1, 0) != 0 ||
            (better && run_dir_save(r, "best.safetensors", epoch + 1, 0) != 0)) {
            rc = 1;
            break;
        }
        run_dir_report(r);
        /* Every rank waits here for rank 0's validation and saves: allow
         * twice the epoch's time for them on top of the peer timeout. */
        if (world_epoch_end(r, "the end of the epoch (rank 0 validates and saves)", 2 * secs) != 0) {
            rc = 1;
            break;
        }
        if (r->world.stop) {
            clnet_loader_free(ld);
            return interrupted(r, epoch + 1, 0);
        }
    }
    clnet_loader_free(ld); /* logs the last warnings */
    if (rc == 0) {
        char dur[32], skipped[1024];
        int onnx = r->best_epoch > 0 && run_dir_export_onnx(r) == 0;
        printf("done in %s", progress_duration(progress_now() - t_run, dur, sizeof dur));
        if (r->best_top1 >= 0)
            printf("; best %s %.2f%% (epoch %d)", r->val ? "validation top-1" : "train accuracy",
                   100 * r->best_top1, r->best_epoch);
        /* Every file a warning named, whether refused at open or later. */
        clnet_skip_stats sk;
        run_skips(r, &sk);
        if (*skips_describe(&sk, skipped, sizeof skipped))
            printf("\n%s", skipped);
        printf("\noutputs  %s/{last,best}.safetensors, %smetrics.csv, report.html\n",
               r->out_dir, onnx ? "model.onnx (best, for onnxruntime), " : "");
    }
    clnet_reduce_stats rs;
    if (r->opts.bench && clnet_model_reduce_stats(r->model, &rs) == CLNET_OK && rs.updates)
        printf("bench: gradient sums: %llu updates, %.1f buckets each (--bucket-kib %d), "
               "%.2f ms per update summing (waits for the other replicas included), "
               "%.2f ms per update after backward (copies included): %.0f%% of the "
               "summing overlapped backward\n",
               (unsigned long long)rs.updates, (double)rs.sums / (double)rs.updates,
               r->opts.bucket_kib, 1e3 * rs.seconds / (double)rs.updates,
               1e3 * rs.exposed_seconds / (double)rs.updates,
               rs.seconds > 0 && rs.exposed_seconds < rs.seconds
                   ? 100 * (1 - rs.exposed_seconds / rs.seconds) : 0.0);
    if (r->opts.bench) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        printf("bench: peak host memory %.1f MiB (max RSS)\n", ru.ru_maxrss / 1024.0);
    }
    return rc;
}
