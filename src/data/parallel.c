/* A parallel-for for the one-off passes over a dataset (header checks at
 * open, statistics): threads live for one call, so there is no pool to shut
 * down. The loader keeps its own long-lived workers (loader.c). */
#include "data/data_impl.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

int clnet__cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)(n < 256 ? n : 256) : 1;
}

typedef struct part_job {
    void (*fn)(void *arg, size_t begin, size_t end, int part);
    void *arg;
    size_t begin, end;
    int part;
} part_job;

static void *run_part(void *p)
{
    part_job *j = p;
    j->fn(j->arg, j->begin, j->end, j->part);
    return NULL;
}

void clnet__parallel_for(int parts, size_t n,
                         void (*fn)(void *arg, size_t begin, size_t end, int part),
                         void *arg)
{
    if (parts < 1)
        parts = 1;
    if ((size_t)parts > n)
        parts = n ? (int)n : 1;
    part_job *jobs = parts > 1 ? calloc((size_t)parts, sizeof *jobs) : NULL;
    pthread_t *tids = parts > 1 ? calloc((size_t)parts, sizeof *tids) : NULL;
    if (!jobs || !tids) {
        free(jobs);
        free(tids);
        fn(arg, 0, n, 0);
        return;
    }
    int started = 1; /* part 0 is ours */
    for (int p = 0; p < parts; p++) {
        jobs[p] = (part_job){fn, arg, n * (size_t)p / (size_t)parts,
                             n * (size_t)(p + 1) / (size_t)parts, p};
    }
    for (int p = 1; p < parts; p++) {
        if (pthread_create(&tids[p], NULL, run_part, &jobs[p]) != 0)
            break;
        started++;
    }
    /* Slices whose thread did not start run here, after our own. */
    run_part(&jobs[0]);
    for (int p = started; p < parts; p++)
        run_part(&jobs[p]);
    for (int p = 1; p < started; p++)
        pthread_join(tids[p], NULL);
    free(jobs);
    free(tids);
}
