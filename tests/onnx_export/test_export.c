/* clnet_model_export_onnx through the public API: bad arguments and failed
 * writes are errors that name what is wrong and leave no temp file; the
 * file read back with protobuf-c (the generated onnx.pb-c code) holds the
 * opset, IR version, input/output signature, metadata and initializers the
 * header promises, with every tensor name assigned once. The numbers are
 * checked by onnxruntime in check_export.py. */
#include "../support.h"
#include "clnet/clnet.h"
#include "core/core.h"
#include "graph/model_impl.h"
#include "onnx.pb-c.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static clnet_ctx *ctx;
static char dir[256];

static const char cfg[] =
    "[net]\nchannels=2\nheight=6\nwidth=6\nclasses=3\nbatch=2\n"
    "[conv]\nname=c1\nfilters=4\npad=1\nactivation=relu\n"
    "[batchnorm]\nname=bn\n"
    "[globalavgpool]\nname=gap\n"
    "[dense]\nname=fc\noutputs=8\n"
    "[dropout]\nname=drop\n"
    "[dense]\nname=probabilities\noutputs=3\n"; /* clashes with the output */

static clnet_model *load(void)
{
    clnet_model *m = NULL;
    clnet_status st = clnet_model_load_string(ctx, "export.cfg", cfg, NULL, &m);
    ck_assert_msg(st == CLNET_OK, "%s", clnet_errmsg(ctx));
    return m;
}

static void setup(void)
{
    ctx = clnet_test_ctx();
    snprintf(dir, sizeof dir, "/tmp/clnet-export-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        char p[512];
        if (e->d_name[0] == '.' && (!e->d_name[1] || !strcmp(e->d_name, "..")))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (unlink(p) != 0)
            rmdir(p);
    }
    if (d)
        closedir(d);
    rmdir(dir);
    clnet_ctx_free(ctx);
}

/* Entries of dir (without . and ..). */
static int entries(void)
{
    int n = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d)
        closedir(d);
    return n;
}

static Onnx__ModelProto *read_back(const char *path)
{
    char *data = NULL;
    size_t len = 0;
    ck_assert_int_eq(clnet__read_file(ctx, path, &data, &len), CLNET_OK);
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, (const uint8_t *)data);
    free(data);
    ck_assert_msg(mp != NULL, "%s does not parse as a ModelProto", path);
    return mp;
}

static const char *prop(const Onnx__ModelProto *mp, const char *key)
{
    for (size_t i = 0; i < mp->n_metadata_props; i++)
        if (strcmp(mp->metadata_props[i]->key, key) == 0)
            return mp->metadata_props[i]->value;
    return NULL;
}

START_TEST(bad_arguments)
{
    clnet_model *m = load();
    char path[512];
    snprintf(path, sizeof path, "%s/m.onnx", dir);
    ck_assert_int_eq(clnet_model_export_onnx(NULL, path, NULL), CLNET_EINVAL);
    ck_assert_int_eq(clnet_model_export_onnx(m, NULL, NULL), CLNET_EINVAL);
    ck_assert_int_eq(clnet_model_export_onnx(m, "", NULL), CLNET_EINVAL);

    const float mean[2] = {0.5f, 0.5f}, std0[2] = {0.25f, 0.0f};
    clnet_onnx_export_options eo;
    clnet_onnx_export_default_options(&eo);
    eo.mean = mean;
    ck_assert_int_eq(clnet_model_export_onnx(m, path, &eo), CLNET_EINVAL);
    ck_assert_ptr_nonnull(strstr(clnet_errmsg(ctx), "both mean and std"));
    eo.std = std0;
    ck_assert_int_eq(clnet_model_export_onnx(m, path, &eo), CLNET_EINVAL);
    ck_assert_msg(strstr(clnet_errmsg(ctx), "channel 1") &&
                  strstr(clnet_errmsg(ctx), "m.onnx"), "%s", clnet_errmsg(ctx));

    static const char *const names[3] = {"a", "b\xff", "c"};
    clnet_onnx_export_default_options(&eo);
    eo.class_names = names;
    ck_assert_int_eq(clnet_model_export_onnx(m, path, &eo), CLNET_EINVAL);
    ck_assert_msg(strstr(clnet_errmsg(ctx), "class 1"), "%s", clnet_errmsg(ctx));
    ck_assert_int_eq(entries(), 0);
    clnet_model_free(m);
}
END_TEST

START_TEST(failed_write_leaves_nothing)
{
    clnet_model *m = load();
    char path[512];
    snprintf(path, sizeof path, "%s/no/such/dir/m.onnx", dir);
    ck_assert_int_eq(clnet_model_export_onnx(m, path, NULL), CLNET_EIO);
    ck_assert_msg(strstr(clnet_errmsg(ctx), path), "%s", clnet_errmsg(ctx));
    /* The rename onto a directory fails: the temp file goes. */
    snprintf(path, sizeof path, "%s/sub", dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    ck_assert_int_eq(clnet_model_export_onnx(m, path, NULL), CLNET_EIO);
    ck_assert_msg(strstr(clnet_errmsg(ctx), path), "%s", clnet_errmsg(ctx));
    ck_assert_int_eq(entries(), 1);
    clnet_model_free(m);
}
END_TEST

START_TEST(file_contents)
{
    clnet_model *m = load();
    char path[512];
    snprintf(path, sizeof path, "%s/m.onnx", dir);
    ck_assert_msg(clnet_model_export_onnx(m, path, NULL) == CLNET_OK, "%s",
                  clnet_errmsg(ctx));
    ck_assert_int_eq(entries(), 1);
    Onnx__ModelProto *mp = read_back(path);
    ck_assert_int_eq(mp->ir_version, 8);
    ck_assert_uint_eq(mp->n_opset_import, 1);
    ck_assert_int_eq(mp->opset_import[0]->version, 13);
    ck_assert_str_eq(mp->producer_name, "clnet");
    const Onnx__GraphProto *g = mp->graph;
    ck_assert_uint_eq(g->n_input, 1);
    ck_assert_str_eq(g->input[0]->name, "input");
    const Onnx__TensorShapeProto *s = g->input[0]->type->tensor_type->shape;
    ck_assert_uint_eq(s->n_dim, 4);
    ck_assert_str_eq(s->dim[0]->dim_param, "N");
    ck_assert_int_eq(s->dim[1]->dim_value, 2);
    ck_assert_int_eq(s->dim[3]->dim_value, 6);
    ck_assert_uint_eq(g->n_output, 1);
    ck_assert_str_eq(g->output[0]->name, "probabilities");
    /* no checkpoint, no options: no normalisation, numbered classes */
    ck_assert_str_eq(g->node[0]->op_type, "Conv");
    ck_assert_str_eq(prop(mp, "classes"), "[\"0\",\"1\",\"2\"]");
    ck_assert_str_eq(prop(mp, "input_size"), "2,6,6");
    ck_assert_str_eq(prop(mp, "mean"), "");
    ck_assert_ptr_nonnull(strstr(prop(mp, "clnet.model"), "[batchnorm]"));
    /* every tensor assigned once; the last node is the Softmax */
    for (size_t i = 0; i < g->n_node; i++) {
        ck_assert_str_ne(g->node[i]->op_type, "Dropout");
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(g->node[i]->output[0], g->node[j]->output[0]);
    }
    ck_assert_str_eq(g->node[g->n_node - 1]->op_type, "Softmax");
    ck_assert_str_eq(g->node[g->n_node - 1]->output[0], "probabilities");
    /* the initializers are the model's tensors, under their names */
    const clnet__graph *cg = m->graph;
    ck_assert_uint_eq(g->n_initializer, (size_t)(cg->n_params + cg->n_state));
    for (int i = 0; i < cg->n_params; i++) {
        int found = 0;
        for (size_t j = 0; j < g->n_initializer; j++)
            found |= strcmp(g->initializer[j]->name, cg->params[i].name) == 0 &&
                     g->initializer[j]->n_float_data == cg->params[i].count;
        ck_assert_msg(found, "no initializer %s", cg->params[i].name);
    }
    onnx__model_proto__free_unpacked(mp, NULL);

    /* options: normalisation, names, logits, graph name */
    const float mean[2] = {0.25f, 0.5f}, std[2] = {0.5f, 2.0f};
    static const char *const names[3] = {"cat \"x\"", "d\xc3\xb6g", "bird"};
    clnet_onnx_export_options eo;
    clnet_onnx_export_default_options(&eo);
    eo.mean = mean;
    eo.std = std;
    eo.class_names = names;
    eo.softmax = 0;
    eo.graph_name = "tiny";
    ck_assert_msg(clnet_model_export_onnx(m, path, &eo) == CLNET_OK, "%s", clnet_errmsg(ctx));
    mp = read_back(path);
    g = mp->graph;
    ck_assert_str_eq(g->name, "tiny");
    ck_assert_str_eq(g->output[0]->name, "logits");
    ck_assert_str_eq(g->node[0]->op_type, "Sub");
    ck_assert_str_eq(g->node[1]->op_type, "Div");
    ck_assert_str_eq(prop(mp, "mean"), "0.25,0.5");
    ck_assert_str_eq(prop(mp, "std"), "0.5,2");
    ck_assert_str_eq(prop(mp, "classes"), "[\"cat \\\"x\\\"\",\"d\xc3\xb6g\",\"bird\"]");
    onnx__model_proto__free_unpacked(mp, NULL);
    ck_assert_int_eq(entries(), 1); /* replaced, no temp file left */
    clnet_model_free(m);
}
END_TEST

int main(void)
{
    clnet_test_require_device();
    Suite *s = suite_create("onnx_export");
    TCase *tc = tcase_create("export");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, failed_write_leaves_nothing);
    tcase_add_test(tc, file_contents);
    suite_add_tcase(s, tc);
    return clnet_test_run(s);
}
