/* clnet_model_export_onnx: the model's inference graph as an ONNX ModelProto
 * (protobuf-c, onnx.pb-c.h), written atomically. The layer translation is in
 * export_layers.c, the message constructors in export_build.c. */
#include "clnet/onnx.h"

#include "graph/model_impl.h"
#include "onnx/export_build.h"
#include "train/safetensors_util.h"

#include <cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CHANNELS 4 /* what the image loader produces */

void clnet_onnx_export_default_options(clnet_onnx_export_options *o)
{
    if (o)
        *o = (clnet_onnx_export_options){.normalize = 1, .softmax = 1};
}

/* What the export writes besides the network. */
typedef struct ex_meta {
    int norm;                          /* normalisation nodes */
    float mean[MAX_CHANNELS], std[MAX_CHANNELS];
    char mean_s[160], std_s[160];      /* "a,b,c" or "" */
    char *classes_json;                /* malloc'd */
} ex_meta;

static void join(char *dst, size_t cap, const float *v, int n)
{
    size_t len = 0;
    dst[0] = '\0';
    for (int i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(dst + len, cap - len, "%s%.9g", i ? "," : "", (double)v[i]);
}

/* "a,b,c" of exactly n floats; 0 on success. */
static int parse_floats(const char *s, float *out, int n)
{
    int k = 0;
    for (const char *p = s; *p && k < n; k++) {
        char *end;
        out[k] = strtof(p, &end);
        if (end == p)
            return -1;
        p = *end == ',' ? end + 1 : end;
        if (k + 1 == n && *end)
            return -1;
    }
    return k == n ? 0 : -1;
}

static clnet_status resolve_norm(clnet_model *m, const clnet_onnx_export_options *o,
                                 const char *path, ex_meta *e)
{
    clnet_ctx *ctx = m->ctx;
    int c = m->desc->channels;
    if (!o->mean != !o->std)
        return clnet__fail(ctx, CLNET_EINVAL, "%s: give both mean and std, or "
                           "neither", path);
    if (o->mean) {
        if (c > MAX_CHANNELS)
            return clnet__fail(ctx, CLNET_EINVAL, "%s: a normalisation for %d "
                               "channels (at most %d)", path, c, MAX_CHANNELS);
        memcpy(e->mean, o->mean, (size_t)c * sizeof(float));
        memcpy(e->std, o->std, (size_t)c * sizeof(float));
        e->norm = 1;
    } else {
        const char *ms = clnet_model_meta(m, "run.mean");
        const char *ss = clnet_model_meta(m, "run.std");
        if (ms && ss) {
            if (c > MAX_CHANNELS || parse_floats(ms, e->mean, c) ||
                parse_floats(ss, e->std, c))
                return clnet__fail(ctx, CLNET_EINVAL, "%s: the checkpoint's "
                                   "run.mean \"%s\" / run.std \"%s\" are not %d "
                                   "numbers each", path, ms, ss, c);
            e->norm = 1;
        }
    }
    for (int i = 0; e->norm && i < c; i++)
        if (!isfinite(e->mean[i]) || !isfinite(e->std[i]) || !(e->std[i] > 0))
            return clnet__fail(ctx, CLNET_EINVAL, "%s: channel %d: mean %g, std %g "
                               "(std must be finite and > 0)", path, i,
                               (double)e->mean[i], (double)e->std[i]);
    if (!o->normalize)
        e->norm = 0;
    if (e->norm) {
        join(e->mean_s, sizeof e->mean_s, e->mean, c);
        join(e->std_s, sizeof e->std_s, e->std, c);
    }
    return CLNET_OK;
}

/* The class names as a JSON array: the options', the checkpoint's
 * run.classes when it has one name per class, else the numbers. */
static clnet_status resolve_classes(clnet_model *m, const clnet_onnx_export_options *o,
                                    const char *path, ex_meta *e)
{
    clnet_ctx *ctx = m->ctx;
    int k = m->desc->classes;
    cJSON *arr = NULL;
    if (o->class_names) {
        arr = cJSON_CreateArray();
        for (int i = 0; arr && i < k; i++) {
            const char *s = o->class_names[i];
            if (!s || !clnet__st_utf8_ok(s, strlen(s))) {
                cJSON_Delete(arr);
                return clnet__fail(ctx, CLNET_EINVAL, "%s: class %d's name is %s",
                                   path, i, s ? "not UTF-8" : "NULL");
            }
            cJSON_AddItemToArray(arr, cJSON_CreateString(s));
        }
    } else {
        const char *js = clnet_model_meta(m, "run.classes");
        arr = js ? cJSON_Parse(js) : NULL;
        int ok = cJSON_IsArray(arr) && cJSON_GetArraySize(arr) == k;
        for (int i = 0; ok && i < k; i++)
            ok = cJSON_IsString(cJSON_GetArrayItem(arr, i));
        if (!ok) {
            if (js)
                clnet__log(ctx, CLNET_LOG_WARN, "%s: the checkpoint's run.classes "
                           "is not %d names; the classes are numbered", path, k);
            cJSON_Delete(arr);
            arr = cJSON_CreateArray();
            for (int i = 0; arr && i < k; i++) {
                char num[16];
                snprintf(num, sizeof num, "%d", i);
                cJSON_AddItemToArray(arr, cJSON_CreateString(num));
            }
        }
    }
    e->classes_json = arr ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    return e->classes_json ? CLNET_OK
                           : clnet__fail(ctx, CLNET_ENOMEM, "%s: out of memory", path);
}

/* Input -> (input - mean) / std: the value the network reads. */
static clnet__ex_value normalise(clnet__ex_builder *b, const ex_meta *e, int c)
{
    clnet__ex_value v = {"input", 4};
    if (!e->norm)
        return v;
    const int64_t dims[4] = {1, c, 1, 1};
    const char *sub[2] = {"input", clnet__ex_init_float_copy(b, "input/mean", dims, 4, e->mean)};
    clnet__ex_node(b, "Sub", 2, sub, "input/centered");
    const char *div[2] = {"input/centered",
                          clnet__ex_init_float_copy(b, "input/std", dims, 4, e->std)};
    clnet__ex_node(b, "Div", 2, div, "input/normalized");
    v.name = "input/normalized";
    return v;
}

static Onnx__StringStringEntryProto *entry(clnet__ex_builder *b, const char *k,
                                           const char *v)
{
    Onnx__StringStringEntryProto *p = clnet__ex_alloc(b, sizeof *p);
    if (!p)
        return NULL;
    onnx__string_string_entry_proto__init(p);
    p->key = clnet__ex_strdup(b, k);
    p->value = clnet__ex_strdup(b, v);
    return p;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* The graph and model messages around the builder's nodes; packs them into
 * *buf (malloc'd). */
static clnet_status pack_model(clnet__ex_builder *b, clnet_model *m,
                               const clnet_onnx_export_options *o,
                               const ex_meta *e, const char *out_name,
                               const char *path, uint8_t **buf, size_t *len)
{
    const clnet__model_desc *d = m->desc;
    Onnx__ModelProto model;
    Onnx__GraphProto graph;
    Onnx__OperatorSetIdProto opset;
    Onnx__OperatorSetIdProto *opsets[1] = {&opset};
    onnx__model_proto__init(&model);
    onnx__graph_proto__init(&graph);
    onnx__operator_set_id_proto__init(&opset);
    opset.domain = "";
    opset.has_version = 1;
    opset.version = CLNET__ONNX_OPSET;

    const int64_t in_dims[4] = {-1, d->channels, d->height, d->width};
    const int64_t out_dims[2] = {-1, d->classes};
    Onnx__ValueInfoProto *in = clnet__ex_value_info(b, "input", in_dims, 4);
    Onnx__ValueInfoProto *out = clnet__ex_value_info(b, out_name, out_dims, 2);
    char input_size[48];
    snprintf(input_size, sizeof input_size, "%d,%d,%d", d->channels, d->height, d->width);
    Onnx__StringStringEntryProto *props[7] = {
        entry(b, "classes", e->classes_json),
        entry(b, "input_size", input_size),
        entry(b, "mean", e->mean_s),
        entry(b, "std", e->std_s),
        entry(b, "clnet.version", clnet_version()),
        entry(b, "clnet.model", d->text ? d->text : ""),
        entry(b, "clnet.source", base_name(d->source)),
    };
    graph.name = clnet__ex_strdup(b, o->graph_name ? o->graph_name : base_name(d->source));
    graph.doc_string = clnet__ex_printf(b, "clnet %s: %s (inference graph)",
                                        clnet_version(), base_name(d->source));
    if (b->oom)
        return clnet__fail(m->ctx, CLNET_ENOMEM, "%s: out of memory", path);
    graph.n_node = b->n_node;
    graph.node = b->node;
    graph.n_initializer = b->n_init;
    graph.initializer = b->init;
    graph.n_input = 1;
    graph.input = &in;
    graph.n_output = 1;
    graph.output = &out;

    model.has_ir_version = 1;
    model.ir_version = CLNET__ONNX_IR_VERSION;
    model.n_opset_import = 1;
    model.opset_import = opsets;
    model.producer_name = "clnet";
    model.producer_version = (char *)clnet_version();
    model.graph = &graph;
    model.n_metadata_props = sizeof props / sizeof props[0];
    model.metadata_props = props;

    *len = protobuf_c_message_get_packed_size(&model.base);
    if (*len > INT32_MAX) /* protobuf's limit; ONNX's external data is not written */
        return clnet__fail(m->ctx, CLNET_EINVAL, "%s: the model takes %zu bytes, over "
                           "protobuf's 2 GiB limit for one ONNX file", path, *len);
    *buf = malloc(*len ? *len : 1);
    if (!*buf)
        return clnet__fail(m->ctx, CLNET_ENOMEM, "%s: out of memory for %zu bytes",
                           path, *len);
    size_t packed = protobuf_c_message_pack(&model.base, *buf);
    if (packed != *len) {
        free(*buf);
        *buf = NULL;
        return clnet__fail(m->ctx, CLNET_EINVAL, "%s: protobuf packing gave %zu "
                           "bytes, expected %zu", path, packed, *len);
    }
    return CLNET_OK;
}

clnet_status clnet_model_export_onnx(clnet_model *m, const char *path,
                                     const clnet_onnx_export_options *opt)
{
    if (!m || !path || !*path)
        return clnet__fail(m ? m->ctx : NULL, CLNET_EINVAL,
                           "clnet_model_export_onnx: %s", m ? "no path" : "NULL model");
    clnet_ctx *ctx = m->ctx;
    clnet_onnx_export_options defaults;
    clnet_onnx_export_default_options(&defaults);
    const clnet_onnx_export_options *o = opt ? opt : &defaults;
    const clnet__model_desc *d = m->desc;
    const clnet__graph *g = m->graph;

    ex_meta e = {0};
    clnet_status st = resolve_norm(m, o, path, &e);
    if (st == CLNET_OK)
        st = resolve_classes(m, o, path, &e);
    if (st != CLNET_OK) {
        free(e.classes_json);
        return st;
    }

    /* The parameters and running statistics, from the device. */
    float *params = malloc((g->params_count + 1) * sizeof(float));
    float *state = malloc((g->state_count + 1) * sizeof(float));
    clnet__ex_value *vals = calloc((size_t)d->n_layers + 1, sizeof *vals);
    if (!params || !state || !vals)
        st = clnet__fail(ctx, CLNET_ENOMEM, "%s: out of host memory", path);
    if (st == CLNET_OK && g->params_count)
        st = clnet__buf_read(ctx, g->params_buf, 0, g->params_count * sizeof(float), params);
    if (st == CLNET_OK && g->state_count)
        st = clnet__buf_read(ctx, g->state_buf, 0, g->state_count * sizeof(float), state);

    clnet__ex_builder b = {.ctx = ctx};
    clnet__ex_tensors t = {g, params, state};
    const char *out_name = o->softmax ? "probabilities" : "logits";
    if (st == CLNET_OK) {
        vals[d->n_layers] = normalise(&b, &e, d->channels);
        for (int i = 0; i < d->n_layers && st == CLNET_OK && !b.oom; i++) {
            st = clnet__ex_layer(&b, d, i, &t, vals);
            if (st != CLNET_OK && st != CLNET_ENOMEM)
                clnet__fail_prefix(ctx, st, "%s", path);
        }
    }
    if (st == CLNET_OK && !b.oom) {
        clnet__ex_value logits = clnet__ex_rank2(&b, vals[d->n_layers - 1]);
        Onnx__NodeProto *n = clnet__ex_node(&b, o->softmax ? "Softmax" : "Identity", 1,
                                            &logits.name, out_name);
        if (o->softmax)
            clnet__ex_attr_int(&b, n, "axis", 1);
    }
    if (st == CLNET_OK && b.oom)
        st = clnet__fail(ctx, CLNET_ENOMEM, "%s: out of host memory", path);
    uint8_t *buf = NULL;
    size_t len = 0;
    if (st == CLNET_OK)
        st = pack_model(&b, m, o, &e, out_name, path, &buf, &len);
    if (st == CLNET_OK)
        st = clnet__ex_write_file(ctx, path, buf, len);
    if (st == CLNET_OK)
        clnet__log(ctx, CLNET_LOG_INFO, "%s: %zu nodes, %zu initializers, %zu bytes",
                   path, b.n_node, b.n_init, len);
    free(buf);
    clnet__ex_free(&b);
    free(vals);
    free(params);
    free(state);
    free(e.classes_json);
    return st;
}
