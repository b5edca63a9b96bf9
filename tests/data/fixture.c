#define _XOPEN_SOURCE 700 /* nftw */
#include "fixture.h"

#include "core/ctx.h"

#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stb_image_write.h>
#include <zlib.h>

/* ---- context and log capture ---------------------------------------------- */

#define LOG_CAP 256
static char *log_lines[LOG_CAP];
static int log_n;

static void fx_log(void *user, clnet_log_level level, const char *msg)
{
    (void)user;
    if (level > CLNET_LOG_WARN)
        return;
    fprintf(stderr, "clnet: %s\n", msg);
    if (log_n < LOG_CAP)
        log_lines[log_n++] = strdup(msg);
}

void fx_log_reset(void)
{
    for (int i = 0; i < log_n; i++)
        free(log_lines[i]);
    log_n = 0;
}

int fx_log_count(const char *needle)
{
    int n = 0;
    for (int i = 0; i < log_n; i++)
        n += !needle || strstr(log_lines[i], needle) != NULL;
    return n;
}

clnet_ctx *fx_ctx(void)
{
    /* The data code uses a context only for its error message and logger,
     * so these tests need no OpenCL device. */
    clnet_ctx *ctx = calloc(1, sizeof *ctx);
    ck_assert_ptr_nonnull(ctx);
    ctx->log = fx_log;
    ctx->log_level = CLNET_LOG_DEBUG;
    fx_log_reset();
    return ctx;
}

void fx_ctx_free(clnet_ctx *ctx) { free(ctx); }

/* ---- files and folders ---------------------------------------------------- */

char *fx_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/clnet-data-XXXXXX", base && *base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    ck_assert_msg(d != NULL, "mkdtemp: %s", strerror(errno));
    return strdup(d);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)f;
    if (flag == FTW_DNR || (S_ISDIR(st->st_mode) && (st->st_mode & 0700) != 0700))
        chmod(path, 0700); /* folders a test made unreadable */
    remove(path);
    return 0;
}

void fx_rmtree(const char *path)
{
    if (!path)
        return;
    /* Twice: the first pass restores permissions of unreadable folders. */
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *fx_mkdirs(const char *fmt, ...)
{
    static char path[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        mkdir(path, 0777);
        *p = '/';
    }
    ck_assert_msg(mkdir(path, 0777) == 0 || errno == EEXIST, "mkdir %s: %s", path,
                  strerror(errno));
    return path;
}

void fx_write(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "fopen %s: %s", path, strerror(errno));
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

size_t fx_file_size(const char *path)
{
    struct stat st;
    ck_assert_msg(stat(path, &st) == 0, "stat %s", path);
    return (size_t)st.st_size;
}

void fx_truncate_copy(const char *src, const char *dst, size_t len)
{
    FILE *f = fopen(src, "rb");
    ck_assert_ptr_nonnull(f);
    char *buf = malloc(len ? len : 1);
    ck_assert_uint_eq(fread(buf, 1, len, f), len);
    fclose(f);
    fx_write(dst, buf, len);
    free(buf);
}

void fx_png(const char *path, int w, int h, int comp, const uint8_t *px)
{
    ck_assert_msg(stbi_write_png(path, w, h, comp, px, w * comp), "write %s", path);
}

void fx_jpg(const char *path, int w, int h, int comp, const uint8_t *px)
{
    ck_assert_msg(stbi_write_jpg(path, w, h, comp, px, 95), "write %s", path);
}

void fx_png_fill(const char *path, int w, int h, int comp, uint8_t value)
{
    size_t n = (size_t)w * h * comp;
    uint8_t *px = malloc(n);
    memset(px, value, n);
    fx_png(path, w, h, comp, px);
    free(px);
}

/* ---- hand-made PNG -------------------------------------------------------- */

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void chunk(FILE *f, const char *type, const uint8_t *data, uint32_t len)
{
    uint8_t head[8];
    put32(head, len);
    memcpy(head + 4, type, 4);
    fwrite(head, 1, 8, f);
    if (len)
        fwrite(data, 1, len, f);
    uLong crc = crc32(0, (const Bytef *)type, 4);
    if (len)
        crc = crc32(crc, data, len);
    uint8_t c[4];
    put32(c, (uint32_t)crc);
    fwrite(c, 1, 4, f);
}

static void write_ihdr(FILE *f, uint32_t w, uint32_t h, int depth, int color)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    fwrite(sig, 1, 8, f);
    uint8_t ihdr[13];
    put32(ihdr, w);
    put32(ihdr + 4, h);
    ihdr[8] = (uint8_t)depth;
    ihdr[9] = (uint8_t)color;
    ihdr[10] = ihdr[11] = ihdr[12] = 0;
    chunk(f, "IHDR", ihdr, 13);
}

void fx_png_raw(const char *path, int w, int h, int depth, int color,
                const uint8_t *rows, const uint8_t *plte, int plte_n,
                const uint8_t *trns, int trns_n)
{
    static const int samples[7] = {1, 0, 3, 1, 2, 0, 4};
    size_t row = (size_t)w * samples[color] * (depth / 8);
    size_t raw_len = (row + 1) * h;
    uint8_t *raw = malloc(raw_len);
    for (int y = 0; y < h; y++) {
        raw[y * (row + 1)] = 0; /* filter: none */
        memcpy(raw + y * (row + 1) + 1, rows + y * row, row);
    }
    uLongf zlen = compressBound(raw_len);
    uint8_t *z = malloc(zlen);
    ck_assert_int_eq(compress(z, &zlen, raw, raw_len), Z_OK);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    write_ihdr(f, (uint32_t)w, (uint32_t)h, depth, color);
    if (plte)
        chunk(f, "PLTE", plte, (uint32_t)plte_n * 3);
    if (trns)
        chunk(f, "tRNS", trns, (uint32_t)trns_n);
    chunk(f, "IDAT", z, (uint32_t)zlen);
    chunk(f, "IEND", NULL, 0);
    ck_assert_int_eq(fclose(f), 0);
    free(raw);
    free(z);
}

void fx_png_header_only(const char *path, uint32_t w, uint32_t h)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    write_ihdr(f, w, h, 8, 0);
    /* A few bytes of a deflate stream, so it looks like a real start. */
    static const uint8_t z[8] = {0x78, 0x9c, 0xed, 0xc1, 0x01, 0x0d, 0x00, 0x00};
    chunk(f, "IDAT", z, sizeof z);
    ck_assert_int_eq(fclose(f), 0);
}

char *fx_root;
clnet_ctx *fx_c;

void fx_setup(void)
{
    fx_root = fx_tmpdir();
    fx_c = fx_ctx();
}

void fx_teardown(void)
{
    fx_rmtree(fx_root);
    free(fx_root);
    fx_ctx_free(fx_c);
    fx_root = NULL;
    fx_c = NULL;
}

const char *fx_at(const char *rel)
{
    static char path[16][4096];
    static int k;
    k = (k + 1) % 16;
    snprintf(path[k], sizeof path[k], "%s/%s", fx_root, rel);
    return path[k];
}

void fx_img(const char *rel)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", fx_at(rel));
    char *slash = strrchr(path, '/');
    *slash = '\0';
    fx_mkdirs("%s", path);
    *slash = '/';
    fx_png_fill(path, 4, 4, 1, 100);
}

clnet_dataset_settings fx_settings(int c, int h, int w)
{
    clnet_dataset_settings s;
    clnet_dataset_default_settings(&s);
    s.channels = c;
    s.height = h;
    s.width = w;
    return s;
}

int fx_as_user(int (*check)(void))
{
    if (geteuid() != 0)
        return check();
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(100);
        _exit(check());
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}
