/* Device-side profiling of the compute queue, for clnet-bench.
 *
 * Off by default: the compute queue gets CL_QUEUE_PROFILING_ENABLE only when
 * the context is created with clnet_ctx_settings.profile = 1 or
 * $CLNET_PROFILE=1, and nothing is recorded until clnet__prof_start. Normal
 * runs pay one pointer test per launch, fill and copy.
 *
 * While recording, every clnet__launch, clnet__fill and clnet__copy keeps its
 * event (kernel name, start, end), and clnet__prof_mark puts a marker into
 * the queue at each region boundary the graph executor announces (forward of
 * layer i, the loss, backward of layer j, the update). A region's time is
 * from the end of its marker to the end of the next one: it covers every
 * command in between, CLBlast's kernels included (CLBlast enqueues its own
 * launches, which clnet sees only through these markers), and any time the
 * device waited for the host. Launch records carry the region they were
 * enqueued in.
 *
 * Sync mode (CLNET__PROF_SYNC, clnet-bench --sync): each mark waits for the
 * queue (clFinish) and takes host wall time instead of a marker, which also
 * counts the host's enqueue cost; a cross-check of the marker times.
 *
 *   clnet__prof_start(ctx, CLNET__PROF_EVENTS);
 *   ... train steps ...
 *   clnet__prof_record *r; size_t n;
 *   clnet__prof_collect(ctx, &r, &n);    waits, resolves, r owned by ctx
 *   ... read r[0..n) ...
 *   clnet__prof_stop(ctx);               frees the records
 *
 * Not thread-safe: the context's compute queue is used by one thread. */
#ifndef CLNET_OCL_PROFILE_H
#define CLNET_OCL_PROFILE_H

#include "ocl/ocl.h"

typedef enum clnet__prof_phase {
    CLNET__PROF_OTHER = 0, /* outside a step's regions (read_stats, fills) */
    CLNET__PROF_FORWARD,
    CLNET__PROF_LOSS,
    CLNET__PROF_BACKWARD,  /* layer -1: zeroing the parameter gradients */
    CLNET__PROF_UPDATE,    /* after backward until the next forward */
    CLNET__PROF_PHASES
} clnet__prof_phase;

typedef enum clnet__prof_mode {
    CLNET__PROF_EVENTS = 0, /* markers and events: the device's own clock */
    CLNET__PROF_SYNC = 1    /* clFinish + host wall time at each mark */
} clnet__prof_mode;

typedef enum clnet__prof_kind {
    CLNET__PROF_LAUNCH, /* one kernel launch, fill or copy */
    CLNET__PROF_MARK    /* a region boundary; its region runs to the next */
} clnet__prof_kind;

typedef struct clnet__prof_record {
    clnet__prof_kind kind;
    clnet__prof_phase phase; /* LAUNCH: the region it ran in; MARK: the */
    int layer;               /* region that starts here (-1: none) */
    char name[48];           /* kernel name, "fill", "copy"; "" for marks */
    uint64_t queued, start, end; /* ns; device clock (host clock for SYNC
                                    marks); 0 where the driver had none */
} clnet__prof_record;

/* 1 when the context's compute queue was created with profiling. */
int clnet__prof_available(clnet_ctx *ctx);

/* 1 when $CLNET_PROFILE is set to anything but "" or "0". */
int clnet__prof_env(void);

/* 1 between clnet__prof_start and clnet__prof_collect (ctx may be NULL). */
int clnet__prof_recording(clnet_ctx *ctx);

/* Starts recording (drops any earlier records). CLNET_EUNSUPPORTED when the
 * queue has no profiling; CLNET_ENOMEM. */
clnet_status clnet__prof_start(clnet_ctx *ctx, clnet__prof_mode mode);

/* While recording: a slot for the event of the command about to be
 * enqueued, named `name` (copied), or NULL (not recording, or out of
 * memory: that command then goes unrecorded and the collect reports it).
 * The caller passes the slot as the enqueue's event argument. */
cl_event *clnet__prof_event(clnet_ctx *ctx, const char *name);

/* Region boundary: what follows belongs to (phase, layer). No-op when not
 * recording. Errors while marking are counted, not returned: profiling must
 * never change what the run computes. */
void clnet__prof_mark(clnet_ctx *ctx, clnet__prof_phase phase, int layer);

/* Closes the last region, waits for the queue and resolves every event.
 * *out (borrowed; valid until the next start/stop) and *n are the records
 * in enqueue order. *lost (may be NULL) counts commands or marks that could
 * not be recorded. Recording stops. */
clnet_status clnet__prof_collect(clnet_ctx *ctx, const clnet__prof_record **out,
                                 size_t *n, size_t *lost);

/* Stops recording and frees the records (also done by context close). */
void clnet__prof_stop(clnet_ctx *ctx);

#endif
