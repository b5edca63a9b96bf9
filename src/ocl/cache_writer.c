/* Storing program binaries in the disk cache off the path to the first step.
 *
 * Why: asking a driver for a program's binary can cost far more than building
 * it. PoCL compiles every kernel of the program for the binary (a generic
 * work-group function each), where a launch compiles only the kernel it runs:
 * on fashion-cnn's cold start that was 16 s of the 21 s to the first step.
 * So the binaries are asked for on a worker thread, and only after the
 * context has first waited for the device (the first read of a step's
 * results): a driver that serialises its compiler (PoCL holds one lock per
 * cl_context) would otherwise make the first step's own kernel compiles wait
 * behind the binaries. The work is the same; it moves from before the first
 * step to beside the steps after it. clnet__cache_flush, at the latest when
 * the context closes, waits for what is left, so every built program is
 * stored before clnet_ctx_free returns.
 *
 * The worker touches only its jobs and a copy of the cache directory; it
 * never logs: the first failure is kept
 * and reported by clnet__cache_flush on the caller's thread. */
#include "ocl/ocl_private.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cache_job {
    cl_program prog; /* retained by the job */
    unsigned char key[16];
    struct cache_job *next;
} cache_job;

struct clnet__cache_writer {
    pthread_mutex_t mu;
    pthread_cond_t wake;
    cache_job *head, *tail;
    int open;    /* the context has waited for the device: work may start */
    int running; /* the worker thread exists (joined by flush) */
    int stop;    /* flush: finish the queue, then exit */
    pthread_t thread;
    char cache_dir[1024];
    char warning[1400]; /* the first failure, "" when none */
};

/* Asks for the binary of job->prog and writes it; the reason on failure. */
static int store_job(const clnet__cache_writer *w, const cache_job *job,
                     char *why, size_t cap)
{
    size_t size = 0;
    if (clGetProgramInfo(job->prog, CL_PROGRAM_BINARY_SIZES, sizeof size, &size,
                         NULL) != CL_SUCCESS ||
        size == 0) {
        snprintf(why, cap, "the driver gave no program binary to cache");
        return -1;
    }
    unsigned char *bin = malloc(size);
    if (!bin) {
        snprintf(why, cap, "out of memory for a %zu-byte program binary", size);
        return -1;
    }
    int rc = -1;
    if (clGetProgramInfo(job->prog, CL_PROGRAM_BINARIES, sizeof bin, &bin, NULL) ==
        CL_SUCCESS)
        rc = clnet__cache_store(w->cache_dir, job->key, bin, size, why, cap);
    else
        snprintf(why, cap, "the driver gave no program binary to cache");
    free(bin);
    return rc;
}

/* Runs one job and frees it; keeps the first failure. Called without mu. */
static void run_job(clnet__cache_writer *w, cache_job *job)
{
    char why[sizeof w->warning];
    int rc = store_job(w, job, why, sizeof why);
    clReleaseProgram(job->prog);
    free(job);
    if (rc != 0) {
        pthread_mutex_lock(&w->mu);
        if (!w->warning[0])
            memcpy(w->warning, why, sizeof why);
        pthread_mutex_unlock(&w->mu);
    }
}

static cache_job *pop(clnet__cache_writer *w)
{
    cache_job *j = w->head;
    if (j) {
        w->head = j->next;
        if (!w->head)
            w->tail = NULL;
    }
    return j;
}

static void *worker(void *arg)
{
    clnet__cache_writer *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (!w->head && !w->stop)
            pthread_cond_wait(&w->wake, &w->mu);
        cache_job *j = pop(w);
        pthread_mutex_unlock(&w->mu);
        if (!j)
            return NULL;
        run_job(w, j);
    }
}

/* With mu held: starts the worker when there is work it may do. If the
 * thread cannot be made, the jobs wait for clnet__cache_flush. */
static void maybe_start(clnet__cache_writer *w)
{
    if (w->open && w->head && !w->running)
        w->running = pthread_create(&w->thread, NULL, worker, w) == 0;
}

static clnet__cache_writer *writer_new(clnet_ctx *ctx)
{
    clnet__cache_writer *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    if (pthread_mutex_init(&w->mu, NULL) != 0) {
        free(w);
        return NULL;
    }
    if (pthread_cond_init(&w->wake, NULL) != 0) {
        pthread_mutex_destroy(&w->mu);
        free(w);
        return NULL;
    }
    clnet__strlcpy(w->cache_dir, ctx->ocl.cache_dir, sizeof w->cache_dir);
    return w;
}

void clnet__cache_defer(clnet_ctx *ctx, cl_program prog, const unsigned char key[16])
{
    clnet__ocl *o = &ctx->ocl;
    if (!o->cache_writer)
        o->cache_writer = writer_new(ctx);
    cache_job *job = malloc(sizeof *job);
    if (!job || !o->cache_writer || clRetainProgram(prog) != CL_SUCCESS) {
        free(job); /* no cache entry this time: the program itself is fine */
        return;
    }
    job->prog = prog;
    memcpy(job->key, key, 16);
    job->next = NULL;
    clnet__cache_writer *w = o->cache_writer;
    pthread_mutex_lock(&w->mu);
    if (w->tail)
        w->tail->next = job;
    else
        w->head = job;
    w->tail = job;
    maybe_start(w);
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->mu);
}

void clnet__cache_writer_open(clnet_ctx *ctx)
{
    clnet__cache_writer *w = ctx->ocl.cache_writer;
    if (!w || w->open) /* read unlocked: only this thread ever sets it */
        return;
    pthread_mutex_lock(&w->mu);
    w->open = 1;
    maybe_start(w);
    pthread_mutex_unlock(&w->mu);
}

void clnet__cache_flush(clnet_ctx *ctx)
{
    clnet__cache_writer *w = ctx->ocl.cache_writer;
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_signal(&w->wake);
    int running = w->running;
    pthread_mutex_unlock(&w->mu);
    if (running)
        pthread_join(w->thread, NULL);
    for (cache_job *j; (j = pop(w));) /* no thread could be made */
        run_job(w, j);
    if (w->warning[0] && !ctx->ocl.cache_warned) {
        clnet__log(ctx, CLNET_LOG_WARN, "%s", w->warning);
        ctx->ocl.cache_warned = 1;
    }
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->mu);
    free(w);
    ctx->ocl.cache_writer = NULL;
}
