#include "synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image_write.h>

static const char *const FASHION[] = {"T-shirt/top", "<script>&\"", "bad\xff\xfe utf-8",
                                      "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                                      "Bag", "Ankle boot"};

static char *dup_str(const char *s)
{
    char *p = malloc(strlen(s) + 1);
    return p ? strcpy(p, s) : NULL;
}

/* A 28 x 28 picture that differs per index: a ring whose size and place
 * move, on a gradient, so the thumbnails can be told apart by eye. */
static void picture(unsigned char *px, int ch, int i)
{
    for (int y = 0; y < 28; y++)
        for (int x = 0; x < 28; x++) {
            double dx = x - (10 + i % 8), dy = y - (12 + i % 5), r = sqrt(dx * dx + dy * dy);
            int ring = fabs(r - (4 + i % 6)) < 1.6;
            for (int c = 0; c < ch; c++)
                px[(y * 28 + x) * ch + c] =
                    (unsigned char)(ring ? 255 - 60 * c : (x + y) * 2 + 40 * c * (i % 3));
        }
}

/* Image i: PNG gray, PNG RGB, JPEG, BMP in turn; the last two paths are a
 * file that is not an image and one that does not exist. */
static int write_images(synth *s, const char *dir, int n)
{
    s->paths = calloc((size_t)n + 2, sizeof *s->paths);
    if (!s->paths)
        return -1;
    static const char *const ext[] = {"png", "png", "jpg", "bmp"};
    unsigned char px[28 * 28 * 3];
    char path[1024];
    for (int i = 0; i < n + 2; i++) {
        snprintf(path, sizeof path, "%s/img-%d.%s", dir, i, i >= n ? "png" : ext[i % 4]);
        if (!(s->paths[i] = dup_str(path)))
            return -1;
        s->n_paths = i + 1;
        int ch = i % 4 == 0 ? 1 : 3, ok = 1;
        picture(px, ch, i);
        if (i == n) {
            FILE *f = fopen(path, "w");
            ok = f && fputs("not a png\n", f) >= 0;
            if (f)
                fclose(f);
        } else if (i == n + 1)
            remove(path);
        else if (i % 4 == 2)
            ok = stbi_write_jpg(path, 28, 28, ch, px, 90);
        else if (i % 4 == 3)
            ok = stbi_write_bmp(path, 28, 28, ch, px);
        else
            ok = stbi_write_png(path, 28, 28, ch, px, 28 * ch);
        if (!ok)
            return -1;
    }
    return 0;
}

static void curves(synth *s, const synth_opts *o)
{
    for (int e = 0; e < o->epochs; e++) {
        double t = e + 1;
        s->epochs[e] = (report_epoch){
            .epoch = e + 1, .train_loss = 0.25 + 1.9 * exp(-0.7 * t),
            .train_acc = 0.93 - 0.55 * exp(-0.8 * t), .val_loss = 0.32 + 1.7 * exp(-0.6 * t),
            .val_top1 = 0.90 - 0.5 * exp(-0.7 * t), .val_top5 = 0.995 - 0.2 * exp(-t),
            .seconds = 41.5 + e, .images_per_s = 1450 + 10 * e, .lr = 0.01 * (1 - e / 20.0)};
        if (!o->val)
            s->epochs[e].val_loss = s->epochs[e].val_top1 = s->epochs[e].val_top5 = -1;
    }
    int total = o->points_per_epoch * (o->epochs ? o->epochs : 1);
    for (int i = 0; i < total; i++) {
        double f = (i + 1.0) / o->points_per_epoch, noise = 0.08 * sin(i * 12.9898);
        s->points[i] = (report_point){(uint64_t)(i + 1) * 50, f,
                                      0.25 + 2.0 * exp(-0.7 * f) + noise,
                                      0.93 - 0.6 * exp(-0.8 * f) + noise / 3, 0.01};
    }
    if (o->nan_loss && total > 2)
        s->points[total / 2].loss = NAN;
    if (o->nan_loss && o->epochs > 1)
        s->epochs[0].train_loss = NAN;
    s->d.n_points = (size_t)total;
}

static void validation(synth *s, const synth_opts *o)
{
    int k = o->classes;
    for (int t = 0; t < k; t++)
        for (int p = 0; p < k; p++)
            s->confusion[(size_t)t * k + p] =
                t == p ? 60 + (uint64_t)(t * 37 % 40)
                       : (t * 7 + p * 3) % 11 == 0 ? 3 + (uint64_t)((t + p) % 9) : (t + p) % 4 == 0;
    for (int i = 0; i < o->misses; i++)
        s->misses[i] = (report_miss){s->paths[i % s->n_paths], i % k, (i * 3 + 1) % k,
                                     0.45f + 0.05f * (float)(i % 10)};
    s->d.confusion = s->confusion;
    s->d.misses = s->misses;
    s->d.n_misses = (size_t)o->misses;
}

int synth_make(synth *s, const synth_opts *o)
{
    memset(s, 0, sizeof *s);
    int k = o->classes, np = o->points_per_epoch * (o->epochs ? o->epochs : 1);
    s->names = calloc((size_t)k, sizeof *s->names);
    s->epochs = calloc((size_t)o->epochs + 1, sizeof *s->epochs);
    s->points = calloc((size_t)np + 1, sizeof *s->points);
    s->confusion = calloc((size_t)k * (size_t)k, sizeof *s->confusion);
    s->misses = calloc((size_t)o->misses + 1, sizeof *s->misses);
    if (!s->names || !s->epochs || !s->points || !s->confusion || !s->misses)
        return -1;
    char name[32];
    for (int c = 0; c < k; c++) {
        snprintf(name, sizeof name, "class-%04d", c);
        if (!(s->names[c] = dup_str(c < 10 ? FASHION[c] : name)))
            return -1;
        s->n_names = c + 1;
    }
    s->d = (report_data){
        .title = "fashion-cnn on data/fashion-mnist <train> & \"val\"",
        .command = "clnet-train --epochs 10 --augment flip,crop --schedule cosine "
                   "models/fashion-cnn.cfg 'data/<fashion> & co'",
        .device = "pthread-AMD EPYC (PoCL 6.0)", .n_classes = k,
        .class_names = (const char *const *)s->names, .epochs = s->epochs,
        .n_epochs = (size_t)o->epochs, .points = s->points, .thumb_channels = 1,
        .thumb_height = 28, .thumb_width = 28};
    curves(s, o);
    if (o->val) {
        if (write_images(s, o->img_dir, o->misses > 2 ? o->misses - 2 : 1) != 0)
            return -1;
        validation(s, o);
    }
    return 0;
}

void synth_free(synth *s)
{
    for (int c = 0; c < s->n_names; c++)
        free(s->names[c]);
    for (int i = 0; i < s->n_paths; i++) {
        remove(s->paths[i]);
        free(s->paths[i]);
    }
    free(s->paths);
    free(s->names);
    free(s->epochs);
    free(s->points);
    free(s->confusion);
    free(s->misses);
    memset(s, 0, sizeof *s);
}
