/* Several devices in one clnet-train process (--device 0,1 or 0:2): one
 * replica per device, each bound to its share of the global batch, in step
 * through a local group (include/clnet/dist.h). Replica 0 is r->ctx and
 * r->model: it validates, saves and reports; every step runs all replicas,
 * one thread each, and their gradients meet in the reducer. */
#include "run.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int replicas_parse(const char *spec, replica_device *out, int cap)
{
    int n = 0;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", spec ? spec : "");
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *colon = strrchr(item, ':');
        int parts = 1;
        if (colon) {
            char *end;
            long p = strtol(colon + 1, &end, 10);
            if (end == colon + 1 || *end || p < 1 || p > 64) {
                fprintf(stderr, "clnet-train: --device %s: '%s' is not SELECTOR:N with N "
                        "from 1 to 64 (N equal sub-devices of one device)\n", spec, item);
                return -1;
            }
            parts = (int)p;
            *colon = '\0';
        }
        for (int k = 0; k < parts; k++) {
            if (n == cap) {
                fprintf(stderr, "clnet-train: --device %s: more than %d replicas\n", spec,
                        cap);
                return -1;
            }
            snprintf(out[n].selector, sizeof out[n].selector, "%s", item);
            out[n].parts = parts > 1 ? parts : 0;
            out[n].index = k;
            n++;
        }
    }
    if (n == 0) { /* no --device: the default device, one replica */
        out[0] = (replica_device){.selector = ""};
        n = 1;
    }
    return n;
}

void replica_ctx_settings(const train_run *r, int k, clnet_ctx_settings *cs)
{
    cs->device = r->devices[k].selector[0] ? r->devices[k].selector : NULL;
    cs->partition = r->devices[k].parts;
    cs->partition_index = r->devices[k].index;
}

int replicas_open(train_run *r)
{
    if (r->n_replicas < 2)
        return 0;
    clnet_status st = clnet_local_group_create(r->n_replicas, r->opts.peer_timeout, &r->group);
    if (st != CLNET_OK) {
        fprintf(stderr, "clnet-train: replicas: %s\n", clnet_strerror(st));
        return -1;
    }
    clnet_model_settings ms = r->model_settings;
    ms.batch = r->info.batch;
    ms.channels = ms.height = ms.width = ms.classes = 0; /* in the text already */
    for (int k = 1; k < r->n_replicas; k++) {
        clnet_ctx_settings cs;
        clnet_ctx_default_settings(&cs);
        cs.log_level = CLNET_LOG_WARN;
        replica_ctx_settings(r, k, &cs);
        st = clnet_ctx_create(&r->rep_ctx[k], &cs);
        if (st == CLNET_OK)
            st = clnet_model_load_string(r->rep_ctx[k], "replica", clnet_model_text(r->model),
                                         &ms, &r->rep_model[k]);
        if (st == CLNET_OK)
            st = clnet_model_copy_state(r->rep_model[k], r->model);
        if (st != CLNET_OK) {
            fprintf(stderr, "clnet-train: replica %d (device %s): %s\n", k,
                    r->devices[k].selector[0] ? r->devices[k].selector : "default",
                    r->rep_ctx[k] ? clnet_errmsg(r->rep_ctx[k]) : clnet_strerror(st));
            return -1;
        }
    }
    r->rep_ctx[0] = r->ctx;
    r->rep_model[0] = r->model;
    for (int k = 0; k < r->n_replicas && st == CLNET_OK; k++) {
        clnet_reducer red = clnet_local_group_reducer(r->group, k);
        red.sync_batchnorm = r->opts.sync_bn > 0;
        red.bucket_bytes = (size_t)r->opts.bucket_kib * 1024;
        st = clnet_model_set_reducer(r->rep_model[k], &red);
    }
    return st == CLNET_OK ? 0 : -1;
}

void replicas_close(train_run *r)
{
    for (int k = 1; k < r->n_replicas; k++) {
        clnet_model_free(r->rep_model[k]);
        clnet_ctx_free(r->rep_ctx[k]);
        r->rep_model[k] = NULL;
        r->rep_ctx[k] = NULL;
    }
    clnet_local_group_free(r->group);
    r->group = NULL;
}

typedef struct step_job {
    clnet_model *m;
    const float *images;
    const int32_t *labels;
    int n;
    float lr;
    clnet_status st;
    clnet_local_group *group;
} step_job;

static void *step_thread(void *arg)
{
    step_job *j = arg;
    j->st = clnet_model_set_batch(j->m, j->images, j->labels, j->n);
    if (j->st == CLNET_OK)
        j->st = clnet_model_set_lr(j->m, j->lr);
    if (j->st == CLNET_OK)
        j->st = clnet_model_train_step(j->m);
    /* The others would wait for this replica in the reduction. */
    if (j->st != CLNET_OK && j->group)
        clnet_local_group_abort(j->group);
    return NULL;
}

clnet_status replicas_step(train_run *r, const clnet_batch *b, float lr)
{
    int R = r->n_replicas;
    if (R < 2) {
        step_job j = {r->model, b->images, b->labels, b->n, lr, CLNET_OK, NULL};
        step_thread(&j);
        return j.st;
    }
    size_t item = (size_t)r->info.channels * r->info.height * r->info.width;
    int share = r->info.batch;
    step_job jobs[CLNET_TRAIN_MAX_REPLICAS];
    pthread_t th[CLNET_TRAIN_MAX_REPLICAS];
    int started[CLNET_TRAIN_MAX_REPLICAS] = {0};
    for (int k = 0; k < R; k++) {
        jobs[k] = (step_job){r->rep_model[k], b->images + (size_t)k * share * item,
                             b->labels + (size_t)k * share, share, lr, CLNET_OK, r->group};
        started[k] = k > 0 && pthread_create(&th[k], NULL, step_thread, &jobs[k]) == 0;
        if (k > 0 && !started[k]) {
            jobs[k].st = CLNET_ENOMEM;
            clnet_local_group_abort(r->group);
        }
    }
    step_thread(&jobs[0]); /* replica 0 on this thread */
    for (int k = 1; k < R; k++)
        if (started[k])
            pthread_join(th[k], NULL);
    /* The first replica that failed on its own (not through the group). */
    for (int k = 0; k < R; k++)
        if (jobs[k].st != CLNET_OK && jobs[k].st != CLNET_EINTERRUPTED) {
            fprintf(stderr, "\nclnet-train: replica %d (device %s): %s\n", k,
                    r->devices[k].selector[0] ? r->devices[k].selector : "default",
                    clnet_errmsg(r->rep_ctx[k]));
            return jobs[k].st;
        }
    for (int k = 0; k < R; k++)
        if (jobs[k].st != CLNET_OK) {
            fprintf(stderr, "\nclnet-train: %s\n", clnet_local_group_error(r->group));
            return jobs[k].st;
        }
    return CLNET_OK;
}

int replicas_read_stats(train_run *r, clnet_stats *out)
{
    clnet_status st = clnet_model_read_stats(r->model, out, 1);
    for (int k = 1; k < r->n_replicas && st == CLNET_OK; k++) {
        clnet_stats s;
        st = clnet_model_read_stats(r->rep_model[k], &s, 1);
        out->loss_sum += s.loss_sum;
        out->correct += s.correct;
        out->correct5 += s.correct5;
        out->samples += s.samples;
        out->nonfinite |= s.nonfinite;
    }
    if (st != CLNET_OK)
        fprintf(stderr, "\nclnet-train: %s\n", clnet_errmsg(r->ctx));
    return st == CLNET_OK ? 0 : -1;
}

int replicas_check(train_run *r)
{
    uint64_t h0 = 0;
    for (int k = 0; k < r->n_replicas; k++) {
        uint64_t h;
        clnet_model *m = k ? r->rep_model[k] : r->model;
        if (clnet_model_checksum(m, &h) != CLNET_OK) {
            fprintf(stderr, "clnet-train: replica %d: %s\n", k,
                    clnet_errmsg(k ? r->rep_ctx[k] : r->ctx));
            return -1;
        }
        if (k == 0)
            h0 = h;
        else if (h != h0) {
            fprintf(stderr, "clnet-train: replica %d's parameters differ from replica "
                    "0's (checksums %016llx, %016llx): the replicas are out of step\n", k,
                    (unsigned long long)h, (unsigned long long)h0);
            return -1;
        }
    }
    return 0;
}

void replicas_for_rank(train_run *r)
{
    int k = r->world.local_rank;
    if (r->devices[0].selector[0] || r->n_replicas > 1) {
        r->devices[0] = r->devices[k % r->n_replicas];
    } else {
        clnet_device_desc *list = NULL;
        size_t n = 0;
        if (clnet_devices_list(&list, &n, NULL, 0) == CLNET_OK) {
            const char *type = NULL;
            size_t same = 0;
            for (size_t i = 0; i < n; i++)
                if (list[i].is_default)
                    type = list[i].type;
            for (size_t i = 0; type && i < n; i++)
                same += strcmp(list[i].type, type) == 0;
            for (size_t i = 0, j = 0; same && i < n; i++)
                if (strcmp(list[i].type, type) == 0 && j++ == (size_t)k % same)
                    snprintf(r->devices[0].selector, sizeof r->devices[0].selector, "%d",
                             list[i].index);
        }
        clnet_devices_free(list);
    }
    r->n_replicas = 1;
}
