/* Model-file parser: a table of malformed files (status and "file:LINE"
 * message each), the layer/name/from rules, [train], and every shipped model
 * in models/. Needs no device: parsing only touches the context's error
 * message, so a zeroed context stands in for a real one. */
#include "../support.h"
#include "core/ctx.h"
#include "io/cfg_override.h"
#include "io/model_desc.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static clnet_ctx *ctx;

/* Cases that need an op still missing from this build are skipped. */
static int have_op(const char *name)
{
    const clnet__op *op = clnet__op_find(name);
    return op && op->plan;
}

#define NET "[net]\nchannels=1\nheight=1\nwidth=4\nclasses=3\nbatch=2\n" /* lines 1-6 */

typedef struct bad_case {
    const char *text;
    clnet_status status;
    const char *want[3]; /* substrings of the message; want[0] names file:line */
    const char *needs;   /* op that must be implemented, or NULL */
} bad_case;

static const bad_case bad[] = {
    {"", CLNET_EPARSE, {"t.cfg:1: no [net] section", "no sections"}, NULL},
    {"; only a comment\n", CLNET_EPARSE, {"t.cfg:1: no [net]"}, NULL},
    {"[dense]\noutputs=3\n", CLNET_EPARSE, {"t.cfg:1: no [net]"}, NULL},
    {NET, CLNET_EPARSE, {"t.cfg:1: no layers"}, NULL},
    {NET "[bogus]\n", CLNET_EPARSE, {"t.cfg:7: unknown section [bogus]"}, NULL},
    /* an indented header is still a header, not a continued value */
    {NET "[dense]\noutputs=3\n  [bogus]\n", CLNET_EPARSE, {"t.cfg:9: unknown section"}, NULL},
    {NET "[relu]\nfoo=1\n[dense]\noutputs=3\n", CLNET_EPARSE,
     {"t.cfg:8: unknown key 'foo'"}, NULL},
    {NET "size=3\n[dense]\noutputs=3\n", CLNET_EPARSE, {"t.cfg:7: unknown key 'size' in [net]"}, NULL},
    {NET "[dense]\noutputs=abc\n", CLNET_EPARSE, {"t.cfg:8:", "outputs=abc"}, NULL},
    {NET "[dense]\noutputs=3\noutputs=4\n", CLNET_EPARSE, {"t.cfg:9: key 'outputs' given twice"}, NULL},
    {"[net]\nheight=1\nwidth=4\nclasses=3\n[dense]\noutputs=3\n", CLNET_EPARSE,
     {"t.cfg:1: [net] is missing channels="}, NULL},
    {"[net]\nchannels=0\nheight=1\nwidth=4\nclasses=3\n[dense]\noutputs=3\n", CLNET_EPARSE,
     {"t.cfg:2:", "channels=0"}, NULL},
    {NET "[dense]\n[dense]\noutputs=3\n", CLNET_EPARSE, {"t.cfg:7: layer 'dense1' [dense]", "outputs"}, NULL},
    {NET "[net]\n", CLNET_EPARSE, {"t.cfg:7: second [net] section"}, NULL},
    {NET "garbage\n", CLNET_EPARSE, {"t.cfg:7: syntax error"}, NULL},
    {"channels=1\n" NET, CLNET_EPARSE, {"t.cfg:1: key 'channels' before any [section]"}, NULL},
    {NET "[dense]\noutputs=3\nfrom=nothere\n", CLNET_EPARSE,
     {"t.cfg:9: from=nothere: no earlier layer is named 'nothere'"}, NULL},
    {NET "[relu]\nfrom=b\n[dense]\nname=b\noutputs=3\n", CLNET_EPARSE,
     {"t.cfg:8: from=b: no earlier layer"}, NULL},
    {NET "[relu]\nname=a\n[dense]\nname=a\noutputs=3\n", CLNET_EPARSE,
     {"t.cfg:10: duplicate layer name 'a'", "line 7"}, NULL},
    {NET "[relu]\nname=dense1\n[dense]\noutputs=3\n", CLNET_EPARSE,
     {"t.cfg:9: duplicate layer name 'dense1'"}, NULL},
    {NET "[dense]\nname=1x\noutputs=3\n", CLNET_EPARSE, {"t.cfg:8: bad layer name '1x'"}, NULL},
    {NET "[dense]\nname=input\noutputs=3\n", CLNET_EPARSE, {"t.cfg:8: 'input' is reserved"}, NULL},
    {NET "[relu]\nfrom=input,input\n[dense]\noutputs=3\n", CLNET_EPARSE,
     {"t.cfg:8: [relu] 'relu1' takes 1 to 1 inputs, got 2"}, NULL},
    {NET "[dense]\noutputs=3\nactivation=softmax\n", CLNET_EPARSE, {"t.cfg:9: activation=softmax"}, NULL},
    {NET "[dense]\nname=fc\noutputs=4\nactivation=relu\n[relu]\nname=fc_act\n[dense]\noutputs=3\n",
     CLNET_EPARSE, {"t.cfg:12: duplicate layer name 'fc_act'"}, NULL},
    {NET "[relu]\nactivation=relu\n[dense]\noutputs=3\n", CLNET_EPARSE,
     {"t.cfg:8: unknown key 'activation' for [relu]"}, NULL},
    {NET "[dense]\nname=dead\noutputs=5\n[dense]\nfrom=input\noutputs=3\n", CLNET_EPARSE,
     {"t.cfg:7: layer 'dead' has no path to the output", "'dense2'"}, NULL},
    {NET "[dense]\noutputs=5\n", CLNET_ESHAPE,
     {"t.cfg:7: the last layer 'dense1' gives [2,5,1,1]", "[2,3,1,1]"}, NULL},
    {NET "[relu]\n", CLNET_ESHAPE, {"t.cfg:7:", "[2,1,1,4]", "[2,3,1,1]"}, NULL},
    {NET "[train]\noptimizer=rmsprop\n[dense]\noutputs=3\n", CLNET_EPARSE,
     {"t.cfg:8: [train] optimizer=rmsprop: expected one of sgd|adam|adamw"}, NULL},
    {NET "[train]\nmomentum=1\n[dense]\noutputs=3\n", CLNET_EPARSE,
     {"t.cfg:8:", "momentum=1: must be below 1"}, NULL},
    {NET "[train]\nlearning_rate=0.1\n[dense]\noutputs=3\n", CLNET_EPARSE,
     {"t.cfg:8: unknown key 'learning_rate' in [train]"}, NULL},
    {NET "[train]\n[train]\n[dense]\noutputs=3\n", CLNET_EPARSE, {"t.cfg:8: second [train]"}, NULL},
    /* ops that are not in every build yet */
    {NET "[dense]\nname=a\noutputs=5\n[dense]\nname=b\nfrom=input\noutputs=6\n"
         "[add]\nfrom=a,b\n[dense]\noutputs=3\n",
     CLNET_ESHAPE, {"t.cfg:14: layer 'add1' [add]", "[2,5,1,1]", "[2,6,1,1]"}, "add"},
    {NET "[dense]\noutputs=4\n[add]\n[dense]\noutputs=3\n", CLNET_EPARSE,
     {"t.cfg:9: [add] 'add1' takes 2 to"}, "add"},
    {"[net]\nchannels=1\nheight=4\nwidth=4\nclasses=3\nbatch=2\n[conv]\nkernel=3\n"
     "[dense]\noutputs=3\n",
     CLNET_EPARSE, {"t.cfg:7: layer 'conv1' [conv]", "filters"}, "conv"},
    {"[net]\nchannels=1\nheight=4\nwidth=4\nclasses=3\nbatch=2\n[conv]\nfilters=2\nkernel=5\n"
     "[dense]\noutputs=3\n",
     CLNET_ESHAPE, {"t.cfg:7: layer 'conv1' [conv]", "[2,1,4,4]"}, "conv"},
};

START_TEST(malformed_file_fails_with_file_and_line)
{
    const bad_case *c = &bad[_i];
    if (c->needs && !have_op(c->needs)) {
        printf("case %d skipped: [%s] is not implemented yet\n", _i, c->needs);
        return;
    }
    clnet__model_desc *m = (clnet__model_desc *)1;
    clnet_status st = clnet__model_parse(ctx, "t.cfg", c->text, 0, &m);
    const char *msg = clnet_errmsg(ctx);
    ck_assert_msg(st == c->status, "case %d: got %s (%s), want %s", _i,
                  clnet_status_name(st), msg, clnet_status_name(c->status));
    ck_assert_ptr_null(m);
    for (int k = 0; k < 3 && c->want[k]; k++)
        ck_assert_msg(strstr(msg, c->want[k]), "case %d: message '%s' lacks '%s'",
                      _i, msg, c->want[k]);
}
END_TEST

START_TEST(overlong_line_fails)
{
    char text[600];
    snprintf(text, sizeof text, NET "[dense]\nname=%0300d\noutputs=3\n", 1);
    clnet__model_desc *m = NULL;
    ck_assert_int_eq(clnet__model_parse(ctx, "t.cfg", text, 0, &m), CLNET_EPARSE);
    ck_assert_ptr_nonnull(strstr(clnet_errmsg(ctx), "t.cfg:8: line too long"));
}
END_TEST

START_TEST(placeholder_op_is_unsupported)
{
    for (int k = 0; k < CLNET_OP_COUNT; k++) {
        const clnet__op *op = clnet__op_get((clnet__op_kind)k);
        if (op->plan)
            continue;
        char text[256], want[128];
        snprintf(text, sizeof text, NET "[%s]\n[dense]\noutputs=3\n", op->name);
        snprintf(want, sizeof want, "t.cfg:7: [%s] is not implemented", op->name);
        clnet__model_desc *m = NULL;
        ck_assert_int_eq(clnet__model_parse(ctx, "t.cfg", text, 0, &m),
                         CLNET_EUNSUPPORTED);
        ck_assert_ptr_nonnull(strstr(clnet_errmsg(ctx), want));
    }
}
END_TEST

START_TEST(names_inputs_and_activation_shorthand)
{
    const char *text = "\xEF\xBB\xBF; a comment\r\n"
                       "[net]\r\nchannels = 2 ; inline comment\r\nheight=1\nwidth=3\n"
                       "classes=4\n\n"
                       "[ dense ]\noutputs=8\nactivation=gelu\n"
                       "[dense]\nname=layer1.0.fc\nfrom=dense1_act\noutputs=8\n"
                       "[sigmoid]\n"
                       "[dense]\nfrom = sigmoid1\noutputs=4\n";
    clnet__model_desc *m = NULL;
    ck_assert_msg(clnet__model_parse(ctx, "t.cfg", text, 0, &m) == CLNET_OK, "%s",
                  clnet_errmsg(ctx));
    ck_assert_int_eq(m->batch, 32); /* default */
    ck_assert_int_eq(m->n_layers, 5);
    const char *names[] = {"dense1", "dense1_act", "layer1.0.fc", "sigmoid1", "dense3"};
    const int from[] = {-1, 0, 1, 2, 3};
    const int line[] = {8, 8, 11, 15, 16};
    for (int i = 0; i < 5; i++) {
        ck_assert_str_eq(m->layers[i].name, names[i]);
        ck_assert_int_eq(m->layers[i].n_in, 1);
        ck_assert_int_eq(m->layers[i].from[0], from[i]);
        ck_assert_int_eq(m->layers[i].line, line[i]);
    }
    ck_assert_int_eq(m->layers[1].kind, CLNET_OP_GELU);
    ck_assert_int_eq(m->layers[3].kind, CLNET_OP_SIGMOID);
    clnet__shape in = clnet__model_input_shape(m, 0, 0);
    ck_assert(in.n == 32 && in.c == 2 && in.h == 1 && in.w == 3);
    ck_assert_int_eq(m->layers[4].plan.out.c, 4);
    ck_assert_ptr_nonnull(strstr(m->text, "layer1.0.fc"));
    ck_assert_str_eq(m->source, "t.cfg");
    clnet__model_desc_free(m);
}
END_TEST

START_TEST(train_section_and_batch)
{
    const char *text = NET "[train]\noptimizer=sgd\nlr=0.1\nmomentum=0.9\nnesterov=yes\n"
                           "weight_decay=5e-4\nschedule=cosine\nwarmup=2\nepochs=30\n"
                           "augment=flip,crop\nlabel_smoothing=0.1\n"
                           "[dense]\noutputs=3\n";
    clnet__model_desc *m = NULL;
    ck_assert_msg(clnet__model_parse(ctx, "t.cfg", text, 16, &m) == CLNET_OK, "%s",
                  clnet_errmsg(ctx));
    const clnet__train_desc *t = &m->train;
    ck_assert_str_eq(t->optimizer, "sgd");
    ck_assert_str_eq(t->schedule, "cosine");
    ck_assert_str_eq(t->augment, "flip,crop");
    ck_assert_float_eq(t->lr, 0.1f);
    ck_assert_float_eq(t->momentum, 0.9f);
    ck_assert_float_eq(t->weight_decay, 5e-4f);
    ck_assert_float_eq(t->label_smoothing, 0.1f);
    ck_assert_int_eq(t->nesterov, 1);
    ck_assert_int_eq(t->warmup_epochs, 2);
    ck_assert_int_eq(t->epochs, 30);
    /* unset: negative or "" */
    ck_assert(t->step_epochs < 0 && t->gamma < 0 && t->clip_norm < 0 &&
              t->beta1 < 0 && t->beta2 < 0 && t->adam_eps < 0);
    ck_assert_int_eq(m->batch, 16); /* the argument overrides [net] batch=2 */
    ck_assert_int_eq(m->layers[0].plan.out.n, 16);
    ck_assert_int_eq(clnet__model_replan(ctx, m, 5), CLNET_OK);
    ck_assert_int_eq(m->batch, 5);
    ck_assert_int_eq(m->layers[0].plan.out.n, 5);
    ck_assert_int_eq(clnet__model_input_shape(m, 0, 0).n, 5);
    clnet__model_desc_free(m);

    ck_assert_int_eq(clnet__model_parse(ctx, "t.cfg", NET "[dense]\noutputs=3\n", 0, &m),
                     CLNET_OK);
    ck_assert_int_eq(m->batch, 2);
    ck_assert_str_eq(m->train.optimizer, "");
    ck_assert(m->train.lr < 0 && m->train.epochs < 0 && m->train.nesterov < 0);
    clnet__model_desc_free(m);
    clnet__model_desc_free(NULL);
}
END_TEST

START_TEST(missing_file_is_io_error)
{
    clnet__model_desc *m = NULL;
    ck_assert_int_eq(clnet__model_load_file(ctx, MODELS_DIR "/no-such.cfg", 0, &m),
                     CLNET_EIO);
    ck_assert_ptr_null(m);
}
END_TEST

static size_t param_count(const clnet__model_desc *m)
{
    size_t n = 0;
    for (int i = 0; i < m->n_layers; i++)
        for (int k = 0; k < m->layers[i].plan.n_params; k++)
            n += clnet__dims_count(m->layers[i].plan.param[k]);
    return n;
}

/* Loads models/NAME.cfg; NULL (skipped, said why) when it needs an op that
 * this build does not have yet. */
static clnet__model_desc *load_model(const char *file)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", MODELS_DIR, file);
    clnet__model_desc *m = NULL;
    clnet_status st = clnet__model_load_file(ctx, path, 0, &m);
    if (st == CLNET_EUNSUPPORTED) {
        printf("%s skipped: %s\n", file, clnet_errmsg(ctx));
        return NULL;
    }
    ck_assert_msg(st == CLNET_OK, "%s: %s", file, clnet_errmsg(ctx));
    ck_assert_int_eq(m->layers[m->n_layers - 1].plan.out.c, m->classes);
    return m;
}

START_TEST(shipped_models_parse)
{
    DIR *d = opendir(MODELS_DIR);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".cfg") == 0) {
            clnet__model_desc_free(load_model(e->d_name));
            n++;
        }
    }
    closedir(d);
    ck_assert_int_ge(n, 4);
}
END_TEST

START_TEST(shipped_model_parameter_counts)
{
    static const struct { const char *file; size_t params; int batch; } want[] = {
        /* conv 6*1*25+6, conv 16*6*25+16, 120*400+120, 84*120+84, 10*84+10 */
        {"lenet.cfg", 156 + 2416 + 48120 + 10164 + 850, 32},
        /* 32*1*9+32 + 64*32*9+64 + 128*3136+128 + 10*128+10 (bench.md) */
        {"fashion-cnn.cfg", 421642, 64},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        clnet__model_desc *m = load_model(want[i].file);
        if (!m)
            continue;
        ck_assert_uint_eq(param_count(m), want[i].params);
        ck_assert_int_eq(m->batch, want[i].batch);
        clnet__model_desc_free(m);
    }
}
END_TEST

/* Another input size and class count: [net] and the logits layer are
 * rewritten (a dense head, and a conv head before global pooling, with an
 * activation shorthand in between); the text parses with the new shapes;
 * logits from an add are refused naming the layer. */
START_TEST(override_input_and_classes)
{
    static const char *const heads[2] = {
        "[conv]\nfilters=4\nkernel=3\n[globalavgpool]\n[dense]\nname=fc\n"
        "outputs=3 ; the classes\nactivation=relu\n",
        "[conv]\nfilters=4\nkernel=3\n[conv]\nname=cls\nfilters=3\nkernel=1\n"
        "[globalavgpool]\n"};
    for (int i = 0; i < 2; i++) {
        char text[512], *out = NULL;
        snprintf(text, sizeof text, "[net]\nchannels=1\nheight=8\nwidth=8\nclasses=3\n%s",
                 heads[i]);
        const clnet__cfg_overrides o = {3, 12, 10, 7};
        ck_assert_int_eq(clnet__cfg_override(ctx, "t.cfg", text, &o, &out), CLNET_OK);
        clnet__model_desc *m = NULL;
        ck_assert_msg(clnet__model_parse(ctx, "t.cfg", out, 0, &m) == CLNET_OK, "%s: %s",
                      out, ctx->errmsg);
        ck_assert_int_eq(m->channels, 3);
        ck_assert_int_eq(m->height, 12);
        ck_assert_int_eq(m->width, 10);
        ck_assert_int_eq(m->classes, 7);
        ck_assert_int_eq(m->layers[m->n_layers - 1].plan.out.c, 7);
        ck_assert_ptr_nonnull(strstr(out, i ? "filters=7" : "outputs=7"));
        clnet__model_desc_free(m);
        free(out);
    }
    const char *add = "[net]\nchannels=1\nheight=1\nwidth=4\nclasses=3\n"
                      "[dense]\nname=a\noutputs=3\n[dense]\nname=b\nfrom=input\n"
                      "outputs=3\n[add]\nname=sum\nfrom=a,b\n";
    char *out = NULL;
    const clnet__cfg_overrides o = {0, 0, 0, 5};
    ck_assert_int_eq(clnet__cfg_override(ctx, "t.cfg", add, &o, &out), CLNET_EINVAL);
    ck_assert_ptr_null(out);
    ck_assert_ptr_nonnull(strstr(ctx->errmsg, "'sum'"));
}
END_TEST

int main(void)
{
    ctx = calloc(1, sizeof *ctx);
    Suite *s = suite_create("cfg");
    TCase *tc = tcase_create("parse");
    tcase_add_loop_test(tc, malformed_file_fails_with_file_and_line, 0,
                        (int)(sizeof bad / sizeof bad[0]));
    tcase_add_test(tc, overlong_line_fails);
    tcase_add_test(tc, placeholder_op_is_unsupported);
    tcase_add_test(tc, names_inputs_and_activation_shorthand);
    tcase_add_test(tc, train_section_and_batch);
    tcase_add_test(tc, missing_file_is_io_error);
    tcase_add_test(tc, shipped_models_parse);
    tcase_add_test(tc, shipped_model_parameter_counts);
    tcase_add_test(tc, override_input_and_classes);
    suite_add_tcase(s, tc);
    int rc = clnet_test_run(s);
    free(ctx);
    return rc;
}
