#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? 2 * cap : 65536;
            char *p = realloc(buf, cap);
            if (!p) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = p;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* A field as report.h writes it: empty is "none" (-1), else a number,
 * nan or inf. */
static double field(char **p)
{
    char *s = *p, *end = strchr(s, ',');
    if (end)
        *end = '\0';
    *p = end ? end + 1 : s + strlen(s);
    return *s ? strtod(s, NULL) : -1;
}

/* Parses one row (without its newline) into a point or an epoch row.
 * Returns 1 point, 2 epoch, 0 neither. */
static int parse_row(const char *line, report_point *p, report_epoch *e)
{
    char buf[1024];
    if (strlen(line) >= sizeof buf)
        return 0;
    strcpy(buf, line);
    char *s = strchr(buf, ',');
    if (!s)
        return 0;
    *s++ = '\0';
    double f[10];
    for (int i = 0; i < 10; i++)
        f[i] = field(&s);
    if (strcmp(buf, "step") == 0) {
        *p = (report_point){(uint64_t)f[1], f[0], f[2], f[3], f[4]};
        return f[1] >= 0 ? 1 : 0;
    }
    if (strcmp(buf, "epoch") == 0) {
        *e = (report_epoch){.epoch = (int)f[0], .train_loss = f[2], .train_acc = f[3],
                            .lr = f[4], .val_loss = f[5], .val_top1 = f[6], .val_top5 = f[7],
                            .seconds = f[8], .images_per_s = f[9]};
        return f[0] >= 1 ? 2 : 0;
    }
    return 0;
}

/* Appends one element to *arr of *n (capacity *cap). */
static int push(void **arr, size_t *n, size_t *cap, const void *x, size_t size)
{
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 64;
        void *q = realloc(*arr, c * size);
        if (!q)
            return -1;
        *arr = q;
        *cap = c;
    }
    memcpy((char *)*arr + *n * size, x, size);
    (*n)++;
    return 0;
}

/* Keeps the rows of text up to the checkpoint, appending them to *kept. */
static int keep_rows(char *text, const char *header, uint64_t keep_step, int keep_epochs,
                     metrics_history *h, char *kept, size_t *kept_len, const char *path)
{
    size_t hl = strlen(header);
    if (strncmp(text, header, hl) != 0) {
        fprintf(stderr, "clnet-train: warning: %s is not a metrics.csv of this version "
                        "(another header); it starts again\n", path);
        return 0;
    }
    size_t len = hl, cap_points = 0, cap_epochs = 0;
    memcpy(kept, header, hl);
    for (char *line = text + hl; *line;) {
        char *nl = strchr(line, '\n');
        if (!nl)
            break; /* a row cut short by a kill */
        *nl = '\0';
        report_point p;
        report_epoch e;
        int kind = parse_row(line, &p, &e);
        int keep = (kind == 1 && p.step <= keep_step) ||
                   (kind == 2 && e.epoch <= keep_epochs);
        if (keep && (kind == 1 ? push((void **)&h->points, &h->n_points, &cap_points, &p,
                                      sizeof p)
                               : push((void **)&h->epochs, &h->n_epochs, &cap_epochs, &e,
                                      sizeof e)) != 0)
            return -1;
        if (keep) {
            size_t n = (size_t)(nl - line);
            memcpy(kept + len, line, n);
            kept[len + n] = '\n';
            len += n + 1;
        }
        line = nl + 1;
    }
    *kept_len = len;
    return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* dir/metrics.csv gets text through a temp file (named as report_write
 * names its temp files), fsync and rename. */
static int replace_file(const char *dir, const char *path, const char *text, size_t len)
{
    char tmp[2400];
    snprintf(tmp, sizeof tmp, "%s/.metrics.csv.%ld.tmp", dir, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
        return -1;
    int ok = write_all(fd, text, len) == 0 && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

int metrics_log_open(metrics_log *ml, const char *out_dir, const char *from_dir,
                     uint64_t keep_step, int keep_epochs, metrics_history *h)
{
    memset(ml, 0, sizeof *ml);
    memset(h, 0, sizeof *h);
    snprintf(ml->path, sizeof ml->path, "%s/metrics.csv", out_dir);
    char header[256];
    report_csv_header(header, sizeof header);
    size_t len = 0;
    char *text = NULL, *kept = NULL;
    if (from_dir) {
        char from[2300];
        snprintf(from, sizeof from, "%s/metrics.csv", from_dir);
        text = slurp(from, &len);
        if (!text)
            fprintf(stderr, "clnet-train: warning: no %s to continue; metrics.csv and "
                            "the report start at the checkpoint\n", from);
    }
    size_t kept_len = strlen(header);
    kept = malloc(len + kept_len + 1);
    int rc = kept ? 0 : -1;
    if (kept)
        memcpy(kept, header, kept_len);
    if (rc == 0 && text)
        rc = keep_rows(text, header, keep_step, keep_epochs, h, kept, &kept_len, ml->path);
    if (rc == 0 && from_dir) {
        if (replace_file(out_dir, ml->path, kept, kept_len) != 0 ||
            !(ml->f = fopen(ml->path, "ab")))
            rc = -1;
    } else if (rc == 0) {
        /* A new run truncates in place: a reader following the file (tail -f)
         * keeps following it. */
        if (!(ml->f = fopen(ml->path, "wb")) || fputs(header, ml->f) < 0 ||
            fflush(ml->f) != 0)
            rc = -1;
    }
    free(text);
    free(kept);
    if (rc != 0) {
        fprintf(stderr, "clnet-train: cannot write %s: %s\n", ml->path, strerror(errno));
        free(h->points);
        free(h->epochs);
        memset(h, 0, sizeof *h);
    }
    return rc;
}

static void put(metrics_log *ml, const char *row, int n)
{
    if (!ml->f || ml->failed)
        return;
    if (n < 0 || fputs(row, ml->f) < 0 || fflush(ml->f) != 0) {
        ml->failed = 1;
        fprintf(stderr, "\nclnet-train: warning: cannot append to %s: %s; it stops here\n",
                ml->path, strerror(errno));
    }
}

void metrics_log_point(metrics_log *ml, const report_point *p)
{
    char row[512];
    put(ml, row, report_csv_row(row, sizeof row, p, NULL));
}

void metrics_log_epoch(metrics_log *ml, const report_epoch *e)
{
    char row[512];
    put(ml, row, report_csv_row(row, sizeof row, NULL, e));
}

void metrics_log_sync(metrics_log *ml)
{
    if (ml->f && !ml->failed)
        fsync(fileno(ml->f));
}

void metrics_log_close(metrics_log *ml)
{
    if (ml->f)
        fclose(ml->f);
    ml->f = NULL;
}
