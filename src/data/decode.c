/* One image file to pixels: read, header check, stb_image decode, channel
 * conversion and resize. Runs on worker threads, so nothing here touches a
 * context: reasons go to a caller's buffer (stb_image's own failure reason
 * is thread-local in Debian's libstb). */
#include "data/data_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stb_image.h>
#include <stb_image_resize.h>

/* Enough for every header stb_image reads, except JPEGs with large EXIF or
 * ICC blocks before the frame header; those are read whole on a retry. */
#define PROBE_BYTES 65536

void clnet__filebuf_free(clnet__filebuf *b)
{
    free(b->p);
    b->p = NULL;
    b->cap = 0;
}

static int reserve(clnet__filebuf *b, size_t n)
{
    if (n <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 16384;
    while (cap < n)
        cap *= 2;
    unsigned char *p = realloc(b->p, cap);
    if (!p)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static void why_errno(char *why, size_t whylen, const char *what, int err)
{
    snprintf(why, whylen, "%s: %s", what, strerror(err));
}

static clnet_status read_fd(int fd, unsigned char *p, size_t want, size_t *got,
                            char *why, size_t whylen)
{
    *got = 0;
    while (*got < want) {
        ssize_t r = read(fd, p + *got, want - *got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            why_errno(why, whylen, "read error", errno);
            return CLNET_EIO;
        }
        if (r == 0)
            break;
        *got += (size_t)r;
    }
    return CLNET_OK;
}

/* Opens an image file for reading. The scan lists regular files only, but
 * what the name points at may change before it is read: a fifo would block
 * open() and read() forever (a loader thread, then the whole epoch, would
 * hang), a device would read without end. O_NONBLOCK makes opening a fifo
 * return at once; the type is then checked on the open file, so it cannot
 * change in between. (O_NONBLOCK does nothing for regular files.) */
static int open_image(int dir, const char *path, struct stat *st, char *why,
                      size_t whylen)
{
    int fd = openat(dir, path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        why_errno(why, whylen, "cannot open", errno);
        return -1;
    }
    if (fstat(fd, st) != 0) {
        why_errno(why, whylen, "cannot stat", errno);
        close(fd);
        return -1;
    }
    if (!S_ISREG(st->st_mode)) {
        snprintf(why, whylen, "not a regular file");
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads the whole file at (dir, path) into b. */
static clnet_status read_whole(int dir, const char *path, clnet__filebuf *b,
                               size_t *len, char *why, size_t whylen)
{
    struct stat st;
    int fd = open_image(dir, path, &st, why, whylen);
    if (fd < 0)
        return CLNET_EIO;
    clnet_status status = CLNET_OK;
    if (st.st_size == 0) {
        snprintf(why, whylen, "empty file (0 bytes)");
        status = CLNET_EFORMAT;
    } else if ((uint64_t)st.st_size > INT_MAX) {
        snprintf(why, whylen, "file too large (%lld bytes)", (long long)st.st_size);
        status = CLNET_EFORMAT;
    } else if (reserve(b, (size_t)st.st_size) != 0) {
        snprintf(why, whylen, "out of memory reading %lld bytes", (long long)st.st_size);
        status = CLNET_ENOMEM;
    } else {
        /* A file that shrank since fstat: decode what is there. */
        status = read_fd(fd, b->p, (size_t)st.st_size, len, why, whylen);
    }
    close(fd);
    return status;
}

/* Reads the first PROBE_BYTES: one open, fstat, read and close, as the
 * header check at open does this for every file of the dataset. */
static clnet_status read_head(int dir, const char *path, clnet__filebuf *b,
                              size_t *len, int *whole, char *why, size_t whylen)
{
    if (reserve(b, PROBE_BYTES) != 0) {
        snprintf(why, whylen, "out of memory");
        return CLNET_ENOMEM;
    }
    struct stat st;
    int fd = open_image(dir, path, &st, why, whylen);
    if (fd < 0)
        return CLNET_EIO;
    clnet_status status = read_fd(fd, b->p, PROBE_BYTES, len, why, whylen);
    close(fd);
    if (status == CLNET_OK && *len == 0) {
        snprintf(why, whylen, "empty file (0 bytes)");
        status = CLNET_EFORMAT;
    }
    *whole = *len < PROBE_BYTES;
    return status;
}

static clnet_status check_size(int w, int h, uint64_t max_pixels, char *why,
                               size_t whylen)
{
    uint64_t px = (uint64_t)w * (uint64_t)h;
    if (w <= 0 || h <= 0 || px > max_pixels) {
        snprintf(why, whylen, "image is %dx%d, more than the limit of %llu pixels",
                 w, h, (unsigned long long)max_pixels);
        return CLNET_EFORMAT;
    }
    return CLNET_OK;
}

/* The size a PNG header claims. stb_image refuses PNGs of more than 2^30
 * bytes in its header check, and its failure reason then names the last
 * format it tried ("unknown image type"), not the size. */
static int png_dims(const unsigned char *p, size_t len, int *w, int *h)
{
    static const unsigned char sig[12] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a,
                                          '\n', 0, 0, 0, 13};
    if (len < 24 || memcmp(p, sig, sizeof sig) != 0 || memcmp(p + 12, "IHDR", 4) != 0)
        return 0;
    uint32_t pw = (uint32_t)p[16] << 24 | (uint32_t)p[17] << 16 | (uint32_t)p[18] << 8 | p[19];
    uint32_t ph = (uint32_t)p[20] << 24 | (uint32_t)p[21] << 16 | (uint32_t)p[22] << 8 | p[23];
    if (pw == 0 || ph == 0 || pw > INT_MAX || ph > INT_MAX)
        return 0;
    *w = (int)pw;
    *h = (int)ph;
    return 1;
}

static void why_stb(char *why, size_t whylen, const char *what)
{
    const char *r = stbi_failure_reason();
    snprintf(why, whylen, "%s (stb_image: %s)", what, r ? r : "unknown error");
}

/* Debian 12's stb_image (2.27) trusts the code counts of a JPEG Huffman
 * table: more than 256 codes in one table write past its fixed arrays, in
 * the header check as much as in the decode (stb_image 2.28 rejects them; found by
 * tests/fuzz/fuzz_image). Such a file is refused before stb_image sees it.
 * The walk reads the segments as stb_image does (bytes past the end read as
 * 0, as its memory reader returns), skipping entropy-coded data between the
 * scans of a progressive file, where more tables may follow. */
static unsigned jpeg_byte(const unsigned char *p, size_t len, size_t i)
{
    return i < len ? p[i] : 0u;
}

static int jpeg_bad_huffman(const unsigned char *p, size_t len)
{
    size_t i = 0;
    while (i < len && p[i] == 0xFF) /* stb_image skips fill bytes before SOI too */
        i++;
    if (i == 0 || i >= len || p[i] != 0xD8)
        return 0;
    i++;
    while (i + 1 < len) {
        unsigned m = p[i + 1];
        if (p[i] != 0xFF || m == 0x00 || m == 0xFF || (m >= 0xD0 && m <= 0xD8) ||
            m == 0x01) {
            i++; /* scan data, a fill byte, or a marker without a length */
            continue;
        }
        if (m == 0xD9)
            return 0; /* end of image */
        size_t seg = jpeg_byte(p, len, i + 2) << 8 | jpeg_byte(p, len, i + 3);
        if (m == 0xC4) {
            size_t q = i + 4;
            for (long left = (long)seg - 2; left > 0;) {
                size_t n = 0;
                for (size_t k = 1; k <= 16; k++)
                    n += jpeg_byte(p, len, q + k);
                if (n > 256)
                    return 1;
                q += 17 + n;
                left -= 17 + (long)n;
            }
        }
        i += 2 + seg;
    }
    return 0;
}

/* Debian 12's stb_image (2.27) adds the offset to its IDAT buffer before it
 * has one when the first IDAT chunk is empty (a null pointer plus zero:
 * undefined behaviour; found by tests/fuzz/fuzz_image under UBSan). No
 * encoder writes an empty first IDAT; such a file is refused. The walk
 * stops at the first IDAT, IEND, or a chunk running past the end. */
static int png_empty_first_idat(const unsigned char *p, size_t len)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (len < 8 || memcmp(p, sig, sizeof sig) != 0)
        return 0;
    for (size_t i = 8; len - i >= 8;) {
        size_t clen = (size_t)p[i] << 24 | (size_t)p[i + 1] << 16 |
                      (size_t)p[i + 2] << 8 | p[i + 3];
        if (memcmp(p + i + 4, "IDAT", 4) == 0)
            return clen == 0;
        if (memcmp(p + i + 4, "IEND", 4) == 0 || clen > len - i - 8)
            return 0;
        i += 8 + clen;
        if (len - i < 4)
            return 0;
        i += 4; /* the CRC */
    }
    return 0;
}

/* Binary PGM/PPM (P5/P6) are decoded here; stb_image only reads their
 * header (stbi_info). Debian 12's stb_image (2.27) gets their pixels wrong:
 * it reads 16-bit samples in host byte order (the format is big-endian),
 * ignores maxval (1023 out of 1023 is not white), leaves the pixels of a
 * file cut short uninitialised, and converts the channels of a 16-bit file
 * with its 8-bit converter, into a buffer half the size its 16-to-8 step
 * then reads (a heap overflow; found by tests/fuzz/fuzz_image). */
static int is_binary_pnm(const unsigned char *p, size_t len)
{
    return len >= 2 && p[0] == 'P' && (p[1] == '5' || p[1] == '6');
}

typedef struct pnm_header {
    int comp;               /* 1 (P5, gray) or 3 (P6, RGB) */
    long long w, h, maxval; /* above INT_MAX: some value above INT_MAX */
    size_t data;            /* offset of the first sample */
} pnm_header;

/* Reads the header as stb_image reads it, so both see the same numbers:
 * whitespace and # comments skipped before each number, and the one byte
 * after maxval ends the header. 0 when p is no binary PGM/PPM. */
static int pnm_header_read(const unsigned char *p, size_t len, pnm_header *hd)
{
    if (!is_binary_pnm(p, len))
        return 0;
    long long v[3] = {0, 0, 0};
    size_t i = 2;
    for (int field = 0; field < 3; field++) {
        while (i < len) {
            if (p[i] && strchr(" \t\n\v\f\r", p[i]))
                i++;
            else if (p[i] == '#')
                while (i < len && p[i] != '\n' && p[i] != '\r')
                    i++;
            else
                break;
        }
        for (; i < len && p[i] >= '0' && p[i] <= '9'; i++)
            if (v[field] <= INT_MAX)
                v[field] = v[field] * 10 + (p[i] - '0');
    }
    *hd = (pnm_header){p[1] == '6' ? 3 : 1, v[0], v[1], v[2], i + 1};
    return 1;
}

/* One pixel of comp (1 or 3) 8-bit values to `want` (1-4) as stb_image
 * converts: gray by its luminance weights, a missing alpha opaque. */
static void put_pixel(const unsigned char *a, int comp, unsigned char *b, int want)
{
    unsigned char y = comp == 1 ? a[0]
                                : (unsigned char)((a[0] * 77 + a[1] * 150 + a[2] * 29) >> 8);
    if (want <= 2)
        b[0] = y;
    else
        for (int k = 0; k < 3; k++)
            b[k] = comp == 1 ? a[0] : a[k];
    if (want == 2 || want == 4)
        b[want - 1] = 255;
}

/* The w x h pixels of a binary PGM/PPM as `want` channels of 8 bits: each
 * sample one byte (maxval < 256) or two, most significant first, scaled to
 * round(sample * 255 / maxval); a sample above maxval counts as maxval.
 * *px is malloc'd. The header was checked by the caller. */
static clnet_status pnm_decode(const unsigned char *p, size_t len, const pnm_header *hd,
                               int want, unsigned char **px, char *why, size_t whylen)
{
    unsigned max = (unsigned)hd->maxval, bytes = max > 255 ? 2 : 1;
    size_t n = (size_t)hd->w * (size_t)hd->h, per = (size_t)hd->comp * bytes;
    size_t have = hd->data < len ? len - hd->data : 0;
    if (n > have / per) {
        snprintf(why, whylen, "truncated PGM/PPM (%zu bytes of pixel data for %lldx%lld "
                 "pixels of %zu bytes)", have, hd->w, hd->h, per);
        return CLNET_EFORMAT;
    }
    unsigned char *out = malloc(n * (size_t)want);
    if (!out) {
        snprintf(why, whylen, "out of memory decoding %lldx%lld pixels", hd->w, hd->h);
        return CLNET_ENOMEM;
    }
    const unsigned char *s = p + hd->data;
    for (size_t i = 0; i < n; i++) {
        unsigned char v[3];
        for (int k = 0; k < hd->comp; k++, s += bytes) {
            unsigned x = bytes == 2 ? (unsigned)s[0] << 8 | s[1] : s[0];
            v[k] = (unsigned char)(((x < max ? x : max) * 255 + max / 2) / max);
        }
        put_pixel(v, hd->comp, out + i * (size_t)want, want);
    }
    *px = out;
    return CLNET_OK;
}

/* Refuses what Debian 12's stb_image is known to mishandle (see above),
 * and a PGM/PPM header no decoder can use. stb_image reads the header
 * numbers into an int without an overflow check (undefined behaviour; 2.28
 * checks), so a number above INT_MAX is refused before it reads them. */
static clnet_status refuse_unsafe(const unsigned char *p, size_t len, char *why,
                                    size_t whylen)
{
    if (jpeg_bad_huffman(p, len)) {
        snprintf(why, whylen, "corrupt JPEG (a Huffman table of more than 256 codes)");
        return CLNET_EFORMAT;
    }
    if (png_empty_first_idat(p, len)) {
        snprintf(why, whylen, "corrupt PNG (an empty first IDAT chunk)");
        return CLNET_EFORMAT;
    }
    pnm_header hd;
    if (pnm_header_read(p, len, &hd)) {
        if (hd.w > INT_MAX || hd.h > INT_MAX || hd.maxval > INT_MAX) {
            snprintf(why, whylen, "corrupt PGM/PPM header (a number above %d)", INT_MAX);
            return CLNET_EFORMAT;
        }
        if (hd.maxval == 0) {
            snprintf(why, whylen, "corrupt PGM/PPM header (maxval 0)");
            return CLNET_EFORMAT;
        }
    }
    return CLNET_OK;
}

clnet_status clnet__image_probe(int dir, const char *path, uint64_t max_pixels,
                                clnet__filebuf *buf, int *w, int *h, char *why,
                                size_t whylen)
{
    size_t len = 0;
    int whole = 0, comp = 0;
    clnet_status st = read_head(dir, path, buf, &len, &whole, why, whylen);
    if (st != CLNET_OK || (st = refuse_unsafe(buf->p, len, why, whylen)) != CLNET_OK)
        return st;
    int ok = stbi_info_from_memory(buf->p, (int)len, w, h, &comp);
    if (!ok && !whole) {
        if ((st = read_whole(dir, path, buf, &len, why, whylen)) != CLNET_OK ||
            (st = refuse_unsafe(buf->p, len, why, whylen)) != CLNET_OK)
            return st;
        ok = stbi_info_from_memory(buf->p, (int)len, w, h, &comp);
    }
    if (!ok) {
        if (png_dims(buf->p, len, w, h) && check_size(*w, *h, max_pixels, why, whylen))
            return CLNET_EFORMAT; /* a clearer reason than stb's last guess */
        why_stb(why, whylen, "not a readable image");
        return CLNET_EFORMAT;
    }
    return check_size(*w, *h, max_pixels, why, whylen);
}

/* stb_image decodes a JPEG cut short without complaint (the missing data
 * reads as zeros), so a file that lacks the end-of-image marker is called
 * truncated here, as libjpeg and PIL do. Some writers append padding after
 * the marker; look for it near the end. */
static int jpeg_truncated(const unsigned char *p, size_t len)
{
    if (len < 4 || p[0] != 0xFF || p[1] != 0xD8)
        return 0;
    size_t from = len > 4096 ? len - 4096 : 2;
    for (size_t i = len - 1; i > from; i--)
        if (p[i - 1] == 0xFF && p[i] == 0xD9)
            return 0;
    return 1;
}

clnet_status clnet__image_decode(const char *path, const clnet_dataset_settings *s,
                                 clnet__filebuf *buf, uint8_t *out, char *why,
                                 size_t whylen)
{
    size_t len = 0;
    int w = 0, h = 0, comp = 0;
    clnet_status st = read_whole(AT_FDCWD, path, buf, &len, why, whylen);
    if (st != CLNET_OK || (st = refuse_unsafe(buf->p, len, why, whylen)) != CLNET_OK)
        return st;
    /* The header again: the file may have changed since the scan, and the
     * pixel limit must hold before stb_image allocates anything. */
    if (!stbi_info_from_memory(buf->p, (int)len, &w, &h, &comp)) {
        why_stb(why, whylen, "not a readable image");
        return CLNET_EFORMAT;
    }
    if ((st = check_size(w, h, s->max_pixels, why, whylen)) != CLNET_OK)
        return st;
    if (jpeg_truncated(buf->p, len)) {
        snprintf(why, whylen, "truncated JPEG (no end-of-image marker)");
        return CLNET_EFORMAT;
    }
    /* px is malloc'd for a PGM/PPM, stb_image's otherwise: freed to match. */
    unsigned char *px = NULL;
    pnm_header hd;
    int pnm = pnm_header_read(buf->p, len, &hd);
    if (pnm) {
        /* stbi_info has already refused maxval above 65535; the size must
         * be the one the pixel limit was checked on. */
        if (hd.w != w || hd.h != h || hd.maxval < 1 || hd.maxval > 65535) {
            snprintf(why, whylen, "corrupt PGM/PPM header");
            return CLNET_EFORMAT;
        }
        if ((st = pnm_decode(buf->p, len, &hd, s->channels, &px, why, whylen)) != CLNET_OK)
            return st;
    } else {
        /* stb_image's flip setting is process-wide unless set per thread: an
         * application that flips for its own images must not flip ours. */
        stbi_set_flip_vertically_on_load_thread(0);
        px = stbi_load_from_memory(buf->p, (int)len, &w, &h, &comp, s->channels);
        if (!px) {
            why_stb(why, whylen, "cannot decode");
            return CLNET_EFORMAT;
        }
    }
    int c = s->channels;
    if (w == s->width && h == s->height) {
        memcpy(out, px, (size_t)w * h * c);
    } else if (!stbir_resize_uint8(px, w, h, 0, out, s->width, s->height, 0, c)) {
        snprintf(why, whylen, "out of memory resizing %dx%d to %dx%d", w, h,
                 s->width, s->height);
        st = CLNET_ENOMEM;
    }
    if (pnm)
        free(px);
    else
        stbi_image_free(px);
    return st;
}

clnet_status clnet__check_image_settings(clnet_ctx *ctx,
                                         const clnet_dataset_settings *s)
{
    CLNET__CHECK_ARG(ctx, s != NULL);
    if (s->channels < 1 || s->channels > 4)
        return clnet__fail(ctx, CLNET_EINVAL,
                           "image channels %d: must be 1 (gray), 2, 3 (RGB) or 4",
                           s->channels);
    if (s->height < 1 || s->width < 1 || s->height > 32768 || s->width > 32768)
        return clnet__fail(ctx, CLNET_EINVAL, "image size %dx%d: must be 1..32768",
                           s->width, s->height);
    if (s->max_pixels < 1)
        return clnet__fail(ctx, CLNET_EINVAL, "max_pixels must be at least 1");
    return CLNET_OK;
}

clnet_status clnet_image_load(clnet_ctx *ctx, const char *path,
                              const clnet_dataset_settings *s, float *out)
{
    CLNET__CHECK_ARG(ctx, path != NULL && out != NULL);
    clnet_status st = clnet__check_image_settings(ctx, s);
    if (st != CLNET_OK)
        return st;
    int c = s->channels, hw = s->height * s->width;
    uint8_t *px = malloc((size_t)hw * c);
    if (!px)
        return clnet__fail(ctx, CLNET_ENOMEM, "out of memory loading '%s'", path);
    clnet__filebuf buf = {0};
    char why[CLNET__WHY_MAX];
    st = clnet__image_decode(path, s, &buf, px, why, sizeof why);
    clnet__filebuf_free(&buf);
    if (st != CLNET_OK) {
        free(px);
        return clnet__fail(ctx, st, "'%s': %s", path, why);
    }
    /* stb_image's pixels are interleaved; the model wants planes. */
    for (int ch = 0; ch < c; ch++)
        for (int i = 0; i < hw; i++)
            out[(size_t)ch * hw + i] = px[(size_t)i * c + ch] * (1.0f / 255.0f);
    free(px);
    return CLNET_OK;
}
