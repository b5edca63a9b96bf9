/* Internals of src/data shared between its files: the dataset structure,
 * image decoding without a context (worker threads cannot touch ctx), the
 * counter-based random numbers of augmentation and shuffling, and a small
 * parallel-for. */
#ifndef CLNET_DATA_IMPL_H
#define CLNET_DATA_IMPL_H

#include "clnet/data.h"
#include "core/core.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* What a base dataset knows of its skipped files, shared with its views
 * (views borrow it). at_open and folders are set at open; the rest is
 * updated by loader threads. */
typedef struct clnet__skips {
    size_t at_open[CLNET_SKIP_CAUSES_MAX];
    size_t folders;
    _Atomic size_t at_load[CLNET_SKIP_CAUSES_MAX];
    _Atomic unsigned char *failed;  /* per base file: a loader reported it */
} clnet__skips;

struct clnet_dataset {
    clnet_dataset_settings s;
    char *root;
    int nclasses;
    char **class_names;      /* owned by the base dataset, borrowed by views */
    size_t *class_counts;    /* own */
    size_t n;
    const char **paths;      /* own array; strings live in the base's pool */
    int32_t *labels;         /* own */
    char *pool;              /* path strings (base only; NULL in views) */
    size_t skipped;          /* files excluded at open (scan + header check) */
    clnet__skips *skips;     /* own (base) or the base's (views) */
    size_t *base_index;      /* views: each file's index in the base; own */
    int is_view;             /* made by clnet_dataset_split */
};

/* ---- skips.c: why files are left out, counted once per base dataset ------ */

/* The cause of a failed header check (at_open) or decode, from the status
 * and the reason clnet__image_probe/clnet__image_decode gave (their reasons
 * begin with fixed words: see skips.c; tests/data/test_skips.c pins them). */
clnet_skip_cause clnet__skip_cause_of(clnet_status st, const char *why, int at_open);
/* A record for n base files with the given counts at open; NULL when out of
 * memory. */
clnet__skips *clnet__skips_new(size_t n, const size_t *at_open, size_t folders);
void clnet__skips_free(clnet__skips *sk);
/* Whether file idx of ds has failed in a loader already. */
int clnet__skips_known(const clnet_dataset *ds, size_t idx);
/* Records that file idx of ds failed to load with cause c: 1 if this is the
 * first time for the dataset (the caller reports it), else 0. */
int clnet__skips_note(const clnet_dataset *ds, size_t idx, clnet_skip_cause c);

/* ---- scan.c: the directory walk ---------------------------------------- */

/* One class folder's image files, full paths in ImageFolder order. Paths are
 * offsets into *pool (so the pool may grow while scanning). */
typedef struct clnet__file_list {
    size_t *off;
    size_t n, cap;
} clnet__file_list;

typedef struct clnet__scan {
    char *pool;
    size_t pool_len, pool_cap;
    char **class_names;
    int nclasses;
    clnet__file_list *files;   /* per class */
    size_t unreadable_dirs;    /* sub-folders skipped with a warning */
    size_t refused[CLNET_SKIP_CAUSES_MAX]; /* image names the walk left out
                                              with a warning, by cause */
} clnet__scan;

/* Lists ROOT's class folders and the image files under each. Errors: root
 * missing or unreadable, an unreadable class folder. Warnings (through ctx),
 * each counted, for unreadable sub-folders and for image names that are not
 * regular files or whose paths are too long. */
clnet_status clnet__scan_root(clnet_ctx *ctx, const char *root,
                              clnet__scan *out);
void clnet__scan_free(clnet__scan *sc);
/* 1 if the name ends in one of the image extensions (case-insensitive). */
int clnet__is_image_name(const char *name);

/* ---- decode.c: one file to pixels ------------------------------------------ */

/* A per-thread growable buffer for file contents. */
typedef struct clnet__filebuf {
    unsigned char *p;
    size_t cap;
} clnet__filebuf;
void clnet__filebuf_free(clnet__filebuf *b);

#define CLNET__WHY_MAX 256

/* Reads the header only: fails (reason in why) on an empty, unreadable or
 * unrecognised file, or one claiming more than max_pixels. path is relative
 * to the folder open as dir (AT_FDCWD: as usual). Thread-safe. */
clnet_status clnet__image_probe(int dir, const char *path, uint64_t max_pixels,
                                clnet__filebuf *buf, int *w, int *h,
                                char *why, size_t whylen);
/* Decodes, converts to s->channels and resizes to s->height x s->width:
 * out receives H x W x C bytes (interleaved, as stb_image produces them).
 * Thread-safe; the reason of a failure goes to why. */
clnet_status clnet__image_decode(const char *path,
                                 const clnet_dataset_settings *s,
                                 clnet__filebuf *buf, uint8_t *out,
                                 char *why, size_t whylen);
clnet_status clnet__check_image_settings(clnet_ctx *ctx,
                                         const clnet_dataset_settings *s);

/* ---- augment.c ---------------------------------------------------------- */

/* Geometry of one image's augmentation, drawn from (seed, epoch, position). */
typedef struct clnet__aug {
    int rrc;                 /* random resized crop rectangle below */
    int rx, ry, rw, rh;
    int dx, dy;              /* pad-crop offset, in [-pad, pad] */
    int flip;
} clnet__aug;

void clnet__aug_draw(clnet__aug *a, unsigned flags, int pad, int h, int w,
                     uint64_t seed, uint32_t epoch, uint64_t pos);
/* Bilinear resample of the rectangle (rx, ry, rw, rh) of src (h x w x c)
 * to dst (h x w x c). */
void clnet__resized_crop(const uint8_t *src, uint8_t *dst, int h, int w,
                         int c, int rx, int ry, int rw, int rh);
/* Writes planar floats byte x scale[k] + bias[k] (normalisation folded in)
 * with the pad-crop offset and flip of a applied (a->rrc must already be
 * resolved by the caller); padding is the value of a black byte. */
void clnet__to_planar(const uint8_t *src, float *dst, int h, int w, int c,
                      const clnet__aug *a, const float *scale, const float *bias);

/* ---- pixels.c: decoded images by index, from RAM or from disk ---------- */

/* Shared by a loader's workers. Each file's state moves EMPTY -> LOADING ->
 * READY (cached) or BAD (unreadable: counted and reported once). */
typedef struct clnet__pixels {
    const clnet_dataset *ds;
    size_t item;                 /* H x W x C bytes */
    uint8_t *ram;                /* n x item, or NULL: decode every time */
    _Atomic unsigned char *state;
    _Atomic size_t bad;
} clnet__pixels;

clnet_status clnet__pixels_init(clnet_ctx *ctx, clnet__pixels *px,
                                const clnet_dataset *ds, clnet_cache_mode mode,
                                size_t budget);
void clnet__pixels_free(clnet__pixels *px);
/* Decoded pixels of file idx: a pointer into the cache, or into scratch
 * (item bytes). CLNET_EFORMAT: the file is unreadable (why says why; *first
 * is 1 for the one call, of all the loaders of the dataset, that found it
 * so: it was counted in the dataset's skips and the caller reports it).
 * Thread-safe. */
clnet_status clnet__pixels_get(clnet__pixels *px, size_t idx, clnet__filebuf *buf,
                               uint8_t *scratch, const uint8_t **out, int *first,
                               char *why, size_t whylen);
/* The default budget: a quarter of physical memory. */
size_t clnet__default_cache_budget(void);

/* ---- random numbers: splitmix64 ------------------------------------------ */

static inline uint64_t clnet__splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A state that depends on every word given, for per-(seed, epoch, item)
 * streams that do not overlap. */
static inline uint64_t clnet__mix3(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t s = a;
    uint64_t x = clnet__splitmix64(&s) ^ b;
    x = clnet__splitmix64(&x) ^ c;
    return clnet__splitmix64(&x);
}

/* Uniform in [0, n) for n <= 2^32 (multiply-shift: no division, bias
 * below 2^-32). */
static inline uint64_t clnet__below(uint64_t *s, uint64_t n)
{
    return ((clnet__splitmix64(s) >> 32) * n) >> 32;
}

static inline double clnet__unit(uint64_t *s)
{
    return (double)(clnet__splitmix64(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* ---- parallel.c --------------------------------------------------------- */

/* Online cores (at least 1). */
int clnet__cpu_count(void);
/* Calls fn(arg, begin, end, part) on `parts` contiguous slices of [0, n),
 * part 0 on the calling thread. Falls back to fewer threads (down to the
 * caller alone) when a thread cannot start. */
void clnet__parallel_for(int parts, size_t n,
                         void (*fn)(void *arg, size_t begin, size_t end,
                                    int part),
                         void *arg);

#endif
