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
    double loss, acc, lr;
} report_point;

/* A misclassified validation image. */
typedef struct report_miss {
    const char *path;         /* image file (read and embedded as a PNG) */
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
} report_data;

/* Writes dir/metrics.csv (one tidy table: a `kind` column says "step" for
 * the finer loss series and "epoch" for the per-epoch rows) and
 * dir/report.html, each to a temp file then renamed into place. Returns 0,
 * or -1 with errbuf set. */
int report_write(const char *dir, const report_data *d, char *errbuf,
                 size_t errlen);

#endif
