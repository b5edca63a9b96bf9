/* Fuzzes the model-file parser and graph builder (clnet__model_parse): inih
 * lexing, [net]/[train], every op's keys, name/from resolution, shape
 * inference, the path-to-output check; then a re-plan for another batch and
 * every layer's input shapes, as the graph executor asks for them. */
#include "fuzz.h"
#include "io/model_desc.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    clnet__model_desc *m = NULL;
    clnet_ctx *ctx = fuzz_ctx();
    if (clnet__model_parse(ctx, "fuzz.cfg", text, 0, &m) == CLNET_OK) {
        for (int l = 0; l < m->n_layers; l++)
            for (int i = 0; i < m->layers[l].n_in; i++)
                (void)clnet__model_input_shape(m, l, i);
        (void)clnet__model_replan(ctx, m, 3);
        clnet__model_desc_free(m);
    }
    free(text);
    return 0;
}
