/* clnet-export-onnx CHECKPOINT OUT.onnx: a clnet-train checkpoint as an ONNX
 * file that takes pixels in [0, 1] and gives class probabilities (see
 * include/clnet/onnx.h for what the file holds). */
#include "../cli.h"
#include "clnet/clnet.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: clnet-export-onnx [options] CHECKPOINT OUT.onnx\n"
    "\n"
    "Writes the checkpoint's network as ONNX (opset 13) for inference: input\n"
    "\"input\" [N,C,H,W] float32 pixels in [0,1], the checkpoint's normalisation\n"
    "(run.mean/run.std) as its first nodes, output \"probabilities\" [N,classes],\n"
    "class names and input size in the metadata.\n"
    "  --mean a[,b,c]   normalisation mean (overrides the checkpoint's)\n"
    "  --std a[,b,c]    normalisation std (overrides the checkpoint's)\n"
    "  --no-normalize   leave the normalisation out (the input is then what\n"
    "                   the network itself reads)\n"
    "  --logits         output \"logits\" instead of the softmax\n"
    "  --device X       OpenCL device (index or name substring)\n"
    "  -q, -v           quieter, more verbose\n"
    "  -h, --help, --version\n";

/* "a" or "a,b,c": n values, each finite. */
static int parse_list(const char *s, float *out, int max, int *n)
{
    *n = 0;
    while (*s && *n < max) {
        char *end;
        out[*n] = strtof(s, &end);
        if (end == s)
            return -1;
        ++*n;
        if (*end == ',')
            s = end + 1;
        else if (*end == '\0')
            return 0;
        else
            return -1;
    }
    return *s ? -1 : 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"mean", 1, 0, 'm'}, {"std", 1, 0, 's'}, {"no-normalize", 0, 0, 'N'},
        {"logits", 0, 0, 'L'}, {"device", 1, 0, 'd'}, {"help", 0, 0, 'h'},
        {"version", 0, 0, 'V'}, {0, 0, 0, 0}};
    clnet_onnx_export_options eo;
    clnet_onnx_export_default_options(&eo);
    float mean[4], std[4];
    int n_mean = 0, n_std = 0, c;
    const char *device = NULL;
    cli_verbosity verb = {1};
    while ((c = getopt_long(argc, argv, "hqv", longopts, NULL)) != -1) {
        switch (c) {
        case 'm':
            if (parse_list(optarg, mean, 4, &n_mean) != 0) {
                fprintf(stderr, "clnet-export-onnx: --mean %s: expected 1 to 4 "
                                "numbers separated by commas\n", optarg);
                return 2;
            }
            break;
        case 's':
            if (parse_list(optarg, std, 4, &n_std) != 0) {
                fprintf(stderr, "clnet-export-onnx: --std %s: expected 1 to 4 "
                                "numbers separated by commas\n", optarg);
                return 2;
            }
            break;
        case 'N': eo.normalize = 0; break;
        case 'L': eo.softmax = 0; break;
        case 'd': device = optarg; break;
        case 'q': verb.level = 0; break;
        case 'v': verb.level++; break;
        case 'h': fputs(usage, stdout); return 0;
        case 'V': printf("clnet-export-onnx %s\n", clnet_version()); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (argc - optind != 2) {
        fputs(usage, stderr);
        return 2;
    }
    if (!n_mean != !n_std) {
        fprintf(stderr, "clnet-export-onnx: give --mean and --std together\n");
        return 2;
    }
    const char *ckpt = argv[optind], *out = argv[optind + 1];
    clnet_ctx_settings cs;
    clnet_ctx_default_settings(&cs);
    cs.device = device;
    cs.log = cli_log;
    cs.log_user = &verb;
    cs.log_level = cli_log_level(verb.level);
    clnet_model_settings ms;
    clnet_model_default_settings(&ms);
    ms.batch = 1;
    ms.training = 0;
    clnet_ctx *ctx = NULL;
    clnet_model *m = NULL;
    int rc = 1;
    if (clnet_ctx_create(&ctx, &cs) != CLNET_OK ||
        clnet_model_open_checkpoint(ctx, ckpt, &ms, &m) != CLNET_OK) {
        fprintf(stderr, "clnet-export-onnx: %s\n", ctx ? clnet_errmsg(ctx) : "no device");
        goto out;
    }
    clnet_model_info info;
    clnet_model_get_info(m, &info);
    if (n_mean) {
        if (n_mean != info.channels || n_std != info.channels) {
            fprintf(stderr, "clnet-export-onnx: --mean/--std: %d and %d values for %d "
                            "input channels\n", n_mean, n_std, info.channels);
            goto out;
        }
        eo.mean = mean;
        eo.std = std;
    }
    if (clnet_model_export_onnx(m, out, &eo) != CLNET_OK) {
        fprintf(stderr, "clnet-export-onnx: %s\n", clnet_errmsg(ctx));
        goto out;
    }
    if (verb.level > 0) {
        int normalized = eo.normalize && (n_mean || clnet_model_meta(m, "run.mean"));
        printf("wrote %s: input [N,%d,%d,%d]%s, output %s [N,%d]\n", out, info.channels,
               info.height, info.width,
               normalized ? " pixels in [0,1] (normalised in the graph)" : "",
               eo.softmax ? "probabilities" : "logits", info.classes);
    }
    rc = 0;
out:
    clnet_model_free(m);
    clnet_ctx_free(ctx);
    return rc;
}
