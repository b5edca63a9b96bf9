/* Writes the seed corpus of one fuzz harness into a folder:
 *   make_seeds cfg DIR MODELS_DIR    every .cfg file in models/
 *   make_seeds safetensors DIR       checkpoints as clnet writes them, and
 *                                    hand-made files with other dtypes
 *   make_seeds image DIR             PNG (gray, gray+alpha, RGB, RGBA,
 *                                    palette, 16-bit), JPEG, BMP, TGA (plain
 *                                    and RLE), PGM/PPM and GIF images, each
 *                                    behind fuzz_image.c's 3 settings bytes
 *   make_seeds idx DIR               IDX image and label files
 *   make_seeds onnx DIR [NODE_DIR]   ONNX node tests' model.onnx files
 * Run by tests/fuzz/run-fuzz before a fuzzing run; needs no device. */
#include "core/ctx.h"
#include "train/safetensors.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image_write.h>
#include <zlib.h>

static const char *out_dir;

static void put(const char *name, const void *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", out_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc((size_t)len + 1);
    if (!p || fread(p, 1, (size_t)len, f) != (size_t)len) {
        fclose(f);
        free(p);
        return NULL;
    }
    fclose(f);
    *n = (size_t)len;
    return p;
}

/* ---- cfg ------------------------------------------------------------------ */

static int seeds_cfg(const char *models)
{
    DIR *d = opendir(models);
    if (!d) {
        perror(models);
        return 1;
    }
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".cfg") != 0)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", models, e->d_name);
        size_t size;
        unsigned char *p = slurp(path, &size);
        if (!p) {
            perror(path);
            closedir(d);
            return 1;
        }
        put(e->d_name, p, size);
        free(p);
        n++;
    }
    closedir(d);
    /* Every op and key in one small graph (a residual add and a concat). */
    static const char small[] =
        "[net]\nchannels=3\nheight=8\nwidth=8\nclasses=4\nbatch=2\n"
        "[train]\noptimizer=adamw\nlr=0.01\nschedule=step\nstep=2\ngamma=0.5\n"
        "warmup=1\naugment=flip,crop\nlabel_smoothing=0.1\nclip_norm=5\n"
        "[conv]\nname=c1\nfilters=4\nkernel=3\npad=1\nactivation=relu\n"
        "[batchnorm]\neps=1e-3\n[conv]\nname=dw\nfilters=4\nkernel=3,1\n"
        "pad_top=1\npad_bottom=1\ngroups=4\nbias=0\n"
        "[add]\nfrom=dw,c1_act\n[maxpool]\nkernel=2\nstride=2\nceil_mode=1\n"
        "[avgpool]\nname=a\nkernel=3\nstride=2\npad=1\ncount_include_pad=0\n"
        "[conv]\nname=b\nfrom=a\nfilters=2\nkernel=1\ndilation=2\n"
        "[concat]\nfrom=a,b\n[leakyrelu]\nslope=0.2\n[dropout]\np=0.1\n"
        "[globalavgpool]\n[flatten]\n[dense]\noutputs=4\nactivation=gelu\n"
        "[silu]\n[sigmoid]\n[tanh]\n";
    put("small-graph.cfg", small, sizeof small - 1);
    return n ? 0 : 1;
}

/* ---- safetensors ---------------------------------------------------------- */

static int seeds_safetensors(void)
{
    clnet_ctx *ctx = calloc(1, sizeof *ctx);
    static float w1[4 * 1 * 3 * 3], b1[4], w2[10 * 36], mom[4 * 9 + 4 + 360];
    for (size_t i = 0; i < sizeof mom / sizeof *mom; i++)
        mom[i] = (float)i * 0.01f - 1.0f;
    memcpy(w1, mom, sizeof w1);
    memcpy(w2, mom, sizeof w2);
    const clnet__st_tensor t[] = {
        {"conv1.weight", 4, {4, 1, 3, 3}, w1},
        {"conv1.bias", 1, {4}, b1},
        {"dense1.weight", 2, {10, 36}, w2},
        {"bn1.num_batches", 0, {0}, b1},
        {"empty", 1, {0}, b1},
        {"optim.momentum", 1, {sizeof mom / sizeof *mom}, mom},
    };
    const clnet__st_meta kv[] = {
        {"format", "clnet-checkpoint/1"},
        {"clnet.version", "0.1.0"},
        {"model.cfg", "[net]\nchannels=1\nheight=3\nwidth=3\nclasses=10\n"},
        {"train.step", "300"},
        {"train.seed", "1"},
        {"train.optimizer", "sgd"},
        {"train.lr", "0.5"},
        {"train.nesterov", "0"},
    };
    char path[4096];
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", out_dir);
    if (clnet__st_write(ctx, path, t, sizeof t / sizeof *t, kv, sizeof kv / sizeof *kv)) {
        fprintf(stderr, "%s\n", ctx->errmsg);
        return 1;
    }
    snprintf(path, sizeof path, "%s/plain.safetensors", out_dir);
    if (clnet__st_write(ctx, path, t, 2, NULL, 0)) {
        fprintf(stderr, "%s\n", ctx->errmsg);
        return 1;
    }
    /* Other dtypes, as PyTorch writes them (an I64 counter, F16, BOOL). */
    static const char hdr[] =
        "{\"n\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]},"
        "\"h\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[8,16]},"
        "\"b\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[16,19]},"
        "\"f\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1],\"data_offsets\":[19,23]},"
        "\"__metadata__\":{\"k\":\"v\"}}";
    unsigned char file[8 + sizeof hdr - 1 + 23];
    unsigned long long n = sizeof hdr - 1;
    for (int i = 0; i < 8; i++)
        file[i] = (unsigned char)(n >> (8 * i));
    memcpy(file + 8, hdr, n);
    for (int i = 0; i < 23; i++)
        file[8 + n + (size_t)i] = (unsigned char)(i * 37);
    put("dtypes.safetensors", file, sizeof file);
    free(ctx);
    return 0;
}

/* ---- images --------------------------------------------------------------- */

static unsigned char *img_buf;
static size_t img_len;

static void to_buf(void *user, void *p, int n)
{
    (void)user;
    img_buf = realloc(img_buf, img_len + (size_t)n);
    if (!img_buf)
        abort();
    memcpy(img_buf + img_len, p, (size_t)n);
    img_len += (size_t)n;
}

/* The settings bytes of fuzz_image.c: channels, pixel limit 2^16, size. */
static void put_image(const char *name, int channels, int h, int w,
                      const void *file, size_t n)
{
    unsigned char *p = malloc(n + 3);
    p[0] = (unsigned char)((channels - 1) | 16 << 2);
    p[1] = (unsigned char)(h - 1);
    p[2] = (unsigned char)(w - 1);
    memcpy(p + 3, file, n);
    put(name, p, n + 3);
    free(p);
}

static void be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static size_t png_chunk(unsigned char *out, const char *type, const void *data,
                        uint32_t n)
{
    be32(out, n);
    memcpy(out + 4, type, 4);
    memcpy(out + 8, data, n);
    be32(out + 8 + n, (uint32_t)crc32(crc32(0, NULL, 0), out + 4, n + 4));
    return 12 + n;
}

/* A PNG stb_image_write cannot make: bit depth 16 or a palette. */
static size_t png_by_hand(unsigned char *out, int w, int h, int depth, int type,
                          const unsigned char *rows, size_t rows_len)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    size_t n = 0;
    memcpy(out, sig, 8);
    n += 8;
    unsigned char ihdr[13] = {0};
    be32(ihdr, (uint32_t)w);
    be32(ihdr + 4, (uint32_t)h);
    ihdr[8] = (unsigned char)depth;
    ihdr[9] = (unsigned char)type;
    n += png_chunk(out + n, "IHDR", ihdr, 13);
    if (type == 3) {
        static const unsigned char plte[12] = {0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255};
        n += png_chunk(out + n, "PLTE", plte, sizeof plte);
    }
    unsigned char z[1024];
    uLongf zlen = sizeof z;
    if (compress(z, &zlen, rows, rows_len) != Z_OK)
        abort();
    n += png_chunk(out + n, "IDAT", z, (uint32_t)zlen);
    n += png_chunk(out + n, "IEND", "", 0);
    return n;
}

static int seeds_image(void)
{
    enum { W = 7, H = 5 };
    unsigned char px[9 * W * H * 4]; /* the JPEGs are 3W x 3H */
    for (int i = 0; i < 9 * W * H * 4; i++)
        px[i] = (unsigned char)(i * 29 + 11);
    for (int c = 1; c <= 4; c++) {
        static const char *const kind[] = {"gray", "graya", "rgb", "rgba"};
        char name[64];
        img_len = 0;
        stbi_write_png_to_func(to_buf, NULL, W, H, c, px, W * c);
        snprintf(name, sizeof name, "%s.png", kind[c - 1]);
        put_image(name, c, 28, 28, img_buf, img_len);
        img_len = 0;
        stbi_write_bmp_to_func(to_buf, NULL, W, H, c, px);
        snprintf(name, sizeof name, "%s.bmp", kind[c - 1]);
        put_image(name, 3, H, W, img_buf, img_len);
        for (int rle = 0; rle < 2; rle++) {
            stbi_write_tga_with_rle = rle;
            img_len = 0;
            stbi_write_tga_to_func(to_buf, NULL, W, H, c, px);
            snprintf(name, sizeof name, "%s%s.tga", kind[c - 1], rle ? "-rle" : "");
            put_image(name, 4 - (c & 1), 9, 4, img_buf, img_len);
        }
        if (c == 1 || c == 3) {
            img_len = 0;
            stbi_write_jpg_to_func(to_buf, NULL, W * 3, H * 3, c, px, 90);
            snprintf(name, sizeof name, "%s.jpg", kind[c - 1]);
            put_image(name, 4 - c, 16, 16, img_buf, img_len);
        }
    }
    unsigned char file[4096];
    /* PNG, 16-bit gray: each row is a filter byte and W big-endian samples. */
    unsigned char rows[H * (1 + W * 2)];
    for (int y = 0; y < H; y++) {
        rows[y * (1 + W * 2)] = (unsigned char)(y % 5);
        memcpy(rows + y * (1 + W * 2) + 1, px + y * W * 2, W * 2);
    }
    put_image("gray16.png", 1, H, W, file, png_by_hand(file, W, H, 16, 0, rows, sizeof rows));
    /* PNG, 2-bit palette: 2 bytes per row of 7 pixels. */
    unsigned char prow[H * 3];
    for (int y = 0; y < H; y++) {
        prow[y * 3] = 0;
        prow[y * 3 + 1] = (unsigned char)(0x1b + y);
        prow[y * 3 + 2] = 0x24;
    }
    put_image("palette.png", 3, 8, 8, file, png_by_hand(file, W, H, 2, 3, prow, sizeof prow));
    /* PGM and PPM (binary). */
    int n = snprintf((char *)file, sizeof file, "P5\n# seed\n%d %d\n255\n", W, H);
    memcpy(file + n, px, W * H);
    put_image("gray.pgm", 1, H, W, file, (size_t)n + W * H);
    n = snprintf((char *)file, sizeof file, "P6 %d %d 255\n", W, H);
    memcpy(file + n, px, W * H * 3);
    put_image("rgb.ppm", 3, 3, 3, file, (size_t)n + W * H * 3);
    /* 16-bit (big-endian samples) and 10-bit, decoded by clnet itself. */
    n = snprintf((char *)file, sizeof file, "P5 %d %d 65535\n", W, H);
    memcpy(file + n, px, W * H * 2);
    put_image("gray16.pgm", 3, H, W, file, (size_t)n + W * H * 2);
    n = snprintf((char *)file, sizeof file, "P6\n%d %d\n1023\n", W, H);
    memcpy(file + n, px, W * H * 6);
    put_image("rgb10.ppm", 1, 4, 4, file, (size_t)n + W * H * 6);
    /* GIF: 2x2, 4-colour global table, LZW min code size 2. */
    static const unsigned char gif[] = {
        'G', 'I', 'F', '8', '9', 'a', 2, 0, 2, 0, 0x81, 0, 0,
        0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255,
        0x21, 0xF9, 4, 1, 0, 0, 3, 0,             /* transparent colour 3 */
        0x2C, 0, 0, 0, 0, 2, 0, 2, 0, 0,
        2, 3, 0x84, 0x1D, 0x05, 0, 0x3B};
    put_image("2x2.gif", 3, 4, 4, gif, sizeof gif);
    static const unsigned char gif1[] = {
        'G', 'I', 'F', '8', '7', 'a', 1, 0, 1, 0, 0x80, 0, 0, 255, 255, 255, 0, 0, 0,
        0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 0x01, 0, 0x3B};
    put_image("1x1.gif", 1, 1, 1, gif1, sizeof gif1);
    free(img_buf);
    return 0;
}

/* ---- IDX ------------------------------------------------------------------ */

static int seeds_idx(void)
{
    unsigned char f[4 + 16 + 5 * 4 * 3];
    f[0] = f[1] = 0;
    f[2] = 8;
    f[3] = 3;
    be32(f + 4, 5);
    be32(f + 8, 4);
    be32(f + 12, 3);
    for (int i = 0; i < 60; i++)
        f[16 + i] = (unsigned char)(i * 13);
    put("images.idx3", f, 16 + 60);
    f[3] = 1;
    be32(f + 4, 5);
    for (int i = 0; i < 5; i++)
        f[8 + i] = (unsigned char)(i % 3);
    put("labels.idx1", f, 8 + 5);
    f[3] = 4;
    be32(f + 4, 2);
    be32(f + 8, 1);
    be32(f + 12, 2);
    be32(f + 16, 3);
    for (int i = 0; i < 12; i++)
        f[20 + i] = (unsigned char)i;
    put("four-dims.idx", f, 20 + 12);
    return 0;
}

/* ---- onnx ----------------------------------------------------------------- */

/* The model.onnx of ONNX's node tests for the ops the importer maps (and a
 * few it refuses), from Debian's libonnx-testdata: real protobuf, every
 * attribute form. */
static int seeds_onnx(const char *testdata)
{
    static const char *const prefixes[] = {
        "test_conv", "test_basic_conv", "test_gemm", "test_matmul_2d", "test_batchnorm",
        "test_relu", "test_leakyrelu", "test_sigmoid", "test_tanh", "test_clip",
        "test_hardsigmoid", "test_hardswish", "test_maxpool_2d", "test_averagepool_2d",
        "test_globalaveragepool", "test_reduce_mean", "test_add", "test_sum",
        "test_concat", "test_flatten", "test_reshape", "test_squeeze",
        "test_unsqueeze", "test_shape", "test_gather_0", "test_constant",
        "test_identity", "test_dropout", "test_softmax", "test_pad", "test_sub",
        "test_mul", "test_div", "test_erf", NULL};
    DIR *d = opendir(testdata);
    if (!d) {
        perror(testdata);
        return 1;
    }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 400) {
        int want = 0;
        for (int i = 0; prefixes[i] && !want; i++)
            want = strncmp(e->d_name, prefixes[i], strlen(prefixes[i])) == 0;
        if (!want)
            continue;
        char path[4096], name[512];
        snprintf(path, sizeof path, "%s/%s/model.onnx", testdata, e->d_name);
        size_t len;
        unsigned char *p = slurp(path, &len);
        if (!p)
            continue;
        snprintf(name, sizeof name, "%s.onnx", e->d_name);
        put(name, p, len);
        free(p);
        n++;
    }
    closedir(d);
    return n ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: make_seeds cfg|safetensors|image|idx|onnx DIR "
                        "[MODELS_DIR | ONNX_NODE_TESTS]\n");
        return 2;
    }
    out_dir = argv[2];
    if (strcmp(argv[1], "cfg") == 0 && argc == 4)
        return seeds_cfg(argv[3]);
    if (strcmp(argv[1], "safetensors") == 0)
        return seeds_safetensors();
    if (strcmp(argv[1], "image") == 0)
        return seeds_image();
    if (strcmp(argv[1], "idx") == 0)
        return seeds_idx();
    if (strcmp(argv[1], "onnx") == 0)
        return seeds_onnx(argc > 3 ? argv[3] : "/usr/share/libonnx-testdata/data/node");
    fprintf(stderr, "make_seeds: unknown corpus '%s'\n", argv[1]);
    return 2;
}
