/* Image decoding: the broken-file fixture (exactly the unreadable files are
 * skipped and reported, once), the valid odd PNGs, channel conversion and
 * resizing. */
#include "fixture.h"
#include "../support.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static void noise(uint8_t *px, size_t n, uint64_t seed)
{
    clnet_test_rng r;
    clnet_test_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++)
        px[i] = (uint8_t)clnet_test_uniform(&r, 0, 255.99f);
}

/* Class a: one good file and the five unreadable kinds; class b: one good
 * file and three valid but unusual PNGs. */
static void make_broken_fixture(void)
{
    fx_mkdirs("%s/a", fx_root);
    fx_mkdirs("%s/b", fx_root);
    uint8_t px[32 * 32 * 3];
    fx_png_fill(fx_at("a/00_good.png"), 8, 8, 1, 10);
    noise(px, sizeof px, 1);
    fx_png(fx_at("tmp.png"), 32, 32, 1, px);
    char src[4096];
    snprintf(src, sizeof src, "%s", fx_at("tmp.png"));
    fx_truncate_copy(src, fx_at("a/01_trunc.png"), fx_file_size(src) * 6 / 10);
    fx_jpg(fx_at("tmp.jpg"), 32, 32, 3, px);
    snprintf(src, sizeof src, "%s", fx_at("tmp.jpg"));
    fx_truncate_copy(src, fx_at("a/02_trunc.jpg"), fx_file_size(src) * 6 / 10);
    fx_write(fx_at("a/03_zero.png"), "", 0);
    fx_write(fx_at("a/04_text.png"), "hello, world\n", 13);
    fx_png_header_only(fx_at("a/05_huge.png"), 100000, 100000);

    fx_png_fill(fx_at("b/00_good.png"), 8, 8, 1, 20);
    uint8_t g16[8 * 8 * 2];
    for (int i = 0; i < 64; i++) {
        g16[2 * i] = 0xAB; /* big-endian 0xABCD: 171 at 8 bits */
        g16[2 * i + 1] = 0xCD;
    }
    fx_png_raw(fx_at("b/01_16bit.png"), 8, 8, 16, 0, g16, NULL, 0, NULL, 0);
    uint8_t ga[8 * 8 * 2];
    for (int i = 0; i < 64; i++) {
        ga[2 * i] = 50;
        ga[2 * i + 1] = 7; /* alpha: dropped */
    }
    fx_png_raw(fx_at("b/02_gray_alpha.png"), 8, 8, 8, 4, ga, NULL, 0, NULL, 0);
    static const uint8_t plte[6] = {255, 0, 0, 0, 0, 255};
    static const uint8_t trns[2] = {255, 128};
    uint8_t idx[64];
    for (int i = 0; i < 64; i++)
        idx[i] = (uint8_t)(i & 1);
    fx_png_raw(fx_at("b/03_palette.png"), 8, 8, 8, 3, idx, plte, 2, trns, 2);
    remove(fx_at("tmp.png"));
    remove(fx_at("tmp.jpg"));
}

START_TEST(broken_files_are_skipped_once)
{
    make_broken_fixture();
    clnet_dataset_settings s = fx_settings(1, 8, 8);
    clnet_dataset *ds = NULL;
    ck_assert_int_eq(clnet_dataset_open(fx_c, fx_root, &s, &ds), CLNET_OK);
    /* Caught by the header check at open: */
    ck_assert_uint_eq(clnet_dataset_skipped(ds), 3);
    ck_assert_int_eq(fx_log_count("03_zero.png': empty file"), 1);
    ck_assert_int_eq(fx_log_count("04_text.png': not a readable image"), 1);
    ck_assert_int_eq(fx_log_count("05_huge.png': image is 100000x100000, more than"), 1);
    ck_assert_int_eq(fx_log_count(NULL), 3);
    ck_assert_uint_eq(clnet_dataset_size(ds), 7);

    clnet_loader_settings ls;
    clnet_loader_default_settings(&ls);
    ls.batch = 7;
    ls.shuffle = 0;
    ls.threads = 2;
    clnet_loader *ld = NULL;
    ck_assert_int_eq(clnet_loader_create(fx_c, ds, &ls, &ld), CLNET_OK);
    for (uint32_t epoch = 0; epoch < 2; epoch++) {
        fx_log_reset();
        ck_assert_int_eq(clnet_loader_start_epoch(ld, epoch, 0), CLNET_OK);
        const clnet_batch *b = NULL;
        ck_assert_int_eq(clnet_loader_next(ld, &b), CLNET_OK);
        ck_assert_ptr_nonnull(b);
        ck_assert_int_eq(b->n, 7);
        /* The truncated files' places go to the next readable file. */
        static const uint32_t want_idx[7] = {0, 3, 3, 3, 4, 5, 6};
        static const float want_px[7] = {10, 20, 20, 20, 171, 50, 76};
        for (int i = 0; i < 7; i++) {
            ck_assert_uint_eq(b->indices[i], want_idx[i]);
            ck_assert_int_eq(b->labels[i], want_idx[i] >= 3);
            ck_assert_float_eq_tol(b->images[i * 64], want_px[i] / 255.0f, 1e-6);
        }
        ck_assert_float_eq_tol(b->images[6 * 64 + 1], 28 / 255.0f, 1e-6); /* blue */
        ck_assert_int_eq(clnet_loader_next(ld, &b), CLNET_OK);
        ck_assert_ptr_null(b);
        /* Reported in the first epoch only; counted once. */
        ck_assert_int_eq(fx_log_count("01_trunc.png"), epoch == 0);
        ck_assert_int_eq(fx_log_count("02_trunc.jpg"), epoch == 0);
        ck_assert_int_eq(fx_log_count(NULL), epoch == 0 ? 2 : 0);
        ck_assert_uint_eq(clnet_loader_skipped(ld), 2);
    }
    clnet_loader_free(ld);
    clnet_dataset_free(ds);
}
END_TEST

START_TEST(valid_odd_pngs_in_color)
{
    make_broken_fixture();
    clnet_dataset_settings s = fx_settings(3, 8, 8);
    float px[3 * 64];
    ck_assert_int_eq(clnet_image_load(fx_c, fx_at("b/03_palette.png"), &s, px), CLNET_OK);
    ck_assert_float_eq_tol(px[0], 1.0f, 1e-6);       /* red: R plane */
    ck_assert_float_eq_tol(px[64], 0.0f, 1e-6);      /* G plane */
    ck_assert_float_eq_tol(px[128 + 1], 1.0f, 1e-6); /* blue at x=1: B plane */
    ck_assert_int_eq(clnet_image_load(fx_c, fx_at("b/02_gray_alpha.png"), &s, px), CLNET_OK);
    for (int k = 0; k < 3; k++)
        ck_assert_float_eq_tol(px[k * 64 + 5], 50 / 255.0f, 1e-6);
    ck_assert_int_eq(clnet_image_load(fx_c, fx_at("b/01_16bit.png"), &s, px), CLNET_OK);
    ck_assert_float_eq_tol(px[2 * 64 + 63], 171 / 255.0f, 1e-6);
    /* Errors name the file and say why. */
    ck_assert_int_eq(clnet_image_load(fx_c, fx_at("a/01_trunc.png"), &s, px), CLNET_EFORMAT);
    ck_assert_msg(strstr(clnet_errmsg(fx_c), "01_trunc.png") &&
                  strstr(clnet_errmsg(fx_c), "stb_image"), "%s", clnet_errmsg(fx_c));
    ck_assert_int_eq(clnet_image_load(fx_c, fx_at("a/02_trunc.jpg"), &s, px), CLNET_EFORMAT);
    ck_assert_ptr_nonnull(strstr(clnet_errmsg(fx_c), "truncated JPEG"));
    ck_assert_int_eq(clnet_image_load(fx_c, fx_at("a/nonexistent.png"), &s, px), CLNET_EIO);
    ck_assert_ptr_nonnull(strstr(clnet_errmsg(fx_c), "No such file"));
    s.max_pixels = 63;
    ck_assert_int_eq(clnet_image_load(fx_c, fx_at("a/00_good.png"), &s, px), CLNET_EFORMAT);
    ck_assert_ptr_nonnull(strstr(clnet_errmsg(fx_c), "8x8, more than the limit of 63"));
}
END_TEST

START_TEST(channel_conversion)
{
    const uint8_t rgb[6] = {200, 100, 50, 0, 255, 0};
    fx_png(fx_at("rgb.png"), 2, 1, 3, rgb);
    const uint8_t gray[2] = {30, 220};
    fx_png(fx_at("gray.png"), 2, 1, 1, gray);
    const uint8_t rgba[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    fx_png(fx_at("rgba.png"), 2, 1, 4, rgba);
    float px[8];
    clnet_dataset_settings s1 = fx_settings(1, 1, 2), s3 = fx_settings(3, 1, 2),
                           s4 = fx_settings(4, 1, 2);
    /* RGB to gray is stb_image's luma: (77 R + 150 G + 29 B) >> 8. */
    ck_assert_int_eq(clnet_image_load(fx_c, fx_at("rgb.png"), &s1, px), CLNET_OK);
    ck_assert_float_eq_tol(px[0], 124 / 255.0f, 1e-6);
    ck_assert_float_eq_tol(px[1], 149 / 255.0f, 1e-6);
    /* Gray to RGB copies the value into each plane. */
    ck_assert_int_eq(clnet_image_load(fx_c, fx_at("gray.png"), &s3, px), CLNET_OK);
    static const float g3[6] = {30, 220, 30, 220, 30, 220};
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq_tol(px[i], g3[i] / 255.0f, 1e-6);
    /* RGB stays, planar. */
    ck_assert_int_eq(clnet_image_load(fx_c, fx_at("rgb.png"), &s3, px), CLNET_OK);
    static const float p3[6] = {200, 0, 100, 255, 50, 0};
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq_tol(px[i], p3[i] / 255.0f, 1e-6);
    /* Alpha is dropped... */
    ck_assert_int_eq(clnet_image_load(fx_c, fx_at("rgba.png"), &s3, px), CLNET_OK);
    static const float a3[6] = {1, 5, 2, 6, 3, 7};
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq_tol(px[i], a3[i] / 255.0f, 1e-6);
    /* ...unless the model asks for four channels (opaque when absent). */
    ck_assert_int_eq(clnet_image_load(fx_c, fx_at("rgb.png"), &s4, px), CLNET_OK);
    ck_assert_float_eq_tol(px[6], 1.0f, 1e-6);
}
END_TEST

/* 16-bit PGM/PPM converted to another channel count: Debian 12's stb_image
 * overflows a buffer doing that itself (tests/fuzz/regressions/image/
 * pgm-16bit-channel-conversion), so clnet converts; same results as above. */
START_TEST(channel_conversion_16bit_pnm)
{
    /* 16-bit samples with both bytes equal (x * 257 is x at 8 bits): this
     * tests the channel conversion; pnm_16bit_big_endian the byte order. */
    const uint8_t pgm[] = {'P', '5', '\n', '2', ' ', '1', '\n', '6', '5', '5', '3', '5', '\n',
                           30, 30, 220, 220};
    fx_write(fx_at("gray16.pgm"), pgm, sizeof pgm);
    const uint8_t ppm[] = {'P', '6', '\n', '2', ' ', '1', '\n', '6', '5', '5', '3', '5', '\n',
                           200, 200, 100, 100, 50, 50, 0, 0, 255, 255, 0, 0};
    fx_write(fx_at("rgb16.ppm"), ppm, sizeof ppm);
    float px[8];
    clnet_dataset_settings s1 = fx_settings(1, 1, 2), s3 = fx_settings(3, 1, 2),
                           s4 = fx_settings(4, 1, 2);
    ck_assert_int_eq(clnet_image_load(fx_c, fx_at("gray16.pgm"), &s3, px), CLNET_OK);
    static const float g3[6] = {30, 220, 30, 220, 30, 220};
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq_tol(px[i], g3[i] / 255.0f, 1e-6);
    ck_assert_int_eq(clnet_image_load(fx_c, fx_at("rgb16.ppm"), &s1, px), CLNET_OK);
    ck_assert_float_eq_tol(px[0], 124 / 255.0f, 1e-6);
    ck_assert_float_eq_tol(px[1], 149 / 255.0f, 1e-6);
    ck_assert_int_eq(clnet_image_load(fx_c, fx_at("rgb16.ppm"), &s4, px), CLNET_OK);
    static const float p4[8] = {200, 0, 100, 255, 50, 0, 255, 255};
    for (int i = 0; i < 8; i++)
        ck_assert_float_eq_tol(px[i], p4[i] / 255.0f, 1e-6);
}
END_TEST

/* Loads path with `channels` channels into a 1 x n image; checks each of
 * the n * channels values (planar) against want, in 8-bit steps. */
static void expect_pixels(const char *path, int channels, int n, const int *want)
{
    float px[4 * 8];
    clnet_dataset_settings s = fx_settings(channels, 1, n);
    ck_assert_int_eq(clnet_image_load(fx_c, fx_at(path), &s, px), CLNET_OK);
    for (int i = 0; i < channels * n; i++)
        ck_assert_msg(px[i] * 255.0f > want[i] - 0.01f && px[i] * 255.0f < want[i] + 0.01f,
                      "%s, %d channels, value %d: %g, want %d", path, channels, i,
                      (double)(px[i] * 255.0f), want[i]);
}

/* 16-bit PGM/PPM samples are big-endian (most significant byte first) and
 * scale by maxval: round(sample * 255 / maxval). Debian 12's stb_image
 * reads them in host byte order and ignores maxval; clnet decodes them. The
 * two bytes of each sample differ, so a swapped read shows. */
START_TEST(pnm_16bit_big_endian)
{
    /* 0x1234 = 4660 -> 18; 0xF00F = 61455 -> 239 (read little-endian, stb's
     * 0x3412 and 0x0FF0 give 52 and 15). */
    const uint8_t pgm[] = {'P', '5', ' ', '2', ' ', '1', ' ', '6', '5', '5', '3', '5', '\n',
                           0x12, 0x34, 0xF0, 0x0F};
    fx_write(fx_at("be.pgm"), pgm, sizeof pgm);
    expect_pixels("be.pgm", 1, 2, (const int[]){18, 239});
    expect_pixels("be.pgm", 3, 2, (const int[]){18, 239, 18, 239, 18, 239});
    expect_pixels("be.pgm", 4, 2, (const int[]){18, 239, 18, 239, 18, 239, 255, 255});
    /* Pixel 0: 0x1234, 0xF00F, 0xABCD -> 18, 239, 171;
     * pixel 1: 0x00FF, 0xFF00, 0x8001 -> 1, 254, 128. */
    const uint8_t ppm[] = {'P', '6', '\n', '#', ' ', 'b', 'e', '\n', '2', ' ', '1', '\n',
                           '6', '5', '5', '3', '5', '\n',
                           0x12, 0x34, 0xF0, 0x0F, 0xAB, 0xCD, 0x00, 0xFF, 0xFF, 0x00, 0x80, 0x01};
    fx_write(fx_at("be.ppm"), ppm, sizeof ppm);
    expect_pixels("be.ppm", 3, 2, (const int[]){18, 1, 239, 254, 171, 128});
    /* Gray is the luma of the 8-bit values: (77 R + 150 G + 29 B) >> 8. */
    expect_pixels("be.ppm", 1, 2, (const int[]){164, 163});
    expect_pixels("be.ppm", 2, 2, (const int[]){164, 163, 255, 255});
    expect_pixels("be.ppm", 4, 2, (const int[]){18, 1, 239, 254, 171, 128, 255, 255});
}
END_TEST

/* maxval other than 255 and 65535: 1023 (10-bit) and 15 (4-bit) scale to
 * 0..255; a sample above maxval counts as maxval. */
START_TEST(pnm_maxval_scaling)
{
    /* 0x0234 = 564 -> 141; 1023 -> 255; 256 -> 64; 1024 (> maxval) -> 255. */
    const uint8_t p10[] = {'P', '5', '\n', '4', ' ', '1', '\n', '1', '0', '2', '3', '\n',
                           0x02, 0x34, 0x03, 0xFF, 0x01, 0x00, 0x04, 0x00};
    fx_write(fx_at("10bit.pgm"), p10, sizeof p10);
    expect_pixels("10bit.pgm", 1, 4, (const int[]){141, 255, 64, 255});
    expect_pixels("10bit.pgm", 3, 4, (const int[]){141, 255, 64, 255, 141, 255, 64, 255,
                                                   141, 255, 64, 255});
    /* 15 -> 255; 7 -> 119; 0 -> 0. */
    const uint8_t p4[] = {'P', '6', ' ', '1', ' ', '1', ' ', '1', '5', '\n', 15, 7, 0};
    fx_write(fx_at("4bit.ppm"), p4, sizeof p4);
    expect_pixels("4bit.ppm", 3, 1, (const int[]){255, 119, 0});
    expect_pixels("4bit.ppm", 1, 1, (const int[]){(255 * 77 + 119 * 150) >> 8});
    /* A file shorter than its pixels is refused, not read past its end. */
    const uint8_t cut[] = {'P', '5', ' ', '2', ' ', '2', ' ', '6', '5', '5', '3', '5', '\n',
                           0x12, 0x34, 0xF0, 0x0F, 0xAB, 0xCD, 0x01};
    fx_write(fx_at("cut.pgm"), cut, sizeof cut);
    float px[4];
    clnet_dataset_settings s = fx_settings(1, 2, 2);
    ck_assert_int_eq(clnet_image_load(fx_c, fx_at("cut.pgm"), &s, px), CLNET_EFORMAT);
    ck_assert_msg(strstr(clnet_errmsg(fx_c), "cut.pgm") &&
                  strstr(clnet_errmsg(fx_c), "truncated PGM/PPM"), "%s", clnet_errmsg(fx_c));
    /* maxval 0 is no PGM; one above 65535 is beyond the format. */
    const uint8_t zero[] = {'P', '5', ' ', '1', ' ', '1', ' ', '0', '\n', 0};
    fx_write(fx_at("zero.pgm"), zero, sizeof zero);
    s = fx_settings(1, 1, 1);
    ck_assert_int_eq(clnet_image_load(fx_c, fx_at("zero.pgm"), &s, px), CLNET_EFORMAT);
    ck_assert_msg(strstr(clnet_errmsg(fx_c), "maxval 0"), "%s", clnet_errmsg(fx_c));
    const uint8_t big[] = {'P', '5', ' ', '1', ' ', '1', ' ', '6', '5', '5', '3', '6', '\n', 0, 0};
    fx_write(fx_at("big.pgm"), big, sizeof big);
    ck_assert_int_eq(clnet_image_load(fx_c, fx_at("big.pgm"), &s, px), CLNET_EFORMAT);
}
END_TEST

START_TEST(resize)
{
    fx_png_fill(fx_at("flat.png"), 7, 5, 1, 77);
    float px[64];
    clnet_dataset_settings s = fx_settings(1, 4, 3);
    ck_assert_int_eq(clnet_image_load(fx_c, fx_at("flat.png"), &s, px), CLNET_OK);
    for (int i = 0; i < 12; i++)
        ck_assert_float_eq_tol(px[i], 77 / 255.0f, 1.01 / 255.0f);
    /* Left half black, right half white, shrunk 16 -> 4 and grown 16 -> 32:
     * the edge stays in the middle. */
    uint8_t edge[16];
    for (int i = 0; i < 16; i++)
        edge[i] = i < 8 ? 0 : 255;
    fx_png(fx_at("edge.png"), 16, 1, 1, edge);
    s = fx_settings(1, 1, 4);
    ck_assert_int_eq(clnet_image_load(fx_c, fx_at("edge.png"), &s, px), CLNET_OK);
    ck_assert_float_lt(px[0], 0.05f);
    ck_assert_float_gt(px[3], 0.95f);
    ck_assert_float_eq_tol(px[0] + px[3], 1.0f, 0.02f);
    ck_assert_float_eq_tol(px[1] + px[2], 1.0f, 0.02f);
    s = fx_settings(1, 2, 32);
    ck_assert_int_eq(clnet_image_load(fx_c, fx_at("edge.png"), &s, px), CLNET_OK);
    ck_assert_float_lt(px[13], 0.05f);
    ck_assert_float_gt(px[18], 0.95f);
    ck_assert_float_eq_tol(px[32 + 5], px[5], 1e-6); /* both rows alike */
    /* The same size is an exact copy. */
    s = fx_settings(1, 1, 16);
    ck_assert_int_eq(clnet_image_load(fx_c, fx_at("edge.png"), &s, px), CLNET_OK);
    for (int i = 0; i < 16; i++)
        ck_assert_float_eq(px[i], edge[i] / 255.0f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("data_image");
    TCase *tc = tcase_create("image");
    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_add_test(tc, broken_files_are_skipped_once);
    tcase_add_test(tc, valid_odd_pngs_in_color);
    tcase_add_test(tc, channel_conversion);
    tcase_add_test(tc, channel_conversion_16bit_pnm);
    tcase_add_test(tc, pnm_16bit_big_endian);
    tcase_add_test(tc, pnm_maxval_scaling);
    tcase_add_test(tc, resize);
    suite_add_tcase(s, tc);
    return clnet_test_run_forked(s);
}
