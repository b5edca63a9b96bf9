/* Writes a sample report from synthetic data, to look at in a browser:
 *   report_sample OUT_DIR [CLASSES [EPOCHS [VAL]]]   (defaults 10, 8, 1) */
#include "synth.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s OUT_DIR [CLASSES [EPOCHS [VAL]]]\n", argv[0]);
        return 2;
    }
    synth_opts o = {.classes = argc > 2 ? atoi(argv[2]) : 10,
                    .epochs = argc > 3 ? atoi(argv[3]) : 8, .points_per_epoch = 25,
                    .val = argc > 4 ? atoi(argv[4]) : 1, .misses = 24, .img_dir = argv[1]};
    synth s;
    char err[512];
    int rc = synth_make(&s, &o) == 0 ? report_write(argv[1], &s.d, err, sizeof err) : -1;
    if (rc != 0)
        fprintf(stderr, "report_sample: %s\n", s.d.n_classes ? err : "cannot make data");
    else
        printf("%s/report.html\n", argv[1]);
    synth_free(&s);
    return rc ? 1 : 0;
}
