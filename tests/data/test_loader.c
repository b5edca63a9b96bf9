/* The batch loader: batches independent of thread count and cache, exact
 * resume, epoch permutations, shards, normalisation, augmentation geometry,
 * shutdown mid-epoch, statistics. */
#include "fixture.h"
#include "../support.h"

#include "data/data_impl.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { C = 3, H = 6, W = 5, PER_CLASS = 20, CLASSES = 3, N = PER_CLASS * CLASSES };

static clnet_dataset *ds;

/* 60 noise images of 9x7 (resized to 6x5 on load), three classes. */
static void setup(void)
{
    fx_setup();
    clnet_test_rng r;
    clnet_test_rng_seed(&r, 42);
    uint8_t px[9 * 7 * C];
    char path[4096];
    for (int c = 0; c < CLASSES; c++) {
        fx_mkdirs("%s/class%d", fx_root, c);
        for (int i = 0; i < PER_CLASS; i++) {
            for (size_t k = 0; k < sizeof px; k++)
                px[k] = (uint8_t)clnet_test_uniform(&r, 0, 255.99f);
            snprintf(path, sizeof path, "%s/class%d/%02d.png", fx_root, c, i);
            fx_png(path, 7, 9, C, px);
        }
    }
    clnet_dataset_settings s = fx_settings(C, H, W);
    ck_assert_int_eq(clnet_dataset_open(fx_c, fx_root, &s, &ds), CLNET_OK);
    ck_assert_uint_eq(clnet_dataset_size(ds), N);
}

static void teardown(void)
{
    clnet_dataset_free(ds);
    fx_teardown();
}

/* One epoch's batches, copied. */
typedef struct epoch_rec {
    int nb;
    int n[64];
    uint64_t index[64];
    float images[64][16 * C * H * W];
    int32_t labels[64][16];
    uint32_t indices[64][16];
} epoch_rec;

static clnet_loader_settings base_settings(void)
{
    clnet_loader_settings ls;
    clnet_loader_default_settings(&ls);
    ls.batch = 7;
    ls.seed = 5;
    ls.augment = CLNET_AUG_FLIP | CLNET_AUG_CROP | CLNET_AUG_RESIZED_CROP;
    ls.crop_pad = 2;
    return ls;
}

static void record(clnet_loader *ld, uint32_t epoch, uint64_t first, epoch_rec *r)
{
    memset(r, 0, sizeof *r);
    ck_assert_int_eq(clnet_loader_start_epoch(ld, epoch, first), CLNET_OK);
    const clnet_batch *b;
    for (;;) {
        ck_assert_int_eq(clnet_loader_next(ld, &b), CLNET_OK);
        if (!b)
            break;
        ck_assert_int_lt(r->nb, 64);
        ck_assert_int_le(b->n, 16);
        r->n[r->nb] = b->n;
        r->index[r->nb] = b->index;
        memcpy(r->images[r->nb], b->images, (size_t)b->n * C * H * W * sizeof(float));
        memcpy(r->labels[r->nb], b->labels, (size_t)b->n * sizeof(int32_t));
        memcpy(r->indices[r->nb], b->indices, (size_t)b->n * sizeof(uint32_t));
        r->nb++;
    }
}

static void record_with(const clnet_loader_settings *ls, uint32_t epoch,
                        uint64_t first, epoch_rec *r)
{
    clnet_loader *ld = NULL;
    ck_assert_int_eq(clnet_loader_create(fx_c, ds, ls, &ld), CLNET_OK);
    record(ld, epoch, first, r);
    clnet_loader_free(ld);
}

/* Batches from..a->nb of a equal batches 0.. of b. */
static void assert_same(const epoch_rec *a, int from, const epoch_rec *b)
{
    ck_assert_int_eq(a->nb - from, b->nb);
    for (int i = 0; i < b->nb; i++) {
        ck_assert_int_eq(a->n[from + i], b->n[i]);
        ck_assert_uint_eq(a->index[from + i], b->index[i]);
        size_t n = (size_t)b->n[i];
        ck_assert(memcmp(a->labels[from + i], b->labels[i], n * sizeof(int32_t)) == 0);
        ck_assert(memcmp(a->indices[from + i], b->indices[i], n * sizeof(uint32_t)) == 0);
        ck_assert_msg(memcmp(a->images[from + i], b->images[i],
                             n * C * H * W * sizeof(float)) == 0,
                      "pixels of batch %d differ", from + i);
    }
}

static epoch_rec ra, rb;

START_TEST(same_batches_any_threads_and_cache)
{
    clnet_loader_settings ls = base_settings();
    ls.threads = 1;
    ls.cache = CLNET_CACHE_OFF;
    for (uint32_t epoch = 0; epoch < 2; epoch++) {
        record_with(&ls, epoch, 0, &ra);
        ck_assert_int_eq(ra.nb, 9); /* 60 = 8 x 7 + 4 */
        ck_assert_int_eq(ra.n[8], 4);
        static const struct { int threads; clnet_cache_mode cache; int prefetch; } v[] = {
            {3, CLNET_CACHE_OFF, 3}, {3, CLNET_CACHE_ON, 1}, {1, CLNET_CACHE_ON, 5},
            {2, CLNET_CACHE_AUTO, 0},
        };
        for (size_t k = 0; k < sizeof v / sizeof *v; k++) {
            ls.threads = v[k].threads;
            ls.cache = v[k].cache;
            ls.prefetch = v[k].prefetch;
            record_with(&ls, epoch, 0, &rb);
            assert_same(&ra, 0, &rb);
        }
        ls.threads = 1;
        ls.cache = CLNET_CACHE_OFF;
        ls.prefetch = 3;
    }
    /* One loader over three epochs (the cache filled in the first) gives
     * what fresh loaders give. */
    ls.threads = 2;
    ls.cache = CLNET_CACHE_ON;
    clnet_loader *ld = NULL;
    ck_assert_int_eq(clnet_loader_create(fx_c, ds, &ls, &ld), CLNET_OK);
    ck_assert_uint_eq(clnet_loader_cache_bytes(ld), (size_t)N * C * H * W);
    record(ld, 0, 0, &rb);
    record(ld, 1, 0, &rb);
    record(ld, 1, 0, &rb);
    assert_same(&ra, 0, &rb);
    clnet_loader_free(ld);
}
END_TEST

START_TEST(resume_mid_epoch)
{
    clnet_loader_settings ls = base_settings();
    ls.threads = 2;
    record_with(&ls, 3, 0, &ra);
    for (uint64_t k = 0; k <= 9; k++) {
        record_with(&ls, 3, k, &rb);
        assert_same(&ra, (int)k, &rb);
    }
    clnet_loader *ld = NULL;
    ck_assert_int_eq(clnet_loader_create(fx_c, ds, &ls, &ld), CLNET_OK);
    ck_assert_int_eq(clnet_loader_start_epoch(ld, 3, 10), CLNET_EINVAL);
    clnet_loader_free(ld);
}
END_TEST

START_TEST(epochs_are_permutations)
{
    clnet_loader_settings ls = base_settings();
    ls.augment = 0;
    record_with(&ls, 0, 0, &ra);
    record_with(&ls, 1, 0, &rb);
    int seen[N] = {0}, differs = 0;
    for (int b = 0; b < ra.nb; b++)
        for (int i = 0; i < ra.n[b]; i++) {
            uint32_t idx = ra.indices[b][i];
            ck_assert_uint_lt(idx, N);
            seen[idx]++;
            int label;
            clnet_dataset_path(ds, idx, &label);
            ck_assert_int_eq(ra.labels[b][i], label);
            differs |= idx != rb.indices[b][i];
        }
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(seen[i], 1);
    ck_assert(differs); /* each epoch has its own order */
    /* Without shuffling, dataset order; drop_last drops the partial batch. */
    ls.shuffle = 0;
    ls.drop_last = 1;
    record_with(&ls, 4, 0, &ra);
    ck_assert_int_eq(ra.nb, 8);
    for (int b = 0; b < ra.nb; b++)
        for (int i = 0; i < 7; i++)
            ck_assert_uint_eq(ra.indices[b][i], (uint32_t)(b * 7 + i));
}
END_TEST

/* Data parallel over processes: with 2 and 3 shards, shard k's batch b is
 * part k of the unsharded loader's batch b (same images, labels and
 * augmented pixels), so over an epoch every image is used exactly once
 * across the shards; resuming a shard mid-epoch gives the rest. */
START_TEST(shards_split_each_batch)
{
    clnet_loader_settings ls = base_settings();
    ls.batch = 6; /* 60 images: 10 full batches, a multiple of 2 and 3 */
    ls.drop_last = 1;
    ls.threads = 2;
    record_with(&ls, 2, 0, &ra);
    ck_assert_int_eq(ra.nb, 10);
    static epoch_rec rs;
    for (int shards = 2; shards <= 3; shards++) {
        int part = ls.batch / shards, seen[N] = {0};
        for (int k = 0; k < shards; k++) {
            clnet_loader_settings sh = ls;
            sh.shards = shards;
            sh.shard = k;
            record_with(&sh, 2, 0, &rb);
            ck_assert_int_eq(rb.nb, ra.nb);
            for (int b = 0; b < rb.nb; b++) {
                ck_assert_int_eq(rb.n[b], part);
                ck_assert_uint_eq(rb.index[b], ra.index[b]);
                size_t at = (size_t)k * part;
                ck_assert(memcmp(rb.indices[b], ra.indices[b] + at,
                                 part * sizeof(uint32_t)) == 0);
                ck_assert(memcmp(rb.labels[b], ra.labels[b] + at,
                                 part * sizeof(int32_t)) == 0);
                ck_assert(memcmp(rb.images[b], ra.images[b] + at * C * H * W,
                                 part * C * H * W * sizeof(float)) == 0);
                for (int i = 0; i < part; i++)
                    seen[rb.indices[b][i]]++;
            }
            record_with(&sh, 2, 7, &rs);
            assert_same(&rb, 7, &rs);
        }
        for (int i = 0; i < N; i++)
            ck_assert_msg(seen[i] == 1, "%d shards: image %d used %d times", shards, i,
                          seen[i]);
    }
    /* Shards that cannot cut the batch evenly, or without drop_last. */
    clnet_loader *ld = NULL;
    clnet_loader_settings bad = ls;
    bad.shards = 4;
    ck_assert_int_eq(clnet_loader_create(fx_c, ds, &bad, &ld), CLNET_EINVAL);
    bad.shards = 2;
    bad.drop_last = 0;
    ck_assert_int_eq(clnet_loader_create(fx_c, ds, &bad, &ld), CLNET_EINVAL);
    bad.drop_last = 1;
    bad.shard = 2;
    ck_assert_int_eq(clnet_loader_create(fx_c, ds, &bad, &ld), CLNET_EINVAL);
    ck_assert_ptr_null(ld);
}
END_TEST

START_TEST(normalisation)
{
    const float mean[C] = {0.5f, 0.25f, 0.0f}, std[C] = {0.5f, 2.0f, 1.0f};
    clnet_loader_settings ls = base_settings();
    ls.augment = 0;
    ls.shuffle = 0;
    ls.mean = mean;
    ls.std = std;
    record_with(&ls, 0, 0, &ra);
    clnet_dataset_settings s = fx_settings(C, H, W);
    float px[C * H * W];
    for (int b = 0; b < ra.nb; b += 3) {
        ck_assert_int_eq(clnet_image_load(fx_c, clnet_dataset_path(ds, (size_t)b * 7, NULL),
                                          &s, px), CLNET_OK);
        for (int k = 0; k < C; k++)
            for (int i = 0; i < H * W; i++)
                ck_assert_float_eq_tol(ra.images[b][k * H * W + i],
                                       (px[k * H * W + i] - mean[k]) / std[k], 1e-5);
    }
}
END_TEST

START_TEST(augment_geometry)
{
    /* A 4x3 two-channel image with distinct bytes. */
    enum { h = 3, w = 4, c = 2 };
    uint8_t src[h * w * c];
    for (int i = 0; i < h * w * c; i++)
        src[i] = (uint8_t)(i + 1);
    const float scale[2] = {1.0f, 2.0f}, bias[2] = {-1000.0f, 0.5f};
#define V(k, byte) ((float)(byte) * scale[k] + bias[k])
    float out[c * h * w];
    clnet__aug a = {0};
    a.flip = 1;
    clnet__to_planar(src, out, h, w, c, &a, scale, bias);
    for (int k = 0; k < c; k++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                ck_assert_float_eq(out[(k * h + y) * w + x],
                                   V(k, src[(y * w + (w - 1 - x)) * c + k]));
    /* Pad and crop: out(y, x) = src(y + dy, x + dx), black outside. */
    for (int dx = -2; dx <= 2; dx++)
        for (int dy = -1; dy <= 1; dy++)
            for (int flip = 0; flip < 2; flip++) {
                a.dx = dx;
                a.dy = dy;
                a.flip = flip;
                clnet__to_planar(src, out, h, w, c, &a, scale, bias);
                for (int k = 0; k < c; k++)
                    for (int y = 0; y < h; y++)
                        for (int x = 0; x < w; x++) {
                            int sy = y + dy, sx = (flip ? w - 1 - x : x) + dx;
                            float want = sy >= 0 && sy < h && sx >= 0 && sx < w
                                             ? V(k, src[(sy * w + sx) * c + k])
                                             : V(k, 0);
                            ck_assert_float_eq(out[(k * h + y) * w + x], want);
                        }
            }
#undef V
    /* A full-size resized crop is the identity; a 2x2 corner doubles. */
    uint8_t dst[h * w * c];
    clnet__resized_crop(src, dst, h, w, c, 0, 0, w, h);
    ck_assert(memcmp(src, dst, sizeof src) == 0);
    uint8_t flat[8 * 8], big[8 * 8];
    for (int i = 0; i < 64; i++)
        flat[i] = (uint8_t)(i % 8 < 4 ? 10 : 200);
    clnet__resized_crop(flat, big, 8, 8, 1, 2, 2, 4, 4);
    ck_assert_uint_eq(big[0], 10);
    ck_assert_uint_eq(big[7], 200);
    ck_assert_uint_eq(big[3 * 8 + 3], 58); /* 10 + 190 x 0.25: interpolated */
    /* Draws: deterministic per (seed, epoch, position), within bounds, and
     * varied. */
    int flips = 0, moved = 0;
    for (uint64_t pos = 0; pos < 400; pos++) {
        clnet__aug x, y;
        clnet__aug_draw(&x, CLNET_AUG_FLIP | CLNET_AUG_CROP | CLNET_AUG_RESIZED_CROP, 4,
                        32, 32, 9, 2, pos);
        clnet__aug_draw(&y, CLNET_AUG_FLIP | CLNET_AUG_CROP | CLNET_AUG_RESIZED_CROP, 4,
                        32, 32, 9, 2, pos);
        ck_assert(memcmp(&x, &y, sizeof x) == 0);
        ck_assert_int_ge(x.dx, -4);
        ck_assert_int_le(x.dx, 4);
        ck_assert_int_ge(x.rx, 0);
        ck_assert_int_le(x.rx + x.rw, 32);
        ck_assert_int_le(x.ry + x.rh, 32);
        ck_assert_int_ge(x.rw * x.rh, (int)(0.08 * 32 * 32) - 12);
        double ratio = (double)x.rw / x.rh;
        ck_assert(ratio > 0.6 && ratio < 1.7);
        flips += x.flip;
        moved += x.dx != 0 || x.dy != 0;
    }
    ck_assert_int_gt(flips, 150);
    ck_assert_int_lt(flips, 250);
    ck_assert_int_gt(moved, 300);
}
END_TEST

START_TEST(free_mid_epoch)
{
    clnet_loader_settings ls = base_settings();
    ls.threads = 3;
    ls.batch = 2;
    ls.prefetch = 2;
    clnet_loader *ld = NULL;
    /* Created and freed without an epoch. */
    ck_assert_int_eq(clnet_loader_create(fx_c, ds, &ls, &ld), CLNET_OK);
    clnet_loader_free(ld);
    /* Freed while workers fill batches. */
    ck_assert_int_eq(clnet_loader_create(fx_c, ds, &ls, &ld), CLNET_OK);
    ck_assert_int_eq(clnet_loader_start_epoch(ld, 0, 0), CLNET_OK);
    clnet_loader_free(ld);
    /* After a batch; and an epoch restarted mid-way is complete. */
    const clnet_batch *b;
    ck_assert_int_eq(clnet_loader_create(fx_c, ds, &ls, &ld), CLNET_OK);
    ck_assert_int_eq(clnet_loader_next(ld, &b), CLNET_EINVAL); /* no epoch yet */
    ck_assert_int_eq(clnet_loader_start_epoch(ld, 0, 0), CLNET_OK);
    ck_assert_int_eq(clnet_loader_next(ld, &b), CLNET_OK);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(clnet_loader_start_epoch(ld, 1, 3), CLNET_OK);
    int batches = 0;
    while (clnet_loader_next(ld, &b) == CLNET_OK && b) {
        ck_assert_uint_eq(b->index, (uint64_t)(3 + batches));
        batches++;
    }
    ck_assert_int_eq(batches, 30 - 3);
    ck_assert_uint_eq(clnet_loader_batches(ld), 30);
    ck_assert_int_eq(clnet_loader_start_epoch(ld, 2, 0), CLNET_OK);
    ck_assert_int_eq(clnet_loader_next(ld, &b), CLNET_OK);
    clnet_loader_free(ld);
    clnet_loader_free(NULL);
}
END_TEST

START_TEST(settings_errors_and_cache_modes)
{
    clnet_loader_settings ls = base_settings();
    clnet_loader *ld = (clnet_loader *)1;
    ls.batch = 0;
    ck_assert_int_eq(clnet_loader_create(fx_c, ds, &ls, &ld), CLNET_EINVAL);
    ck_assert_ptr_null(ld);
    ls = base_settings();
    const float std[C] = {1, 0, 1};
    ls.std = std;
    ck_assert_int_eq(clnet_loader_create(fx_c, ds, &ls, &ld), CLNET_EINVAL);
    ck_assert_ptr_nonnull(strstr(clnet_errmsg(fx_c), "std[1]"));
    ls = base_settings();
    ls.augment = 64;
    ck_assert_int_eq(clnet_loader_create(fx_c, ds, &ls, &ld), CLNET_EINVAL);
    ls = base_settings();
    ls.cache = CLNET_CACHE_OFF;
    ck_assert_int_eq(clnet_loader_create(fx_c, ds, &ls, &ld), CLNET_OK);
    ck_assert_uint_eq(clnet_loader_cache_bytes(ld), 0);
    clnet_loader_free(ld);
    ls.cache = CLNET_CACHE_AUTO;
    ls.cache_budget_bytes = (size_t)N * C * H * W - 1; /* one byte short */
    ck_assert_int_eq(clnet_loader_create(fx_c, ds, &ls, &ld), CLNET_OK);
    ck_assert_uint_eq(clnet_loader_cache_bytes(ld), 0);
    clnet_loader_free(ld);
    ls.cache_budget_bytes = (size_t)N * C * H * W;
    ck_assert_int_eq(clnet_loader_create(fx_c, ds, &ls, &ld), CLNET_OK);
    ck_assert_uint_eq(clnet_loader_cache_bytes(ld), (size_t)N * C * H * W);
    clnet_loader_free(ld);
}
END_TEST

START_TEST(measure)
{
    char *r2 = fx_tmpdir();
    char path[4096];
    fx_mkdirs("%s/dark", r2);
    fx_mkdirs("%s/light", r2);
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/dark/%d.png", r2, i);
        fx_png_fill(path, 4, 4, 1, 0);
        snprintf(path, sizeof path, "%s/light/%d.png", r2, i);
        fx_png_fill(path, 4, 4, 1, 255);
    }
    clnet_dataset_settings s = fx_settings(3, 4, 4);
    clnet_dataset *d2 = NULL;
    ck_assert_int_eq(clnet_dataset_open(fx_c, r2, &s, &d2), CLNET_OK);
    float mean[3], std[3];
    ck_assert_int_eq(clnet_dataset_measure(fx_c, d2, 0, mean, std), CLNET_OK);
    for (int k = 0; k < 3; k++) {
        ck_assert_float_eq_tol(mean[k], 0.5f, 1e-6);
        ck_assert_float_eq_tol(std[k], 0.5f, 1e-6);
    }
    /* Two samples spread evenly: one of each class. */
    ck_assert_int_eq(clnet_dataset_measure(fx_c, d2, 2, mean, std), CLNET_OK);
    ck_assert_float_eq_tol(mean[0], 0.5f, 1e-6);
    ck_assert_int_eq(clnet_dataset_measure(fx_c, d2, 1, mean, std), CLNET_OK);
    ck_assert_float_eq_tol(mean[0], 0.0f, 1e-6);
    ck_assert_float_eq_tol(std[0], 1.0f, 1e-6); /* constant: 1, not 0 */
    clnet_dataset_free(d2);
    fx_rmtree(r2);
    free(r2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("data_loader");
    TCase *tc = tcase_create("loader");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, same_batches_any_threads_and_cache);
    tcase_add_test(tc, resume_mid_epoch);
    tcase_add_test(tc, epochs_are_permutations);
    tcase_add_test(tc, shards_split_each_batch);
    tcase_add_test(tc, normalisation);
    tcase_add_test(tc, augment_geometry);
    tcase_add_test(tc, free_mid_epoch);
    tcase_add_test(tc, settings_errors_and_cache_modes);
    tcase_add_test(tc, measure);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return clnet_test_run_forked(s);
}
