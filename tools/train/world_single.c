/* clnet-train built without Open MPI (meson -Dmpi=disabled, or no
 * libopenmpi-dev): one process. Started by mpirun or srun it says so and
 * stops, rather than training N copies of the same run side by side. */
#include "run.h"

#include <stdio.h>
#include <stdlib.h>

/* The world size a launcher gave this process (Open MPI, PMI, PMIx), or 1. */
static int launcher_size(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE",
                                       "SLURM_NTASKS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && atoi(v) > 1)
            return atoi(v);
    }
    return 1;
}

int world_init(int *argc, char ***argv, train_world *w)
{
    (void)argc;
    (void)argv;
    w->size = 1;
    w->rank = w->local_rank = 0;
    int n = launcher_size();
    if (n > 1) {
        fprintf(stderr, "clnet-train: started as one of %d processes (mpirun or srun), "
                        "but this clnet-train was built without Open MPI, so the "
                        "processes could not share gradients. Install libopenmpi-dev "
                        "and rebuild (meson setup --reconfigure -Dmpi=enabled), or use "
                        "the devices of one machine with --device 0,1\n", n);
        return 2;
    }
    return 0;
}

int world_attach(train_run *r)
{
    (void)r;
    return 0;
}

int world_sum_stats(train_run *r, clnet_stats *s)
{
    (void)s;
    r->world.stop = train_stop_requested != 0;
    return 0;
}

int world_epoch_end(train_run *r, const char *what, double allowance)
{
    (void)what;
    (void)allowance;
    r->world.stop = train_stop_requested != 0;
    return 0;
}

int world_finish(train_world *w, int rc)
{
    (void)w;
    return rc;
}
