/* safetensors: round trip, atomic replacement, and a table of malformed
 * files that must each fail with a message naming the problem (and never
 * crash or over-read), plus truncations and header mutations of a valid
 * file. No device needed. */
#include "../support.h"
#include "core/ctx.h"
#include "train/safetensors.h"

#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static clnet_ctx *ctx; /* a context only to hold error messages */
static char dir[256];

/* name inside the test directory; four buffers in turn, so a few paths
 * can be held at once. */
static const char *path_of(const char *name)
{
    static char p[4][512];
    static int next;
    char *out = p[next++ % 4];
    snprintf(out, sizeof p[0], "%s/%s", dir, name);
    return out;
}

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/clnet-st-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_dir(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            unlink(path_of(e->d_name));
    if (d)
        closedir(d);
    rmdir(dir);
}

/* Files in the test directory (temp files left behind would show here). */
static int count_files(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."));
    if (d)
        closedir(d);
    return n;
}

/* A fresh file each time: rewriting one in place would make ext4 flush it
 * on close (its truncate-and-rewrite heuristic), which makes the sweeps
 * below take seconds. */
static void write_bytes(const char *path, const void *b, size_t n)
{
    unlink(path);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, n, f), n);
    fclose(f);
}

static unsigned char *slurp(const char *path, size_t *n)
{
    char *buf = NULL;
    ck_assert_int_eq(clnet__read_file(ctx, path, &buf, n), CLNET_OK);
    return (unsigned char *)buf;
}

/* ---- round trip -------------------------------------------------------- */

static float w1[2 * 3 * 2 * 2], b1[3], fc[3 * 5], scalar[1] = {-2.5f};

static void fill(void)
{
    for (size_t i = 0; i < sizeof w1 / 4; i++)
        w1[i] = (float)i * 0.25f - 3.0f;
    b1[0] = -0.0f, b1[1] = INFINITY, b1[2] = 1e-42f; /* sign, inf, denormal */
    for (size_t i = 0; i < sizeof fc / 4; i++)
        fc[i] = sinf((float)i);
}

static const char cfg_text[] = "[net]\nchannels=1 ; \"quoted\" \\ tab\t\n"
                               "# caf\xc3\xa9 \xe2\x9c\x93\n";

static clnet_status write_sample(const char *path)
{
    const clnet__st_tensor t[] = {
        {"conv1.weight", 4, {2, 3, 2, 2}, w1},
        {"conv1.bias", 1, {3}, b1},
        {"empty", 2, {0, 4}, NULL},
        {"fc.weight", 2, {3, 5}, fc},
        {"step", 0, {0}, scalar},
    };
    const clnet__st_meta m[] = {{"cfg", cfg_text}, {"step", "123"}, {"empty", ""}};
    return clnet__st_write(ctx, path, t, 5, m, 3);
}

/* Writes the sample to p and returns its bytes. */
static unsigned char *sample_file(const char *p, size_t *n)
{
    fill();
    ck_assert_msg(write_sample(p) == CLNET_OK, "%s", clnet_errmsg(ctx));
    return slurp(p, n);
}

START_TEST(round_trip)
{
    const char *p = path_of("model.safetensors");
    size_t size;
    unsigned char *raw = sample_file(p, &size);
    ck_assert_int_eq(count_files(), 1);

    /* The raw layout: length multiple of 8, metadata first, no gaps. */
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | raw[i];
    ck_assert_uint_eq(hlen % 8, 0);
    ck_assert_uint_eq(size, 8 + hlen + (24 + 3 + 15 + 1) * 4);
    ck_assert(memcmp(raw + 8, "{\"__metadata__\":{", 17) == 0);
    free(raw);

    clnet__st_file *f = NULL;
    ck_assert_msg(clnet__st_open(ctx, p, &f) == CLNET_OK, "%s", clnet_errmsg(ctx));
    ck_assert_uint_eq(clnet__st_count(f), 5);
    const char *order[] = {"conv1.weight", "conv1.bias", "empty", "fc.weight", "step"};
    uint64_t at = 0;
    for (size_t i = 0; i < 5; i++) {
        const clnet__st_entry *e = clnet__st_entry_at(f, i);
        ck_assert_str_eq(e->name, order[i]);
        ck_assert_str_eq(e->dtype, "F32");
        ck_assert_uint_eq(e->begin, at);
        at = e->end;
        ck_assert_ptr_eq(clnet__st_find(f, order[i]), e);
    }
    ck_assert_ptr_null(clnet__st_entry_at(f, 5));
    ck_assert_ptr_null(clnet__st_find(f, "nope"));
    ck_assert_int_eq(clnet__st_find(f, "step")->ndim, 0);
    ck_assert_uint_eq(clnet__st_find(f, "step")->count, 1);
    ck_assert_uint_eq(clnet__st_find(f, "empty")->count, 0);

    ck_assert_str_eq(clnet__st_meta_get(f, "cfg"), cfg_text);
    ck_assert_str_eq(clnet__st_meta_get(f, "step"), "123");
    ck_assert_str_eq(clnet__st_meta_get(f, "empty"), "");
    ck_assert_ptr_null(clnet__st_meta_get(f, "epoch"));
    ck_assert_uint_eq(clnet__st_meta_count(f), 3);
    const char *k, *v;
    clnet__st_meta_at(f, 1, &k, &v);
    ck_assert_str_eq(k, "step");

    float got[24];
    ck_assert_int_eq(clnet__st_read(ctx, f, "conv1.weight", 4, (size_t[]){2, 3, 2, 2}, got), CLNET_OK);
    ck_assert(memcmp(got, w1, sizeof w1) == 0);
    ck_assert_int_eq(clnet__st_read(ctx, f, "conv1.bias", 1, (size_t[]){3}, got), CLNET_OK);
    ck_assert(memcmp(got, b1, sizeof b1) == 0); /* bit-exact: -0, inf, denormal */
    ck_assert_int_eq(clnet__st_read(ctx, f, "fc.weight", 2, (size_t[]){3, 5}, got), CLNET_OK);
    ck_assert(memcmp(got, fc, sizeof fc) == 0);
    ck_assert_int_eq(clnet__st_read(ctx, f, "step", 0, NULL, got), CLNET_OK);
    ck_assert(got[0] == -2.5f);
    ck_assert_int_eq(clnet__st_read(ctx, f, "empty", 2, (size_t[]){0, 4}, NULL), CLNET_OK);

    /* Shape checks name the tensor and both shapes. */
    ck_assert_int_eq(clnet__st_read(ctx, f, "fc.weight", 2, (size_t[]){5, 3}, got), CLNET_ESHAPE);
    ck_assert_ptr_nonnull(strstr(clnet_errmsg(ctx),
                                 "model.safetensors: tensor 'fc.weight': shape "
                                 "[3,5] in the file, [5,3] expected"));
    ck_assert_int_eq(clnet__st_read(ctx, f, "fc.weight", 1, (size_t[]){15}, got), CLNET_ESHAPE);
    ck_assert_int_eq(clnet__st_read(ctx, f, "fc.bias", 1, (size_t[]){3}, got), CLNET_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(clnet_errmsg(ctx), "no tensor 'fc.bias'"));
    clnet__st_close(f);
    clnet__st_close(NULL);
}
END_TEST

/* ---- writing: atomic replacement and argument checks ------------------- */

static int same_file(const char *path, const unsigned char *want, size_t n)
{
    size_t m;
    unsigned char *got = slurp(path, &m);
    int same = m == n && memcmp(got, want, n) == 0;
    free(got);
    return same;
}

START_TEST(write_failures_keep_the_previous_file)
{
    const char *p = path_of("ckpt.safetensors");
    size_t n;
    unsigned char *before = sample_file(p, &n);
    struct stat sb;
    ck_assert_int_eq(stat(p, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0644);

    /* Bad arguments: rejected before any file is created. */
    const clnet__st_tensor dup[] = {{"a", 1, {3}, b1}, {"a", 1, {3}, b1}};
    ck_assert_int_eq(clnet__st_write(ctx, p, dup, 2, NULL, 0), CLNET_EINVAL);
    ck_assert_ptr_nonnull(strstr(clnet_errmsg(ctx), "tensor 'a' appears twice"));
    const clnet__st_tensor bad[][1] = {
        {{"__metadata__", 1, {3}, b1}}, {{"", 1, {3}, b1}},
        {{"x", 5, {1, 1, 1, 1}, b1}},   {{"x", 1, {3}, NULL}},
        {{"\xff", 1, {3}, b1}},         {{"x", -1, {3}, b1}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_int_eq(clnet__st_write(ctx, p, bad[i], 1, NULL, 0), CLNET_EINVAL);
    const clnet__st_meta dupm[] = {{"k", "1"}, {"k", "2"}};
    ck_assert_int_eq(clnet__st_write(ctx, p, dup, 1, dupm, 2), CLNET_EINVAL);
    ck_assert_ptr_nonnull(strstr(clnet_errmsg(ctx), "metadata key 'k' appears twice"));
    const clnet__st_meta nullv[] = {{"k", NULL}};
    ck_assert_int_eq(clnet__st_write(ctx, p, dup, 1, nullv, 1), CLNET_EINVAL);
    ck_assert_int_eq(clnet__st_write(ctx, path_of("sub/"), dup, 1, NULL, 0), CLNET_EINVAL);
    ck_assert_int_eq(clnet__st_write(ctx, NULL, dup, 1, NULL, 0), CLNET_EINVAL);

    /* A directory that does not exist: no temp file can be made. */
    ck_assert_int_eq(clnet__st_write(ctx, path_of("missing/x.safetensors"), dup, 1,
                                     NULL, 0), CLNET_EIO);
    ck_assert_ptr_nonnull(strstr(clnet_errmsg(ctx), "cannot create a temp file"));

    /* The disk "fills up" part-way (a file size limit makes write fail
     * with EFBIG): error, temp file removed, previous file untouched. */
    static float big[100000];
    const clnet__st_tensor large[] = {{"big", 1, {100000}, big}};
    struct rlimit old, lim = {.rlim_cur = 65536, .rlim_max = RLIM_INFINITY};
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim.rlim_max = old.rlim_max;
    signal(SIGXFSZ, SIG_IGN);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    clnet_status st = clnet__st_write(ctx, p, large, 1, NULL, 0);
    setrlimit(RLIMIT_FSIZE, &old);
    ck_assert_int_eq(st, CLNET_EIO);
    ck_assert_ptr_nonnull(strstr(clnet_errmsg(ctx), "previous file, if any, is unchanged"));

    ck_assert(same_file(p, before, n));
    ck_assert_int_eq(count_files(), 1); /* no temp file left behind */

    /* A successful rewrite keeps the existing file's mode. */
    ck_assert_int_eq(chmod(p, 0600), 0);
    ck_assert_int_eq(clnet__st_write(ctx, p, large, 1, NULL, 0), CLNET_OK);
    ck_assert_int_eq(stat(p, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0600);
    ck_assert(!same_file(p, before, n));
    ck_assert_int_eq(count_files(), 1);
    free(before);

    /* No tensors at all is a valid file ("{}" padded to 8). */
    ck_assert_int_eq(clnet__st_write(ctx, p, NULL, 0, NULL, 0), CLNET_OK);
    clnet__st_file *f = NULL;
    ck_assert_int_eq(clnet__st_open(ctx, p, &f), CLNET_OK);
    ck_assert_uint_eq(clnet__st_count(f), 0);
    clnet__st_close(f);
}
END_TEST

/* ---- malformed files ---------------------------------------------------- */

/* Writes an 8-byte length (the header's own unless len is given), the
 * header, and data_bytes zero bytes. */
static const char *make_file(uint64_t len, const char *header, size_t data_bytes)
{
    size_t h = strlen(header);
    unsigned char *b = calloc(1, 8 + h + data_bytes);
    if (!len)
        len = h;
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(len >> (8 * i));
    memcpy(b + 8, header, h);
    const char *p = path_of("case.safetensors");
    write_bytes(p, b, 8 + h + data_bytes);
    free(b);
    return p;
}

#define T8 "{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}"
#define T8_16 "{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}"
#define SHAPED(shape, offs) "{\"a\":{\"dtype\":\"F32\",\"shape\":" shape ",\"data_offsets\":" offs "}}"

typedef struct bad_case {
    const char *label;
    uint64_t len; /* 0: the header's length */
    const char *header;
    size_t data;
    clnet_status want;
    const char *msg; /* expected inside the error message */
} bad_case;

static const bad_case bad_cases[] = {
    {"header length beyond the file", 1000, "{}", 0, CLNET_EFORMAT,
     "header length 1000 is impossible (file has 2 bytes after the length"},
    {"huge header length", UINT64_MAX, "{}", 0, CLNET_EFORMAT, "is impossible"},
    {"header length 1", 1, "{}", 0, CLNET_EFORMAT, "is impossible"},
    {"bad JSON", 0, "{\"a\":{\"dtype\":\"F32\",", 0, CLNET_EFORMAT,
     "header is not a valid JSON object"},
    {"not an object", 0, "[1,2]", 0, CLNET_EFORMAT, "JSON starting with '{'"},
    {"bytes after the JSON", 0, "{} x", 0, CLNET_EFORMAT,
     "bytes after its JSON object (at byte 3)"},
    {"NUL padding", 4, "{}", 2, CLNET_EFORMAT, "bytes after its JSON object (at byte 2)"},
    {"invalid UTF-8", 0, "{\"\xc0\xaf\":1}", 0, CLNET_EFORMAT, "UTF-8"},
    {"wrong dtype", 0, "{\"a\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}",
     8, CLNET_EFORMAT, "case.safetensors: tensor 'a': unknown dtype 'F33'"},
    {"missing dtype", 0, "{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
     CLNET_EFORMAT, "tensor 'a': needs \"dtype\""},
    {"dtype not a string", 0, "{\"a\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}",
     8, CLNET_EFORMAT, "tensor 'a': needs \"dtype\""},
    {"missing data_offsets", 0, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8,
     CLNET_EFORMAT, "needs \"dtype\" (a string), \"shape\" and \"data_offsets\""},
    {"entry not an object", 0, "{\"a\":[1]}", 0, CLNET_EFORMAT,
     "tensor 'a': entry is not an object"},
    {"negative shape", 0, SHAPED("[-2]", "[0,8]"), 8, CLNET_EFORMAT,
     "tensor 'a': shape[0] is not an integer in [0, 2^53]"},
    {"fractional shape", 0, SHAPED("[2,2.5]", "[0,8]"), 8, CLNET_EFORMAT,
     "shape[1] is not an integer"},
    {"huge shape", 0, SHAPED("[1e300]", "[0,8]"), 8, CLNET_EFORMAT,
     "shape[0] is not an integer"},
    {"shape beyond 2^53", 0, SHAPED("[18446744073709551616]", "[0,8]"), 8,
     CLNET_EFORMAT, "shape[0] is not an integer"},
    {"shape not numbers", 0, SHAPED("[\"2\"]", "[0,8]"), 8, CLNET_EFORMAT,
     "shape[0] is not an integer"},
    {"element count overflows", 0,
     SHAPED("[4294967296,4294967296,4294967296]", "[0,8]"), 8, CLNET_EFORMAT,
     "element count overflows"},
    {"byte size overflows", 0, SHAPED("[4503599627370496,2048]", "[0,8]"), 8,
     CLNET_EFORMAT, "byte size overflows"},
    {"too many dims", 0, SHAPED("[1,1,1,1,1,1,1,1,2]", "[0,8]"), 8,
     CLNET_EFORMAT, "at most 8 integers"},
    {"shape not an array", 0, SHAPED("2", "[0,8]"), 8, CLNET_EFORMAT,
     "shape must be an array"},
    {"shape disagrees with offsets", 0, SHAPED("[2]", "[0,12]"), 12, CLNET_EFORMAT,
     "tensor 'a': shape [2] of F32 needs 8 bytes but data_offsets [0, 12) hold 12"},
    {"offsets out of range", 0,
     "{\"conv1.weight\":{\"dtype\":\"F32\",\"shape\":[25],\"data_offsets\":[0,100]}}",
     96, CLNET_EFORMAT,
     "case.safetensors: tensor 'conv1.weight': data_offsets [0, 100) exceed the "
     "data section (96 bytes)"},
    {"offsets past 2^53", 0, SHAPED("[2]", "[9007199254740993,9007199254741001]"),
     8, CLNET_EFORMAT, "data_offsets must be"},
    {"begin after end", 0, SHAPED("[0]", "[8,0]"), 8, CLNET_EFORMAT,
     "data_offsets must be [begin, end]"},
    {"one offset", 0, SHAPED("[0]", "[0]"), 8, CLNET_EFORMAT, "data_offsets must be"},
    {"three offsets", 0, SHAPED("[2]", "[0,8,8]"), 8, CLNET_EFORMAT,
     "data_offsets must be"},
    {"negative offset", 0, SHAPED("[2]", "[-8,0]"), 8, CLNET_EFORMAT,
     "data_offsets must be"},
    {"overlapping tensors", 0,
     "{\"a\":" T8 ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
     12, CLNET_EFORMAT, "tensors 'a' [0, 8) and 'b' [4, 12) overlap"},
    {"same range twice", 0, "{\"a\":" T8 ",\"b\":" T8 "}", 8, CLNET_EFORMAT, "overlap"},
    {"gap between tensors", 0,
     "{\"a\":" T8 ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}",
     20, CLNET_EFORMAT, "tensor 'b': 4 unused bytes before its data_offsets [12, 20)"},
    {"gap at the start", 0, SHAPED("[2]", "[4,12]"), 12, CLNET_EFORMAT,
     "tensor 'a': 4 unused bytes"},
    {"trailing bytes", 0, "{\"a\":" T8 "}", 12, CLNET_EFORMAT,
     "the data section has 12 bytes but the tensors cover 8"},
    {"duplicate tensor", 0, "{\"a\":" T8 ",\"a\":" T8_16 "}", 16, CLNET_EFORMAT,
     "tensor 'a' appears twice"},
    {"metadata value not a string", 0, "{\"__metadata__\":{\"step\":3}}", 0,
     CLNET_EFORMAT, "__metadata__ value of 'step' is not a string"},
    {"metadata not an object", 0, "{\"__metadata__\":\"x\"}", 0, CLNET_EFORMAT,
     "__metadata__ is not an object"},
    {"metadata twice", 0, "{\"__metadata__\":{},\"__metadata__\":{}}", 0,
     CLNET_EFORMAT, "__metadata__ appears twice"},
    {"metadata key twice", 0, "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0,
     CLNET_EFORMAT, "key 'k' appears twice"},
    /* Accepted. */
    {"no __metadata__", 0, "{\"a\":" T8 "}", 8, CLNET_OK, NULL},
    {"nothing at all", 0, "{}", 0, CLNET_OK, NULL},
    {"space padding and other whitespace", 0, "{\"a\":" T8 "}\n \t  ", 8, CLNET_OK, NULL},
    {"unknown keys ignored", 0,
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", 8,
     CLNET_OK, NULL},
    {"other dtypes indexed", 0,
     "{\"n\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]},"
     "\"h\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[8,14]}}",
     14, CLNET_OK, NULL},
    {"zero-size tensors anywhere", 0,
     "{\"z\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[8,8]},\"a\":" T8 "}",
     8, CLNET_OK, NULL},
};

START_TEST(malformed_table)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *c = &bad_cases[i];
        const char *p = make_file(c->len, c->header, c->data);
        clnet__st_file *f = NULL;
        clnet_status st = clnet__st_open(ctx, p, &f);
        ck_assert_msg(st == c->want, "%s: got %s (%s), want %s", c->label,
                      clnet_status_name(st), clnet_errmsg(ctx),
                      clnet_status_name(c->want));
        if (c->msg)
            ck_assert_msg(strstr(clnet_errmsg(ctx), c->msg), "%s: message '%s' lacks '%s'",
                          c->label, clnet_errmsg(ctx), c->msg);
        ck_assert((f != NULL) == (st == CLNET_OK));
        clnet__st_close(f);
    }
}
END_TEST

START_TEST(short_and_odd_files)
{
    const char *p = path_of("short.safetensors");
    clnet__st_file *f = NULL;
    write_bytes(p, "", 0);
    ck_assert_int_eq(clnet__st_open(ctx, p, &f), CLNET_EFORMAT);
    ck_assert_ptr_nonnull(strstr(clnet_errmsg(ctx), "file is 0 bytes"));
    write_bytes(p, "\x02\0\0\0\0", 5);
    ck_assert_int_eq(clnet__st_open(ctx, p, &f), CLNET_EFORMAT);
    ck_assert_ptr_nonnull(strstr(clnet_errmsg(ctx), "file is 5 bytes"));
    ck_assert_int_eq(clnet__st_open(ctx, path_of("absent"), &f), CLNET_EIO);
    ck_assert_ptr_nonnull(strstr(clnet_errmsg(ctx), "cannot open"));
    ck_assert_int_eq(clnet__st_open(ctx, dir, &f), CLNET_EIO);
    ck_assert_ptr_null(f);

    /* Deep nesting is an error, not a stack overflow. */
    char deep[20010] = "{\"a\":";
    memset(deep + 5, '[', 20000);
    deep[20005] = '\0';
    make_file(0, deep, 0);
    ck_assert_int_eq(clnet__st_open(ctx, path_of("case.safetensors"), &f), CLNET_EFORMAT);

    /* Only F32 is read; other dtypes are indexed. */
    make_file(0, "{\"n\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]}}", 8);
    ck_assert_int_eq(clnet__st_open(ctx, path_of("case.safetensors"), &f), CLNET_OK);
    ck_assert_str_eq(clnet__st_find(f, "n")->dtype, "I64");
    ck_assert_uint_eq(clnet__st_find(f, "n")->dtype_size, 8);
    float x[2];
    ck_assert_int_eq(clnet__st_read(ctx, f, "n", 0, NULL, x), CLNET_EFORMAT);
    ck_assert_ptr_nonnull(strstr(clnet_errmsg(ctx), "tensor 'n': dtype I64, but clnet reads only F32"));
    clnet__st_close(f);
}
END_TEST

/* Every truncation of a valid file is rejected; a file cut after opening
 * gives a read error, not a short read. */
START_TEST(truncations)
{
    const char *p = path_of("t.safetensors");
    size_t n;
    unsigned char *good = sample_file(p, &n);
    const char *q = path_of("cut.safetensors");
    for (size_t len = 0; len < n; len++) {
        write_bytes(q, good, len);
        clnet__st_file *f = NULL;
        clnet_status st = clnet__st_open(ctx, q, &f);
        ck_assert_msg(st == CLNET_EFORMAT, "cut at %zu of %zu: %s", len, n,
                      clnet_status_name(st));
        clnet__st_close(f);
    }
    clnet__st_file *f = NULL;
    ck_assert_int_eq(clnet__st_open(ctx, p, &f), CLNET_OK);
    ck_assert_int_eq(truncate(p, (off_t)(n - 20)), 0);
    float got[24];
    ck_assert_int_eq(clnet__st_read(ctx, f, "fc.weight", 2, (size_t[]){3, 5}, got), CLNET_EIO);
    ck_assert_ptr_nonnull(strstr(clnet_errmsg(ctx), "tensor 'fc.weight': reading 60 bytes failed"));
    clnet__st_close(f);
    free(good);
}
END_TEST

/* Random byte changes in the length and header of a valid file: opening
 * either fails cleanly or gives an index whose every F32 tensor reads back
 * (run under a sanitizer this also shows nothing reads out of bounds). */
START_TEST(header_mutations)
{
    size_t n;
    unsigned char *good = sample_file(path_of("m.safetensors"), &n);
    size_t hend = 8 + (size_t)good[0] + 256 * (size_t)good[1];
    unsigned char *buf = malloc(n);
    clnet_test_rng rng;
    clnet_test_rng_seed(&rng, 42);
    const char *q = path_of("mut.safetensors");
    int opened = 0;
    for (int it = 0; it < 3000; it++) {
        memcpy(buf, good, n);
        int flips = 1 + it % 3;
        for (int k = 0; k < flips; k++) {
            size_t at = (size_t)clnet_test_uniform(&rng, 0, (float)hend);
            const char pick[] = "0123456789[]{},:\"-e. FIU";
            buf[at < hend ? at : hend - 1] =
                it % 2 ? (unsigned char)clnet_test_uniform(&rng, 0, 256)
                       : (unsigned char)pick[(size_t)clnet_test_uniform(&rng, 0, sizeof pick - 1)];
        }
        write_bytes(q, buf, n);
        clnet__st_file *f = NULL;
        if (clnet__st_open(ctx, q, &f) != CLNET_OK)
            continue;
        opened++;
        for (size_t i = 0; i < clnet__st_count(f); i++) {
            const clnet__st_entry *e = clnet__st_entry_at(f, i);
            if (strcmp(e->dtype, "F32") != 0)
                continue;
            float *dst = malloc(e->count * 4 + 1);
            clnet_status st = clnet__st_read(ctx, f, e->name, e->ndim, e->shape, dst);
            ck_assert_msg(st == CLNET_OK || st == CLNET_ENOTFOUND, "%s", clnet_errmsg(ctx));
            free(dst);
        }
        clnet__st_close(f);
    }
    ck_assert_int_gt(opened, 0); /* some mutations are harmless (metadata text) */
    free(buf);
    free(good);
}
END_TEST

static void setup(void) { make_dir(); }
static void teardown(void) { remove_dir(); }

int main(void)
{
    /* The reader and writer only need a context for error messages. */
    ctx = calloc(1, sizeof *ctx);
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("safetensors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, write_failures_keep_the_previous_file);
    tcase_add_test(tc, malformed_table);
    tcase_add_test(tc, short_and_odd_files);
    tcase_add_test(tc, truncations);
    tcase_add_test(tc, header_mutations);
    suite_add_tcase(s, tc);
    /* Forked: the file-size-limit case changes process limits and signals. */
    int rc = clnet_test_run_forked(s);
    free(ctx);
    return rc;
}
