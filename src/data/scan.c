/* The directory walk of clnet_dataset_open: class folders and the image
 * files below each, in the order torchvision's ImageFolder uses (classes
 * sorted by name; files sorted by (folder path, file name)), so an index
 * means the same file here and there.
 *
 * Symbolic links are followed, as ImageFolder does, but each folder is
 * entered once per class (tracked by device and inode), so a link back to a
 * parent cannot loop. Names are bytes: nothing assumes UTF-8. */
#define _DEFAULT_SOURCE 1 /* struct dirent's d_type and DT_*: a stat less per file */
#include "data/data_impl.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static const char *const image_exts[] = {
    "png", "jpg", "jpeg", "bmp", "gif", "tga", "pnm", "ppm", "pgm",
};

int clnet__is_image_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name)
        return 0;
    for (size_t i = 0; i < sizeof image_exts / sizeof *image_exts; i++)
        if (strcasecmp(dot + 1, image_exts[i]) == 0)
            return 1;
    return 0;
}

/* ---- folders already entered: a small open-addressing set ---------------- */

typedef struct visited {
    uint64_t *keys;   /* pairs (dev, ino); (0, 0) marks an empty cell */
    size_t cap, n;
} visited;

static uint64_t cell_hash(uint64_t dev, uint64_t ino)
{
    uint64_t s = dev * 0x9E3779B97F4A7C15ull ^ ino;
    return clnet__splitmix64(&s);
}

/* 1 if (dev, ino) was new and is now recorded, 0 if already there, -1 on
 * allocation failure. */
static int visited_add(visited *v, uint64_t dev, uint64_t ino)
{
    if (dev == 0 && ino == 0)
        ino = 1; /* keep (0, 0) free as the empty marker; harmless alias */
    if (2 * (v->n + 1) > v->cap) {
        size_t ncap = v->cap ? 2 * v->cap : 64;
        uint64_t *nk = calloc(2 * ncap, sizeof *nk);
        if (!nk)
            return -1;
        for (size_t i = 0; i < v->cap; i++) {
            uint64_t d = v->keys[2 * i], n = v->keys[2 * i + 1];
            if (!d && !n)
                continue;
            size_t j = cell_hash(d, n) & (ncap - 1);
            while (nk[2 * j] || nk[2 * j + 1])
                j = (j + 1) & (ncap - 1);
            nk[2 * j] = d;
            nk[2 * j + 1] = n;
        }
        free(v->keys);
        v->keys = nk;
        v->cap = ncap;
    }
    size_t j = cell_hash(dev, ino) & (v->cap - 1);
    while (v->keys[2 * j] || v->keys[2 * j + 1]) {
        if (v->keys[2 * j] == dev && v->keys[2 * j + 1] == ino)
            return 0;
        j = (j + 1) & (v->cap - 1);
    }
    v->keys[2 * j] = dev;
    v->keys[2 * j + 1] = ino;
    v->n++;
    return 1;
}

/* ---- growing string pool and lists --------------------------------------- */

static int pool_add(clnet__scan *sc, const char *s, size_t len, size_t *off)
{
    if (sc->pool_len + len + 1 > sc->pool_cap) {
        size_t ncap = sc->pool_cap ? sc->pool_cap : 4096;
        while (ncap < sc->pool_len + len + 1)
            ncap *= 2;
        char *np = realloc(sc->pool, ncap);
        if (!np)
            return -1;
        sc->pool = np;
        sc->pool_cap = ncap;
    }
    memcpy(sc->pool + sc->pool_len, s, len);
    sc->pool[sc->pool_len + len] = '\0';
    *off = sc->pool_len;
    sc->pool_len += len + 1;
    return 0;
}

static int list_add(clnet__file_list *l, size_t off)
{
    if (l->n == l->cap) {
        size_t ncap = l->cap ? 2 * l->cap : 256;
        size_t *no = realloc(l->off, ncap * sizeof *no);
        if (!no)
            return -1;
        l->off = no;
        l->cap = ncap;
    }
    l->off[l->n++] = off;
    return 0;
}

typedef struct name_list {
    char **v;
    size_t n, cap;
} name_list;

static int names_add(name_list *l, const char *name)
{
    if (l->n == l->cap) {
        size_t ncap = l->cap ? 2 * l->cap : 16;
        char **nv = realloc(l->v, ncap * sizeof *nv);
        if (!nv)
            return -1;
        l->v = nv;
        l->cap = ncap;
    }
    if (!(l->v[l->n] = strdup(name)))
        return -1;
    l->n++;
    return 0;
}

static void names_free(name_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether a directory entry is a folder or a regular file, following links
 * (ImageFolder follows them too). d_type spares a stat per file where the
 * file system reports it. */
enum { KIND_OTHER, KIND_DIR, KIND_FILE, KIND_BROKEN };

static int entry_kind(const struct dirent *e, const char *path)
{
#ifdef DT_DIR
    if (e->d_type == DT_DIR)
        return KIND_DIR;
    if (e->d_type == DT_REG)
        return KIND_FILE;
    if (e->d_type != DT_LNK && e->d_type != DT_UNKNOWN)
        return KIND_OTHER;
#else
    (void)e;
#endif
    struct stat st;
    if (stat(path, &st) != 0)
        return KIND_BROKEN;
    if (S_ISDIR(st.st_mode))
        return KIND_DIR;
    return S_ISREG(st.st_mode) ? KIND_FILE : KIND_OTHER;
}

/* ---- the walk ------------------------------------------------------------- */

typedef struct walk {
    clnet_ctx *ctx;
    clnet__scan *sc;
    clnet__file_list *files;
    visited seen;
    int oom;
} walk;

#define PATH_CAP 4096

/* Lists one folder: image files into w->files, then its sub-folders in name
 * order. Returns -1 only when `dir` itself cannot be opened (errno set). */
static int walk_dir(walk *w, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct stat st;
    if (fstat(dirfd(d), &st) == 0) {
        int added = visited_add(&w->seen, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
        if (added <= 0) {
            w->oom |= added < 0;
            if (added == 0)
                clnet__log(w->ctx, CLNET_LOG_DEBUG,
                           "not entering '%s' again (linked folder)", dir);
            closedir(d);
            return 0;
        }
    }
    size_t dlen = strlen(dir);
    char path[PATH_CAP];
    name_list subdirs = {0};
    struct dirent *e;
    while (!w->oom && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue; /* hidden, and "." / ".." */
        size_t nlen = strlen(e->d_name);
        if (dlen + 1 + nlen + 1 > sizeof path) {
            /* Counted as what it would have been: an image file, or else
             * a folder, or what may be one (no stat without the path).
             * Other files are ignored anyway. */
            int image = clnet__is_image_name(e->d_name);
#ifdef DT_DIR
            if (!image && e->d_type != DT_DIR && e->d_type != DT_LNK &&
                e->d_type != DT_UNKNOWN)
                continue;
#endif
            clnet__log(w->ctx, CLNET_LOG_WARN, "skipping %s'%s/%s': path too long",
                       image ? "" : "folder ", dir, e->d_name);
            if (image)
                w->sc->refused[CLNET_SKIP_UNREADABLE]++;
            else
                w->sc->unreadable_dirs++;
            continue;
        }
        memcpy(path, dir, dlen);
        path[dlen] = '/';
        memcpy(path + dlen + 1, e->d_name, nlen + 1);
        int kind = entry_kind(e, path);
        if (kind == KIND_DIR) {
            if (names_add(&subdirs, e->d_name) != 0)
                w->oom = 1;
        } else if (kind == KIND_OTHER && clnet__is_image_name(e->d_name)) {
            /* A fifo would block the reader; a device would not end. */
            clnet__log(w->ctx, CLNET_LOG_WARN, "skipping '%s': not a regular file",
                       path);
            w->sc->refused[CLNET_SKIP_NOT_REGULAR]++;
        } else if ((kind == KIND_FILE || kind == KIND_BROKEN) &&
                   clnet__is_image_name(e->d_name)) {
            /* A dangling link named like an image is listed: the header
             * check then reports it as unreadable, by name. */
            size_t off;
            if (pool_add(w->sc, path, dlen + 1 + nlen, &off) != 0 ||
                list_add(w->files, off) != 0)
                w->oom = 1;
        }
    }
    closedir(d);
    /* Sorted, so which path of a folder linked twice wins is reproducible. */
    if (subdirs.n > 1)
        qsort(subdirs.v, subdirs.n, sizeof *subdirs.v, cmp_name);
    for (size_t i = 0; i < subdirs.n && !w->oom; i++) {
        size_t nlen = strlen(subdirs.v[i]);
        if (dlen + 1 + nlen + 1 > sizeof path)
            continue;
        memcpy(path, dir, dlen);
        path[dlen] = '/';
        memcpy(path + dlen + 1, subdirs.v[i], nlen + 1);
        if (walk_dir(w, path) != 0) {
            clnet__log(w->ctx, CLNET_LOG_WARN, "skipping folder '%s': %s", path,
                       strerror(errno));
            w->sc->unreadable_dirs++;
        }
    }
    names_free(&subdirs);
    return 0;
}

/* ImageFolder's order: os.walk's folders sorted by path, then file names. */
typedef struct sort_item {
    const char *path;
    size_t dirlen;
    size_t off;
} sort_item;

static int cmp_item(const void *pa, const void *pb)
{
    const sort_item *a = pa, *b = pb;
    size_t m = a->dirlen < b->dirlen ? a->dirlen : b->dirlen;
    int c = memcmp(a->path, b->path, m);
    if (c)
        return c;
    if (a->dirlen != b->dirlen)
        return a->dirlen < b->dirlen ? -1 : 1;
    return strcmp(a->path + a->dirlen + 1, b->path + b->dirlen + 1);
}

static int sort_files(clnet__scan *sc, clnet__file_list *l)
{
    if (l->n < 2)
        return 0;
    sort_item *items = malloc(l->n * sizeof *items);
    if (!items)
        return -1;
    for (size_t i = 0; i < l->n; i++) {
        items[i].path = sc->pool + l->off[i];
        items[i].dirlen = (size_t)(strrchr(items[i].path, '/') - items[i].path);
        items[i].off = l->off[i];
    }
    qsort(items, l->n, sizeof *items, cmp_item);
    for (size_t i = 0; i < l->n; i++)
        l->off[i] = items[i].off;
    free(items);
    return 0;
}

static clnet_status list_classes(clnet_ctx *ctx, const char *root,
                                 name_list *classes)
{
    struct stat st;
    if (stat(root, &st) != 0)
        return clnet__fail(ctx, errno == ENOENT ? CLNET_ENOTFOUND : CLNET_EIO,
                           "dataset folder '%s': %s", root, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return clnet__fail(ctx, CLNET_EINVAL,
                           "dataset folder '%s' is not a folder (expected one "
                           "sub-folder per class)", root);
    DIR *d = opendir(root);
    if (!d)
        return clnet__fail(ctx, CLNET_EIO, "cannot read dataset folder '%s': %s",
                           root, strerror(errno));
    char path[PATH_CAP];
    size_t rlen = strlen(root);
    struct dirent *e;
    clnet_status status = CLNET_OK;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        size_t nlen = strlen(e->d_name);
        if (rlen + 1 + nlen + 1 > sizeof path)
            continue;
        memcpy(path, root, rlen);
        path[rlen] = '/';
        memcpy(path + rlen + 1, e->d_name, nlen + 1);
        if (entry_kind(e, path) == KIND_DIR && names_add(classes, e->d_name) != 0) {
            status = clnet__fail(ctx, CLNET_ENOMEM, "out of memory listing '%s'", root);
            break;
        }
    }
    closedir(d);
    if (classes->n > 1)
        qsort(classes->v, classes->n, sizeof *classes->v, cmp_name);
    return status;
}

clnet_status clnet__scan_root(clnet_ctx *ctx, const char *root, clnet__scan *out)
{
    memset(out, 0, sizeof *out);
    /* "data/train/" and "data/train" name the same folder; keep paths tidy. */
    size_t rlen = strlen(root);
    while (rlen > 1 && root[rlen - 1] == '/')
        rlen--;
    if (rlen + 2 > PATH_CAP)
        return clnet__fail(ctx, CLNET_EINVAL, "dataset path too long");
    char rootbuf[PATH_CAP];
    memcpy(rootbuf, root, rlen);
    rootbuf[rlen] = '\0';

    name_list classes = {0};
    clnet_status st = list_classes(ctx, rootbuf, &classes);
    if (st != CLNET_OK) {
        names_free(&classes);
        return st;
    }
    out->nclasses = (int)classes.n;
    out->class_names = classes.v; /* ownership moves to out */
    out->files = calloc(classes.n ? classes.n : 1, sizeof *out->files);
    if (!out->files) {
        clnet__scan_free(out);
        return clnet__fail(ctx, CLNET_ENOMEM, "out of memory scanning '%s'", root);
    }
    struct stat rst;
    int have_root = stat(rootbuf, &rst) == 0;
    for (size_t c = 0; c < classes.n; c++) {
        walk w = {.ctx = ctx, .sc = out, .files = &out->files[c]};
        /* A link from inside a class back to the root would otherwise list
         * every class inside this one. */
        if (have_root && visited_add(&w.seen, (uint64_t)rst.st_dev,
                                     (uint64_t)rst.st_ino) < 0)
            w.oom = 1;
        char path[PATH_CAP];
        size_t nlen = strlen(classes.v[c]);
        if (rlen + 1 + nlen + 1 > sizeof path)
            st = clnet__fail(ctx, CLNET_EINVAL, "path too long: '%s/%s'", rootbuf,
                             classes.v[c]);
        else {
            memcpy(path, rootbuf, rlen);
            path[rlen] = '/';
            memcpy(path + rlen + 1, classes.v[c], nlen + 1);
            if (!w.oom && walk_dir(&w, path) != 0)
                st = clnet__fail(ctx, CLNET_EIO, "cannot read class folder '%s': %s",
                                 path, strerror(errno));
        }
        if (st == CLNET_OK && (w.oom || sort_files(out, w.files) != 0))
            st = clnet__fail(ctx, CLNET_ENOMEM, "out of memory scanning '%s'", root);
        free(w.seen.keys);
        if (st != CLNET_OK) {
            clnet__scan_free(out);
            return st;
        }
    }
    return CLNET_OK;
}

void clnet__scan_free(clnet__scan *sc)
{
    if (!sc)
        return;
    for (int c = 0; c < sc->nclasses; c++) {
        free(sc->class_names[c]);
        if (sc->files)
            free(sc->files[c].off);
    }
    free(sc->class_names);
    free(sc->files);
    free(sc->pool);
    memset(sc, 0, sizeof *sc);
}
