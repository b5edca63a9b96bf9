/*
 * clnet datasets: image folders (one subfolder per class) decoded, resized,
 * augmented and batched by worker threads ahead of the compute.
 *
 * Overview
 *   clnet_dataset_open scans ROOT/<class>/... (classes sorted by name as
 *   PyTorch's ImageFolder does; files found recursively, in ImageFolder's
 *   order: folders sorted by path, then file names; hidden files and folders
 *   skipped; PNG, JPEG, BMP, GIF (first frame), TGA and PNM/PPM/PGM by
 *   extension, case-insensitive; names are bytes, any encoding). Symbolic
 *   links are followed, each folder entered once per class, so a link loop
 *   ends. Every file's header is checked at open: unreadable files, files
 *   that are not images and files over max_pixels are left out with one
 *   warning each and counted (clnet_dataset_skipped; by cause in
 *   clnet_dataset_get_skips, which also counts the files that fail later,
 *   in a loader). A clnet_loader then
 *   produces batches of float32 NCHW images with int32 labels in host memory
 *   that stays valid until the next call, filled by worker threads while
 *   the device computes.
 *
 *   Images are decoded by stb_image, except binary PGM/PPM, which clnet
 *   reads itself (16-bit samples big-endian as the format says, scaled by
 *   maxval); they are converted to the dataset's channel count (gray to RGB
 *   by copying, RGB to gray by luma, alpha dropped, 16-bit to 8-bit) and
 *   stretched to height x width with stb_image_resize (the aspect ratio
 *   is not kept, as torchvision's Resize((h, w)) does not).
 *
 * Example
 *   clnet_dataset_settings ds;
 *   clnet_dataset_default_settings(&ds);
 *   ds.channels = 1; ds.height = 28; ds.width = 28;
 *   clnet_dataset *train = NULL;
 *   if (clnet_dataset_open(ctx, "data/fashion/train", &ds, &train) != CLNET_OK)
 *       fail(clnet_errmsg(ctx));
 *   clnet_loader_settings ls;
 *   clnet_loader_default_settings(&ls);
 *   ls.batch = 64; ls.shuffle = 1; ls.augment = CLNET_AUG_FLIP;
 *   clnet_loader *ld = NULL;
 *   clnet_loader_create(ctx, train, &ls, &ld);
 *   clnet_loader_start_epoch(ld, 0, 0);   // epoch 0, from its first batch
 *   const clnet_batch *b;
 *   while (clnet_loader_next(ld, &b) == CLNET_OK && b)
 *       use(b->images, b->labels, b->n);
 *   clnet_loader_free(ld);
 *   clnet_dataset_free(train);
 *
 * Reproducibility
 *   A batch's files and pixels depend only on (seed, epoch, batch number):
 *   the epoch's order is a seeded shuffle, and each image's augmentation is
 *   drawn from (seed, epoch, position), never from a shared generator. The
 *   thread count and timing change nothing; start_epoch(e, k) resumes.
 *
 * Ownership and threads
 *   A loader borrows its dataset (free the loader first). Batches are owned
 *   by the loader. A loader's functions are called from one thread; its
 *   workers are internal. Bad image files never stop a loader: a file whose
 *   data fails to decode (its header passed the check at open) is skipped
 *   with one warning through the context's log callback (logged from the
 *   caller's thread, in clnet_loader_next) and counted
 *   (clnet_loader_skipped); its place in the batch goes to the next readable
 *   file of the epoch's order, so batches stay full. The dataset remembers
 *   such a file: later loaders of it (a new one per validation, say) skip
 *   it without reading it or warning again. Views made by
 *   clnet_dataset_split borrow the files of their parent (free them first).
 *
 * Skipped files
 *   Each file left out is warned about once and counted once, at the stage
 *   that refused it: when the folder is opened (the scan refuses what is not
 *   a regular file; the header check the rest) or when a loader first fails
 *   to load it. clnet_dataset_get_skips returns both, by cause, so a tool
 *   can print one total that matches the warnings:
 *       clnet_skip_stats sk;
 *       clnet_dataset_get_skips(train, &sk);
 *       if (sk.total)
 *           printf("%zu unusable images skipped (%zu at open, %zu later)\n",
 *                  sk.total, sk.opened, sk.loaded);
 */
#ifndef CLNET_DATA_H
#define CLNET_DATA_H

#include "clnet/clnet.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clnet_dataset clnet_dataset;
typedef struct clnet_loader clnet_loader;

typedef struct clnet_dataset_settings {
    int channels, height, width;  /* every image is converted to this:
                                     1 gray, 3 RGB (2 and 4 add alpha, 255
                                     where the file has none); height and
                                     width must be set (defaults: 0) */
    int limit_per_class;          /* > 0: only the first N readable files of
                                     each class (files past them are never
                                     read, so a quick run opens quickly) */
    uint64_t max_pixels;          /* larger images are skipped (default
                                     64 Mi pixels, a decompression-bomb guard) */
} clnet_dataset_settings;

/* channels 3, height = width = 0 (to be set), no limit, 64 Mi pixels. */
void clnet_dataset_default_settings(clnet_dataset_settings *s);

/* Errors before any compute: a missing or unreadable root or class folder,
 * fewer than two classes, a class folder without image files (named), a
 * class none of whose files is readable. */
clnet_status clnet_dataset_open(clnet_ctx *ctx, const char *root,
                                const clnet_dataset_settings *s,
                                clnet_dataset **out);
/* Opens a validation folder whose classes must equal like's (same names,
 * same order); a mismatch is a clear error naming the missing and the extra
 * classes. Uses like's settings (limit_per_class included). */
clnet_status clnet_dataset_open_like(clnet_ctx *ctx, const char *root,
                                     const clnet_dataset *like,
                                     clnet_dataset **out);
/* Stratified split: round(fraction x n) files of each class of n files go to
 * *val (at least one, and one stays in *train, when n >= 2), chosen by
 * seed; both keep ds's order and share its files (ds must outlive them).
 * 0 < fraction < 1. */
clnet_status clnet_dataset_split(clnet_ctx *ctx, const clnet_dataset *ds,
                                 double fraction, uint64_t seed,
                                 clnet_dataset **train, clnet_dataset **val);
void clnet_dataset_free(clnet_dataset *ds);

size_t clnet_dataset_size(const clnet_dataset *ds);
int clnet_dataset_classes(const clnet_dataset *ds);
const char *clnet_dataset_class_name(const clnet_dataset *ds, int i);
size_t clnet_dataset_class_count(const clnet_dataset *ds, int i);
/* Path of file i (in dataset order) and its label (label may be NULL).
 * Borrowed; NULL when i is out of range. */
const char *clnet_dataset_path(const clnet_dataset *ds, size_t i, int *label);
/* Files left out when this folder was opened, by the scan or the header
 * check (0 for the views of clnet_dataset_split: ask their parent). The
 * same as clnet_dataset_get_skips's `opened`. */
size_t clnet_dataset_skipped(const clnet_dataset *ds);

/* Why a file was left out. The values are stable; new causes may be added
 * below CLNET_SKIP_CAUSES_MAX. */
typedef enum clnet_skip_cause {
    CLNET_SKIP_UNREADABLE = 0,   /* cannot be opened or read: permissions, a
                                    dangling or looping link, an I/O error */
    CLNET_SKIP_NOT_REGULAR = 1,  /* named like an image but a fifo, a device
                                    or a folder */
    CLNET_SKIP_EMPTY = 2,        /* 0 bytes */
    CLNET_SKIP_NOT_IMAGE = 3,    /* no image header clnet knows: text, random
                                    bytes, another format */
    CLNET_SKIP_TOO_LARGE = 4,    /* more than max_pixels (or over 2 GiB) */
    CLNET_SKIP_CORRUPT = 5,      /* its header is fine, its data does not
                                    decode: truncated or damaged */
    CLNET_SKIP_CAUSES            /* the number of causes defined */
} clnet_skip_cause;

#define CLNET_SKIP_CAUSES_MAX 16

/* Files left out of a dataset, each counted once, at the stage that
 * refused it. Plain numbers: the caller owns the struct. */
typedef struct clnet_skip_stats {
    size_t at_open[CLNET_SKIP_CAUSES_MAX]; /* refused when the folder was
                                              opened, by clnet_skip_cause */
    size_t at_load[CLNET_SKIP_CAUSES_MAX]; /* failed when a loader first read
                                              them, by cause */
    size_t opened, loaded;       /* the sums of at_open and at_load */
    size_t total;                /* opened + loaded */
    size_t folders;              /* sub-folders that could not be read (a
                                    warning each; the files inside are
                                    unknown, so not counted above) */
} clnet_skip_stats;

/* The skipped files of the folder ds was opened from, so far: those refused
 * at open and those that failed in any loader of ds or of a view split from
 * the same parent (a view and its parent share one record: add it once).
 * Once the loaders have logged their warnings (clnet_loader_next returned
 * the batch that met the file, or clnet_loader_free), total equals the
 * number of "skipping '...'" warnings about files. Safe while loaders run.
 * A NULL ds gives zeros. */
void clnet_dataset_get_skips(const clnet_dataset *ds, clnet_skip_stats *out);
/* "unreadable", "not a regular file", "empty", "not an image", "too large",
 * "corrupt"; "unknown" for a value out of range. Static. */
const char *clnet_skip_cause_name(clnet_skip_cause c);
/* The folder it was opened from (for a view, its parent's). Borrowed. */
const char *clnet_dataset_root(const clnet_dataset *ds);

/* Per-channel mean and standard deviation (of pixel values in [0, 1]) over
 * up to `samples` images spread evenly through the dataset (0: all), as
 * converted and resized for the model. Exact and thread-count independent.
 * Undecodable files are left out; a channel without variation gets std 1. */
clnet_status clnet_dataset_measure(clnet_ctx *ctx, const clnet_dataset *ds,
                                   size_t samples, float *mean, float *std);

/* Decodes one image file into channels x height x width floats in [0, 1]
 * (converted and resized as the dataset settings say). Errors name the file
 * and the reason (CLNET_EFORMAT for undecodable or over-large images). */
clnet_status clnet_image_load(clnet_ctx *ctx, const char *path,
                              const clnet_dataset_settings *s, float *out);

enum {
    CLNET_AUG_FLIP = 1,          /* horizontal flip, p = 0.5 */
    CLNET_AUG_CROP = 2,          /* pad by crop_pad, random crop back */
    CLNET_AUG_RESIZED_CROP = 4   /* random resized crop, scale 0.08..1 */
};

typedef enum clnet_cache_mode {
    CLNET_CACHE_AUTO = 0,        /* cache decoded images if they fit */
    CLNET_CACHE_ON = 1,
    CLNET_CACHE_OFF = 2
} clnet_cache_mode;

typedef struct clnet_loader_settings {
    int batch;
    int shuffle;                 /* reshuffle every epoch (seed, epoch) */
    int drop_last;               /* skip a final partial batch */
    uint64_t seed;
    int threads;                 /* 0: number of cores */
    unsigned augment;            /* CLNET_AUG_* flags */
    int crop_pad;                /* CLNET_AUG_CROP padding (default 4) */
    const float *mean, *std;     /* per channel; NULL: 0 and 1; read during
                                    clnet_loader_create only */
    clnet_cache_mode cache;      /* images decoded and resized, before
                                    augmentation: C x H x W bytes each */
    size_t cache_budget_bytes;   /* AUTO: cache when that fits; default (and
                                    0) a quarter of physical memory */
    int prefetch;                /* batches prepared ahead (default 3) */
    /* Data parallel over processes: each batch of `batch` positions of the
     * epoch's order is cut into `shards` equal parts, and this loader yields
     * part `shard` only (batch / shards images; clnet_batch.index stays the
     * batch number), so the loaders of all shards, each with the same seed,
     * use every image of the epoch once between them. 0 or 1: no cut. Needs
     * drop_last and a batch that is a multiple of shards. A file that fails
     * to decode is replaced, as always, by the next readable one of the
     * order, which another shard may use too. */
    int shards, shard;
} clnet_loader_settings;

/* batch 64, shuffle on, seed 1, threads 0 (= online cores), no
 * augmentation, crop_pad 4, cache AUTO, prefetch 3. */
void clnet_loader_default_settings(clnet_loader_settings *s);

typedef struct clnet_batch {
    const float *images;         /* n x C x H x W, normalised */
    const int32_t *labels;       /* n */
    const uint32_t *indices;     /* n dataset indices (for reports) */
    int n;
    uint64_t index;              /* batch number within the epoch */
} clnet_batch;

clnet_status clnet_loader_create(clnet_ctx *ctx, const clnet_dataset *ds,
                                 const clnet_loader_settings *s,
                                 clnet_loader **out);
void clnet_loader_free(clnet_loader *ld);

/* Starts epoch `epoch` at batch `first_batch` (0, or a resume position;
 * at most clnet_loader_batches): the order depends only on (seed, epoch),
 * so a resumed run sees the same batches. Batches of an epoch in progress
 * are dropped. */
clnet_status clnet_loader_start_epoch(clnet_loader *ld, uint32_t epoch,
                                      uint64_t first_batch);
/* Next batch of the epoch, or *out = NULL at its end. The batch stays valid
 * until the next clnet_loader_next/start_epoch/free. */
clnet_status clnet_loader_next(clnet_loader *ld, const clnet_batch **out);
/* Batches per epoch with the loader's settings. */
uint64_t clnet_loader_batches(const clnet_loader *ld);
/* Files this loader skipped as unreadable so far, those an earlier loader
 * of the dataset reported included (each is reported once per dataset;
 * clnet_dataset_get_skips has the dataset's totals by cause). */
size_t clnet_loader_skipped(const clnet_loader *ld);
/* Bytes of the decoded-image cache, 0 when the loader does not cache. */
size_t clnet_loader_cache_bytes(const clnet_loader *ld);

#ifdef __cplusplus
}
#endif
#endif /* CLNET_DATA_H */
