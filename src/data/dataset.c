/* clnet_dataset_open and friends: the scan's files, checked by header (so
 * most bad files are reported before training, in the dataset summary),
 * limited per class, and the structure errors that must stop a run before
 * any compute. */
#include "data/data_impl.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void clnet_dataset_default_settings(clnet_dataset_settings *s)
{
    if (!s)
        return;
    memset(s, 0, sizeof *s);
    s->channels = 3;
    s->max_pixels = 64ull << 20;
}

/* ---- header checks, in parallel ----------------------------------------- */

typedef struct failure {
    size_t item;
    char *why;
    clnet_skip_cause cause;
} failure;

typedef struct probe_part {
    failure *fails;
    size_t n, cap;
    int oom;
} probe_part;

typedef struct probe_job {
    const char *pool;
    const size_t *work;       /* pool offsets */
    uint8_t *ok;              /* per work item */
    uint64_t max_pixels;
    probe_part *parts;
} probe_job;

/* The folder of the files being checked, kept open: files come grouped by
 * folder, and opening "name" in it spares the kernel a walk of the whole
 * path per file (most of the cost of a header check). */
typedef struct folder {
    int fd;
    const char *path;   /* the folder part of the last path */
    size_t len;
} folder;

/* Returns the folder descriptor for *path and points *path at its name
 * within; AT_FDCWD (and *path unchanged) when the folder will not open. */
static int folder_of(folder *f, const char **path)
{
    const char *slash = strrchr(*path, '/');
    if (!slash)
        return AT_FDCWD;
    size_t len = (size_t)(slash - *path);
    if (f->fd < 0 || len != f->len || memcmp(f->path, *path, len) != 0) {
        if (f->fd >= 0)
            close(f->fd);
        char dir[4096];
        if (len >= sizeof dir)
            return f->fd = -1, AT_FDCWD;
        memcpy(dir, *path, len);
        dir[len] = '\0';
        f->fd = open(dir, O_RDONLY | O_DIRECTORY);
        f->path = *path;
        f->len = len;
        if (f->fd < 0)
            return AT_FDCWD;
    }
    *path = slash + 1;
    return f->fd;
}

static void probe_slice(void *arg, size_t begin, size_t end, int part)
{
    probe_job *j = arg;
    probe_part *pp = &j->parts[part];
    clnet__filebuf buf = {0};
    char why[CLNET__WHY_MAX];
    folder f = {-1, NULL, 0};
    for (size_t i = begin; i < end; i++) {
        int w, h;
        const char *path = j->pool + j->work[i];
        int dir = folder_of(&f, &path);
        clnet_status st = clnet__image_probe(dir, path, j->max_pixels, &buf, &w, &h,
                                             why, sizeof why);
        j->ok[i] = st == CLNET_OK;
        if (j->ok[i])
            continue;
        if (pp->n == pp->cap) {
            size_t ncap = pp->cap ? 2 * pp->cap : 16;
            failure *nf = realloc(pp->fails, ncap * sizeof *nf);
            if (!nf) {
                pp->oom = 1;
                continue;
            }
            pp->fails = nf;
            pp->cap = ncap;
        }
        pp->fails[pp->n].item = i;
        pp->fails[pp->n].why = strdup(why);
        pp->fails[pp->n].cause = clnet__skip_cause_of(st, why, 1);
        pp->n++;
    }
    if (f.fd >= 0)
        close(f.fd);
    clnet__filebuf_free(&buf);
}

/* Probes work[0..n) and sets ok[]; warns about each failure in file order
 * (from the calling thread, as the log callback requires) and counts it by
 * cause. */
static clnet_status probe_all(clnet_ctx *ctx, const char *pool, const size_t *work,
                              size_t n, uint64_t max_pixels, uint8_t *ok,
                              size_t *refused)
{
    int parts = clnet__cpu_count();
    probe_part *pp = calloc((size_t)parts, sizeof *pp);
    if (!pp)
        return clnet__fail(ctx, CLNET_ENOMEM, "out of memory checking images");
    probe_job job = {pool, work, ok, max_pixels, pp};
    clnet__parallel_for(parts, n, probe_slice, &job);
    int oom = 0;
    for (int p = 0; p < parts; p++) {
        oom |= pp[p].oom;
        for (size_t f = 0; f < pp[p].n; f++) {
            clnet__log(ctx, CLNET_LOG_WARN, "skipping '%s': %s",
                       pool + work[pp[p].fails[f].item],
                       pp[p].fails[f].why ? pp[p].fails[f].why : "unreadable");
            refused[pp[p].fails[f].cause]++;
            free(pp[p].fails[f].why);
        }
        free(pp[p].fails);
    }
    free(pp);
    return oom ? clnet__fail(ctx, CLNET_ENOMEM, "out of memory checking images")
               : CLNET_OK;
}

/* Checks headers class by class until each class has `limit` readable files
 * (or all of them when limit is 0); keeps the readable ones in scan order
 * and adds the others to sc->refused. */
static clnet_status select_files(clnet_ctx *ctx, clnet__scan *sc, int limit,
                                 uint64_t max_pixels)
{
    int nc = sc->nclasses;
    size_t total = 0;
    for (int c = 0; c < nc; c++)
        total += sc->files[c].n;
    size_t *work = malloc((total ? total : 1) * sizeof *work);
    int *work_class = malloc((total ? total : 1) * sizeof *work_class);
    uint8_t *ok = malloc(total ? total : 1);
    size_t *next = calloc((size_t)nc, sizeof *next);   /* next candidate */
    size_t *kept = calloc((size_t)nc, sizeof *kept);   /* readable so far */
    clnet_status st = CLNET_OK;
    if (!work || !work_class || !ok || !next || !kept)
        st = clnet__fail(ctx, CLNET_ENOMEM, "out of memory checking images");
    while (st == CLNET_OK) {
        size_t n = 0;
        for (int c = 0; c < nc; c++) {
            size_t avail = sc->files[c].n - next[c];
            size_t need = limit > 0 ? (size_t)limit - kept[c] : avail;
            for (size_t k = 0; k < need && k < avail; k++) {
                work[n] = sc->files[c].off[next[c] + k];
                work_class[n++] = c;
            }
        }
        if (n == 0)
            break;
        st = probe_all(ctx, sc->pool, work, n, max_pixels, ok, sc->refused);
        /* Readable files move to the front of each class's list, in order,
         * as the list is consumed: kept[c] <= next[c] always. */
        for (size_t i = 0; i < n && st == CLNET_OK; i++) {
            clnet__file_list *l = &sc->files[work_class[i]];
            size_t *cur = &next[work_class[i]];
            if (ok[i])
                l->off[kept[work_class[i]]++] = work[i];
            (*cur)++;
        }
        if (limit <= 0)
            break;
    }
    for (int c = 0; c < nc && st == CLNET_OK; c++)
        sc->files[c].n = kept[c];
    free(work);
    free(work_class);
    free(ok);
    free(next);
    free(kept);
    return st;
}

/* ---- structure errors ---------------------------------------------------- */

static const char ext_list[] = "png, jpg, jpeg, bmp, gif, tga, pnm, ppm, pgm";

static clnet_status check_layout(clnet_ctx *ctx, const char *root,
                                 const clnet__scan *sc)
{
    if (sc->nclasses < 2)
        return clnet__fail(ctx, CLNET_EFORMAT,
                           "dataset folder '%s' has %d class folder%s%s%s; it needs "
                           "at least two (one sub-folder per class, e.g. "
                           "%s/cat/1.png and %s/dog/1.png)",
                           root, sc->nclasses, sc->nclasses == 1 ? " (" : "s",
                           sc->nclasses == 1 ? sc->class_names[0] : "",
                           sc->nclasses == 1 ? ")" : "", root, root);
    for (int c = 0; c < sc->nclasses; c++)
        if (sc->files[c].n == 0)
            return clnet__fail(ctx, CLNET_EFORMAT,
                               "class folder '%s/%s' has no image files (looked for "
                               "%s, in sub-folders too)",
                               root, sc->class_names[c], ext_list);
    return CLNET_OK;
}

/* Appends up to 8 names of `a` that are not in `b` (both sorted). */
static size_t list_missing(char *buf, size_t cap, size_t len, char **a, int na,
                           char **b, int nb)
{
    int shown = 0, more = 0;
    for (int i = 0, j = 0; i < na; i++) {
        while (j < nb && strcmp(b[j], a[i]) < 0)
            j++;
        if (j < nb && strcmp(b[j], a[i]) == 0)
            continue;
        if (shown == 8) {
            more++;
            continue;
        }
        int r = snprintf(buf + len, cap - len, "%s'%s'", shown ? ", " : "", a[i]);
        if (r > 0 && (size_t)r < cap - len)
            len += (size_t)r;
        shown++;
    }
    if (more) {
        int r = snprintf(buf + len, cap - len, " and %d more", more);
        if (r > 0 && (size_t)r < cap - len)
            len += (size_t)r;
    }
    if (!shown) {
        int r = snprintf(buf + len, cap - len, "none");
        if (r > 0 && (size_t)r < cap - len)
            len += (size_t)r;
    }
    return len;
}

static clnet_status check_same_classes(clnet_ctx *ctx, const char *root,
                                       const clnet__scan *sc,
                                       const clnet_dataset *like)
{
    int same = sc->nclasses == like->nclasses;
    for (int c = 0; same && c < sc->nclasses; c++)
        same = strcmp(sc->class_names[c], like->class_names[c]) == 0;
    if (same)
        return CLNET_OK;
    char msg[2048];
    size_t len = (size_t)snprintf(msg, sizeof msg, "missing: ");
    len = list_missing(msg, sizeof msg, len, like->class_names, like->nclasses,
                       sc->class_names, sc->nclasses);
    if (len < sizeof msg - 16)
        len += (size_t)snprintf(msg + len, sizeof msg - len, "; not in '%s': ",
                                like->root);
    list_missing(msg, sizeof msg, len, sc->class_names, sc->nclasses,
                 like->class_names, like->nclasses);
    return clnet__fail(ctx, CLNET_EFORMAT,
                       "the classes of '%s' (%d) differ from those of '%s' (%d): %s",
                       root, sc->nclasses, like->root, like->nclasses, msg);
}

/* ---- open ----------------------------------------------------------------- */

static clnet_status build(clnet_ctx *ctx, const char *root,
                          const clnet_dataset_settings *s, clnet__scan *sc,
                          clnet_dataset **out)
{
    clnet_dataset *ds = calloc(1, sizeof *ds);
    size_t n = 0;
    for (int c = 0; c < sc->nclasses; c++)
        n += sc->files[c].n;
    if (ds) {
        ds->s = *s;
        ds->root = strdup(root);
        ds->class_counts = calloc((size_t)sc->nclasses, sizeof *ds->class_counts);
        ds->paths = malloc((n ? n : 1) * sizeof *ds->paths);
        ds->labels = malloc((n ? n : 1) * sizeof *ds->labels);
        ds->skips = clnet__skips_new(n, sc->refused, sc->unreadable_dirs);
    }
    if (!ds || !ds->root || !ds->class_counts || !ds->paths || !ds->labels ||
        !ds->skips) {
        clnet_dataset_free(ds);
        return clnet__fail(ctx, CLNET_ENOMEM, "out of memory opening '%s'", root);
    }
    size_t i = 0;
    for (int c = 0; c < sc->nclasses; c++) {
        for (size_t k = 0; k < sc->files[c].n; k++, i++) {
            ds->paths[i] = sc->pool + sc->files[c].off[k];
            ds->labels[i] = c;
        }
        ds->class_counts[c] = sc->files[c].n;
    }
    ds->n = n;
    ds->nclasses = sc->nclasses;
    for (int c = 0; c < CLNET_SKIP_CAUSES_MAX; c++)
        ds->skipped += sc->refused[c];
    /* The dataset takes the pool and the class names. */
    ds->pool = sc->pool;
    ds->class_names = sc->class_names;
    for (int c = 0; c < sc->nclasses; c++)
        free(sc->files[c].off);
    free(sc->files);
    memset(sc, 0, sizeof *sc);
    *out = ds;
    return CLNET_OK;
}

static clnet_status open_impl(clnet_ctx *ctx, const char *root,
                              const clnet_dataset_settings *s,
                              const clnet_dataset *like, clnet_dataset **out)
{
    CLNET__CHECK_ARG(ctx, out != NULL);
    *out = NULL;
    CLNET__CHECK_ARG(ctx, root != NULL && s != NULL);
    clnet_status st = clnet__check_image_settings(ctx, s);
    if (st != CLNET_OK)
        return st;
    clnet__scan sc;
    if ((st = clnet__scan_root(ctx, root, &sc)) != CLNET_OK)
        return st;
    if (like)
        st = check_same_classes(ctx, root, &sc, like);
    if (st == CLNET_OK)
        st = check_layout(ctx, root, &sc);
    if (st == CLNET_OK)
        st = select_files(ctx, &sc, s->limit_per_class, s->max_pixels);
    for (int c = 0; c < sc.nclasses && st == CLNET_OK; c++)
        if (sc.files[c].n == 0)
            st = clnet__fail(ctx, CLNET_EFORMAT,
                             "class folder '%s/%s': none of its image files is "
                             "readable (each was reported above)",
                             root, sc.class_names[c]);
    if (st == CLNET_OK)
        st = build(ctx, root, s, &sc, out);
    clnet__scan_free(&sc);
    return st;
}

clnet_status clnet_dataset_open(clnet_ctx *ctx, const char *root,
                                const clnet_dataset_settings *s,
                                clnet_dataset **out)
{
    return open_impl(ctx, root, s, NULL, out);
}

clnet_status clnet_dataset_open_like(clnet_ctx *ctx, const char *root,
                                     const clnet_dataset *like,
                                     clnet_dataset **out)
{
    CLNET__CHECK_ARG(ctx, like != NULL);
    return open_impl(ctx, root, &like->s, like, out);
}

void clnet_dataset_free(clnet_dataset *ds)
{
    if (!ds)
        return;
    if (!ds->is_view) {
        for (int c = 0; ds->class_names && c < ds->nclasses; c++)
            free(ds->class_names[c]);
        free(ds->class_names);
        free(ds->pool);
        clnet__skips_free(ds->skips);
    }
    free(ds->base_index);
    free(ds->root);
    free(ds->class_counts);
    free(ds->paths);
    free(ds->labels);
    free(ds);
}

/* ---- queries -------------------------------------------------------------- */

size_t clnet_dataset_size(const clnet_dataset *ds) { return ds ? ds->n : 0; }

int clnet_dataset_classes(const clnet_dataset *ds) { return ds ? ds->nclasses : 0; }

const char *clnet_dataset_class_name(const clnet_dataset *ds, int i)
{
    return ds && i >= 0 && i < ds->nclasses ? ds->class_names[i] : NULL;
}

size_t clnet_dataset_class_count(const clnet_dataset *ds, int i)
{
    return ds && i >= 0 && i < ds->nclasses ? ds->class_counts[i] : 0;
}

const char *clnet_dataset_path(const clnet_dataset *ds, size_t i, int *label)
{
    if (!ds || i >= ds->n)
        return NULL;
    if (label)
        *label = ds->labels[i];
    return ds->paths[i];
}

size_t clnet_dataset_skipped(const clnet_dataset *ds) { return ds ? ds->skipped : 0; }

const char *clnet_dataset_root(const clnet_dataset *ds) { return ds ? ds->root : NULL; }
