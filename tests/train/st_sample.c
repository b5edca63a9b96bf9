/* Writes a small checkpoint-like safetensors file for
 * check_safetensors.py, which reads it the way other safetensors readers do
 * (and with numpy/torch when installed). Values follow a formula the script
 * recomputes: tensor t, element i: ((i * 7 + t * 13) % 101 - 50) / 8. */
#include "core/ctx.h"
#include "train/safetensors.h"

#include <stdio.h>
#include <stdlib.h>

static float vals[4][64];

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT.safetensors\n", argv[0]);
        return 2;
    }
    for (int t = 0; t < 4; t++)
        for (int i = 0; i < 64; i++)
            vals[t][i] = (float)((i * 7 + t * 13) % 101 - 50) / 8.0f;
    const clnet__st_tensor tensors[] = {
        {"conv1.weight", 4, {4, 1, 3, 3}, vals[0]},
        {"conv1.bias", 1, {4}, vals[1]},
        {"fc.weight", 2, {3, 5}, vals[2]},
        {"optim.step_scale", 0, {0}, vals[3]},
        {"empty", 2, {0, 2}, NULL},
    };
    const clnet__st_meta meta[] = {
        {"format", "clnet-test"},
        {"cfg", "[net]\nchannels=1 ; \"quoted\" \\ caf\xc3\xa9\n"},
        {"step", "42"},
    };
    clnet_ctx *ctx = calloc(1, sizeof *ctx); /* only holds the error message */
    clnet_status st = clnet__st_write(ctx, argv[1], tensors, 5, meta, 3);
    if (st != CLNET_OK)
        fprintf(stderr, "%s\n", clnet_errmsg(ctx));
    free(ctx);
    return st == CLNET_OK ? 0 : 1;
}
