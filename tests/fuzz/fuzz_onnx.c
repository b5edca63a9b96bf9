/* Fuzzes the ONNX importer as clnet_model_load uses it: the input is written
 * to a file and imported (protobuf-c decoding, then the graph mapping). Any
 * crash, leak or sanitizer report is a finding; so is an internal error
 * from clnet's cfg parser on the text an import produced. (The parser may
 * refuse it for sizes clnet's kernels do not take: the importer checks
 * shapes with the same op rules, not every limit.) Seeds: the
 * model.onnx files of Debian's ONNX node tests (make_seeds onnx). */
#include "fuzz.h"
#include "io/model_desc.h"
#include "onnx/import.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    if (!path)
        return 0;
    clnet_ctx *ctx = fuzz_ctx();
    char *text = NULL;
    clnet__tensor_set w = {0};
    if (clnet__onnx_import(ctx, path, &text, &w) == CLNET_OK) {
        clnet__model_desc *d = NULL;
        clnet_status st = clnet__model_parse(ctx, "fuzz.onnx[model.cfg]", text, 1, &d);
        if (st == CLNET_EINTERNAL)
            abort();
        clnet__model_desc_free(d);
    }
    free(text);
    clnet__tensor_set_clear(&w);
    return 0;
}
