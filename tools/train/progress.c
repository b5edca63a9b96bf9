#include "progress.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

double progress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

const char *progress_duration(double s, char *buf, size_t cap)
{
    if (!(s >= 0) || s > 1e7)
        snprintf(buf, cap, "--");
    else if (s >= 3600)
        snprintf(buf, cap, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
    else if (s >= 60)
        snprintf(buf, cap, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else
        snprintf(buf, cap, "%.0fs", s);
    return buf;
}

void progress_start(progress *p, FILE *out, int epoch, int epochs,
                    uint64_t total_steps)
{
    memset(p, 0, sizeof *p);
    p->out = out;
    p->tty = isatty(fileno(out));
    p->epoch = epoch;
    p->epochs = epochs;
    p->total = total_steps;
    p->t0 = p->last_print = progress_now();
}

void progress_update(progress *p, uint64_t done, uint64_t first_done,
                     double loss, double acc, double images_per_s, double lr)
{
    double now = progress_now();
    /* Plain output: a line every 10 s at most, and at the end. */
    if (!p->tty && now - p->last_print < 10 && done < p->total)
        return;
    p->last_print = now;
    double frac = p->total ? (double)done / (double)p->total : 1;
    double rate = done > first_done ? (now - p->t0) / (double)(done - first_done) : 0;
    char eta[32];
    progress_duration(rate * (double)(p->total - done), eta, sizeof eta);
    char bar[26];
    int filled = (int)(frac * 24 + 0.5);
    for (int i = 0; i < 24; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[24] = '\0';
    fprintf(p->out, "%sepoch %d/%d [%s] %llu/%llu loss %.4f acc %5.1f%% %6.0f img/s lr %.3g ETA %s%s",
            p->tty ? "\r" : "", p->epoch, p->epochs, bar, (unsigned long long)done,
            (unsigned long long)p->total, loss, 100 * acc, images_per_s, lr, eta,
            p->tty ? "\033[K" : "\n");
    fflush(p->out);
}

void progress_end(progress *p)
{
    if (p->tty)
        fputc('\n', p->out);
    fflush(p->out);
}
