/* The run report: metrics.csv and a self-contained report.html (inline SVG
 * charts, no network) written into a run directory after every epoch. */
#ifndef CLNET_TOOLS_REPORT_H
#define CLNET_TOOLS_REPORT_H

#include <stddef.h>
#include <stdint.h>

/* One finished epoch. Validation fields are negative when there was no
 * validation set. */
typedef struct report_epoch {
    int epoch;                /* 1-based */
    double train_loss, train_acc;
    double val_loss, val_top1, val_top5;
    double seconds, images_per_s, lr;
} report_epoch;

/* A point of the finer loss series (every N steps). */
typedef struct report_point {
    uint64_t step;
    double epoch_f;           /* fractional epoch, e.g. 1.25 */
    double loss, acc, lr;     /* acc, lr negative: not known */
} report_point;

/* A misclassified validation image. */
typedef struct report_miss {
    const char *path;         /* image file (read and embedded as a PNG);
                                 NULL or unreadable: a placeholder */
    int truth, pred;
    float prob;               /* predicted class probability */
} report_miss;

typedef struct report_data {
    const char *title;        /* e.g. "fashion-cnn on data/fashion-mnist" */
    const char *command;      /* the command line, shown verbatim */
    const char *device;
    int n_classes;
    const char *const *class_names;
    const report_epoch *epochs;
    size_t n_epochs;
    const report_point *points;
    size_t n_points;
    const uint64_t *confusion;/* n_classes x n_classes, [truth][pred]; NULL if
                                 no validation */
    const report_miss *misses;/* up to ~64 shown */
    size_t n_misses;
    int thumb_channels, thumb_height, thumb_width; /* thumbnail size */
    const char *skipped;      /* the data files left out, as clnet-train says
                                 it ("12 unusable images skipped: ..."); NULL
                                 or "": none */
    int no_csv;               /* 1: leave metrics.csv alone (clnet-train
                                 appends its rows as the run goes) */
} report_data;

/* Limits of what report.html shows, so a page stays readable and small:
 * - the confusion matrix table for up to REPORT_MATRIX_MAX_CLASSES classes;
 *   above that, the REPORT_CONFUSED_PAIRS largest off-diagonal cells instead;
 * - per-class accuracy for every class up to REPORT_WORST_CLASSES, else the
 *   REPORT_WORST_CLASSES lowest (classes without validation images left out);
 * - REPORT_MAX_MISSES misses as thumbnails, taken from each true class in
 *   turn, the most confused first (thumb_* size, the longest side shrunk to
 *   96 px; 56 x 56 when zero). */
#define REPORT_MATRIX_MAX_CLASSES 50
#define REPORT_WORST_CLASSES 50
#define REPORT_CONFUSED_PAIRS 20
#define REPORT_MAX_MISSES 64

/* Writes dir/metrics.csv (one tidy table: a `kind` column says "step" for
 * the finer loss series and "epoch" for the per-epoch rows, in the order they
 * happened; negative values other than losses are written as empty fields,
 * NaN as "nan") and dir/report.html, each to a temp file in dir, fsync'd,
 * then renamed into place, so a reader never sees half a file. The directory
 * must exist. NaN points are left out of the charts; misses whose image cannot
 * be read get a placeholder. Everything in d is borrowed. Prints nothing:
 * returns 0, or -1 with a message in errbuf (may be NULL). */
int report_write(const char *dir, const report_data *d, char *errbuf,
                 size_t errlen);

/* metrics.csv's header line and one row (a step point, or else an epoch
 * row), each with its newline, as report_write writes them, into buf (cap
 * bytes). Return the length, or -1 when it does not fit. */
int report_csv_header(char *buf, size_t cap);
int report_csv_row(char *buf, size_t cap, const report_point *p, const report_epoch *e);

#endif
