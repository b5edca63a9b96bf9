/* clnet-import-idx: writes an IDX image set (MNIST, Fashion-MNIST, KMNIST)
 * as PNG class folders, the layout clnet-train reads:
 * OUT_DIR/<class>/<index>.png.
 *
 * The output appears all at once: files go to OUT_DIR.clnet-tmp, which is
 * renamed to OUT_DIR when complete, with a marker (OUT_DIR/.clnet-import,
 * hidden from dataset scans) recording what was imported. Running the same
 * import again finds the marker and does nothing; a different import into
 * an existing folder is refused rather than mixed in. */
#define _XOPEN_SOURCE 700 /* nftw, to clear a temporary folder left by a crash */
#include "clnet/clnet.h"
#include "data/data_impl.h"
#include "data/idx.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stb_image_write.h>
#include <xxhash.h>
#include <zlib.h>

#define PROG "clnet-import-idx"
#define MAX_CLASSES 256
#define MARKER ".clnet-import"

static const char *const fashion_names[] = {
    "T-shirt_top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle_boot",
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: " PROG " [options] IMAGES.idx[.gz] LABELS.idx[.gz] OUT_DIR\n"
            "\n"
            "Writes an IDX image set (MNIST, Fashion-MNIST, KMNIST; gzip or not)\n"
            "as PNG class folders OUT_DIR/<class>/<index>.png for clnet-train.\n"
            "Running it again on a complete OUT_DIR does nothing.\n"
            "\n"
            "  --names A,B,...  class folder names, one per label value\n"
            "                   (default: the label values, 0 1 2 ...)\n"
            "  --fashion        Fashion-MNIST's names (T-shirt_top, Trouser,\n"
            "                   Pullover, Dress, Coat, Sandal, Shirt, Sneaker,\n"
            "                   Bag, Ankle_boot)\n"
            "  --limit N        only the first N images of each class\n"
            "  -q               no progress output\n"
            "  -h, --help       this text\n"
            "  -V, --version    clnet's version\n"
            "\n"
            "Example (Debian's dataset-fashion-mnist package):\n"
            "  " PROG " --fashion /usr/share/datasets/fashion-mnist/"
            "train-images-idx3-ubyte.gz \\\n"
            "      /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz "
            "data/fashion/train\n");
}

/* Reads a whole file, gunzipping it if it is gzip (zlib reads plain files
 * through the same calls). */
static int read_all(const char *path, uint8_t **out, size_t *len)
{
    gzFile f = gzopen(path, "rb");
    if (!f) {
        fprintf(stderr, PROG ": %s: %s\n", path, errno ? strerror(errno) : "cannot open");
        return -1;
    }
    gzbuffer(f, 1 << 17);
    size_t cap = 1 << 20, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            fprintf(stderr, PROG ": %s: out of memory\n", path);
            gzclose(f);
            return -1;
        }
        if (n == cap) {
            uint8_t *nb = cap < ((size_t)1 << 34) ? realloc(buf, cap * 2) : NULL;
            if (!nb)
                free(buf);
            buf = nb;
            cap *= 2;
            continue;
        }
        unsigned want = cap - n > (1u << 30) ? (1u << 30) : (unsigned)(cap - n);
        int r = gzread(f, buf + n, want);
        if (r < 0) {
            int errnum = 0;
            const char *msg = gzerror(f, &errnum);
            fprintf(stderr, PROG ": %s: %s\n", path,
                    errnum == Z_ERRNO ? strerror(errno) : msg);
            free(buf);
            gzclose(f);
            return -1;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    /* gzread reports a gzip stream cut short only through gzerror. */
    int errnum = 0;
    const char *msg = gzerror(f, &errnum);
    if (errnum != Z_OK && errnum != Z_STREAM_END) {
        fprintf(stderr, PROG ": %s: %s\n", path, msg);
        free(buf);
        gzclose(f);
        return -1;
    }
    gzclose(f);
    *out = buf;
    *len = n;
    return 0;
}

static int parse_names(const char *list, char **names, int *n)
{
    *n = 0;
    const char *p = list;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (*n == MAX_CLASSES) {
            fprintf(stderr, PROG ": --names: more than %d names\n", MAX_CLASSES);
            return -1;
        }
        if (len == 0 || p[0] == '.' || memchr(p, '/', len)) {
            fprintf(stderr, PROG ": --names: '%.*s' is not a usable folder name "
                            "(empty, hidden or with '/')\n", (int)len, p);
            return -1;
        }
        char *name = names[(*n)++] = strndup(p, len);
        for (int i = 0; i < *n - 1; i++)
            if (strcmp(names[i], name) == 0) {
                fprintf(stderr, PROG ": --names: '%s' given twice\n", name);
                return -1;
            }
        if (!e)
            return 0;
        p = e + 1;
    }
}

typedef struct job {
    const clnet__idx *img, *lab;
    const uint8_t *keep;
    char **names;
    const char *dir;
    int digits, progress;
    _Atomic size_t done;
    _Atomic int failed;
    size_t total;
} job;

static void write_slice(void *arg, size_t begin, size_t end, int part)
{
    job *j = arg;
    char path[4096];
    int rows = (int)j->img->dims[1], cols = (int)j->img->dims[2];
    for (size_t i = begin; i < end && !atomic_load(&j->failed); i++) {
        if (!j->keep[i])
            continue;
        snprintf(path, sizeof path, "%s/%s/%0*zu.png", j->dir,
                 j->names[j->lab->data[i]], j->digits, i);
        if (!stbi_write_png(path, cols, rows, 1, j->img->data + i * j->img->item, cols)) {
            fprintf(stderr, PROG ": cannot write %s: %s\n", path, strerror(errno));
            atomic_store(&j->failed, 1);
            return;
        }
        size_t d = atomic_fetch_add(&j->done, 1) + 1;
        if (part == 0 && j->progress && d % 1000 == 0)
            fprintf(stderr, "\r" PROG ": %zu/%zu images", d, j->total);
    }
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(path);
}

/* What identifies an import: the data itself and the options. */
static void describe(char *buf, size_t cap, const uint8_t *img, size_t ilen,
                     const uint8_t *lab, size_t llen, int limit, char **names, int n)
{
    int len = snprintf(buf, cap, PROG " 1\nimages %016llx\nlabels %016llx\nlimit %d\n"
                       "names", (unsigned long long)XXH3_64bits(img, ilen),
                       (unsigned long long)XXH3_64bits(lab, llen), limit);
    for (int i = 0; i < n && len > 0 && (size_t)len < cap; i++)
        len += snprintf(buf + len, cap - (size_t)len, "%s%s", i ? "," : " ", names[i]);
    if (len > 0 && (size_t)len < cap)
        snprintf(buf + len, cap - (size_t)len, "\n");
}

static int empty_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return 0;
    struct dirent *e;
    int empty = 1;
    while (empty && (e = readdir(d)) != NULL)
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    closedir(d);
    return empty;
}

/* 1: OUT_DIR holds this very import; 0: absent or an empty folder (rename
 * replaces it); -1: something else. */
static int existing(const char *out, const char *desc, size_t *written)
{
    struct stat st;
    if (stat(out, &st) != 0 || (S_ISDIR(st.st_mode) && empty_dir(out)))
        return 0;
    char path[4096], text[8192];
    snprintf(path, sizeof path, "%s/" MARKER, out);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    size_t dlen = strlen(desc);
    if (n < dlen || memcmp(text, desc, dlen) != 0)
        return -1;
    unsigned long long w = 0;
    if (sscanf(text + dlen, "written %llu", &w) != 1)
        return -1;
    *written = (size_t)w;
    return 1;
}

/* Everything one run owns, freed in one place. */
typedef struct import {
    char *names[MAX_CLASSES];
    int nnames, limit, quiet;
    const char *img_path, *lab_path, *out;
    uint8_t *img_buf, *lab_buf, *keep;
    size_t img_len, lab_len;
    clnet__idx img, lab;
    int nclasses;
    size_t per_class[MAX_CLASSES], total;
} import;

static void import_free(import *im)
{
    for (int k = 0; k < im->nnames; k++)
        free(im->names[k]);
    free(im->img_buf);
    free(im->lab_buf);
    free(im->keep);
}

/* 0, or the exit status of a usage error. */
static int parse_args(import *im, int argc, char **argv)
{
    static const struct option opts[] = {
        {"names", required_argument, NULL, 'n'}, {"fashion", no_argument, NULL, 'f'},
        {"limit", required_argument, NULL, 'l'}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},     {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "qhV", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
        case 'f':
            if (im->nnames) {
                fprintf(stderr, PROG ": give --names or --fashion once\n");
                return 2;
            }
            if (c == 'n' && parse_names(optarg, im->names, &im->nnames) != 0)
                return 2;
            for (; c == 'f' && im->nnames < 10; im->nnames++)
                im->names[im->nnames] = strdup(fashion_names[im->nnames]);
            break;
        case 'l': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 1000000000) {
                fprintf(stderr, PROG ": --limit %s: want a count >= 1\n", optarg);
                return 2;
            }
            im->limit = (int)v;
            break;
        }
        case 'q': im->quiet = 1; break;
        case 'h': usage(stdout); return -1;
        case 'V': printf(PROG " (clnet) %s\n", clnet_version()); return -1;
        default: usage(stderr); return 2;
        }
    }
    if (argc - optind != 3) {
        usage(stderr);
        return 2;
    }
    im->img_path = argv[optind];
    im->lab_path = argv[optind + 1];
    im->out = argv[optind + 2];
    return 0;
}

static int load_inputs(import *im)
{
    char err[512];
    if (read_all(im->img_path, &im->img_buf, &im->img_len) != 0 ||
        read_all(im->lab_path, &im->lab_buf, &im->lab_len) != 0)
        return 1;
    if (clnet__idx_parse(im->img_buf, im->img_len, &im->img, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": %s: %s\n", im->img_path, err);
        return 1;
    }
    if (clnet__idx_parse(im->lab_buf, im->lab_len, &im->lab, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": %s: %s\n", im->lab_path, err);
        return 1;
    }
    if (im->img.ndims != 3) {
        fprintf(stderr, PROG ": %s: %d dimensions; an image file has 3 (count, rows, "
                "columns) - are the two files swapped?\n", im->img_path, im->img.ndims);
        return 1;
    }
    if (im->lab.ndims != 1) {
        fprintf(stderr, PROG ": %s: %d dimensions; a label file has 1\n", im->lab_path,
                im->lab.ndims);
        return 1;
    }
    if (im->img.count != im->lab.count) {
        fprintf(stderr, PROG ": %s has %zu images but %s has %zu labels\n",
                im->img_path, im->img.count, im->lab_path, im->lab.count);
        return 1;
    }
    if (im->img.dims[1] > 65536 || im->img.dims[2] > 65536) {
        fprintf(stderr, PROG ": %s: images of %ux%u are too large\n", im->img_path,
                im->img.dims[2], im->img.dims[1]);
        return 1;
    }
    return 0;
}

/* Classes are the label values; each needs a name. Chooses the images a
 * limit keeps (the first ones of each class). */
static int plan_classes(import *im)
{
    const uint8_t *lab = im->lab.data;
    for (size_t i = 0; i < im->lab.count; i++)
        if (lab[i] >= im->nclasses)
            im->nclasses = lab[i] + 1;
    if (im->nnames && im->nnames < im->nclasses) {
        size_t at = 0;
        while (lab[at] < im->nnames)
            at++;
        fprintf(stderr, PROG ": %s: label %d (at index %zu) has no name: %d names "
                "given\n", im->lab_path, lab[at], at, im->nnames);
        return 1;
    }
    for (; im->nnames < im->nclasses; im->nnames++) {
        char num[16];
        snprintf(num, sizeof num, "%d", im->nnames);
        im->names[im->nnames] = strdup(num);
    }
    for (int a = 0; a < im->nnames; a++)
        for (int b = 0; b < im->nnames; b++)
            if (a != b && strstr(im->names[a], im->names[b]))
                fprintf(stderr, PROG ": warning: class '%s' contains '%s': darknet "
                        "matches labels by substring and would confuse them\n",
                        im->names[a], im->names[b]);
    if (!(im->keep = malloc(im->img.count ? im->img.count : 1))) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < im->img.count; i++) {
        int l = lab[i];
        im->keep[i] = !im->limit || im->per_class[l] < (size_t)im->limit;
        im->per_class[l] += im->keep[i];
        im->total += im->keep[i];
    }
    return 0;
}

/* Writes everything into the temporary folder, then renames it. */
static int write_output(import *im, const char *desc)
{
    char tmp[4096], path[4096 + 300];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.clnet-tmp", im->out) >= sizeof tmp) {
        fprintf(stderr, PROG ": %s: path too long\n", im->out);
        return 1;
    }
    struct stat st;
    if (lstat(tmp, &st) == 0) {
        fprintf(stderr, PROG ": removing %s, left by an interrupted import\n", tmp);
        if (nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
            fprintf(stderr, PROG ": cannot remove %s: %s\n", tmp, strerror(errno));
            return 1;
        }
    }
    if (mkdir(tmp, 0777) != 0) {
        fprintf(stderr, PROG ": cannot create %s: %s\n", tmp, strerror(errno));
        return 1;
    }
    for (int k = 0; k < im->nnames; k++) {
        if (!im->per_class[k]) {
            fprintf(stderr, PROG ": warning: class '%s' has no images; no folder "
                    "written for it\n", im->names[k]);
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", tmp, im->names[k]);
        if (mkdir(path, 0777) != 0) {
            fprintf(stderr, PROG ": cannot create %s: %s\n", path, strerror(errno));
            return 1;
        }
    }
    /* Zero-padded indices: sorted names are IDX order (ImageFolder's order). */
    int digits = 5;
    for (size_t v = im->img.count ? im->img.count - 1 : 0; v >= 100000; v /= 10)
        digits++;
    int tty = !im->quiet && isatty(2);
    if (!im->quiet)
        fprintf(stderr, PROG ": writing %zu images of %ux%u in %d classes to %s\n",
                im->total, im->img.dims[2], im->img.dims[1], im->nclasses, im->out);
    double t0 = clnet__now();
    job j = {&im->img, &im->lab, im->keep, im->names, tmp, digits, tty, 0, 0, im->total};
    clnet__parallel_for(clnet__cpu_count(), im->img.count, write_slice, &j);
    if (tty)
        fprintf(stderr, "\r" PROG ": %zu/%zu images\n", atomic_load(&j.done), im->total);
    if (atomic_load(&j.failed))
        return 1;
    snprintf(path, sizeof path, "%s/" MARKER, tmp);
    FILE *m = fopen(path, "w");
    if (!m || fprintf(m, "%swritten %zu\n", desc, im->total) < 0 || fclose(m) != 0) {
        fprintf(stderr, PROG ": cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    if (rename(tmp, im->out) != 0) {
        fprintf(stderr, PROG ": cannot rename %s to %s: %s\n", tmp, im->out,
                strerror(errno));
        return 1;
    }
    printf("wrote %zu images in %d classes to %s (%.1f s)\n", im->total, im->nclasses,
           im->out, clnet__now() - t0);
    return 0;
}

static int run(import *im)
{
    int rc = load_inputs(im);
    if (rc == 0)
        rc = plan_classes(im);
    if (rc != 0)
        return rc;
    char desc[8192];
    describe(desc, sizeof desc, im->img_buf, im->img_len, im->lab_buf, im->lab_len,
             im->limit, im->names, im->nnames);
    size_t written = 0;
    int ex = existing(im->out, desc, &written);
    if (ex > 0) {
        printf("%s is already complete (%zu images); nothing to do\n", im->out, written);
        return 0;
    }
    if (ex < 0) {
        fprintf(stderr, PROG ": %s exists but is not a complete import of these files "
                "with these options; remove it or choose another folder\n", im->out);
        return 1;
    }
    return write_output(im, desc);
}

int main(int argc, char **argv)
{
    import im;
    memset(&im, 0, sizeof im);
    int rc = parse_args(&im, argc, argv);
    if (rc == 0)
        rc = run(&im);
    import_free(&im);
    return rc < 0 ? 0 : rc;
}
