/* Model files: sections (cfg_lex.c) -> layers with resolved inputs and
 * inferred shapes. Everything a file can get wrong is reported here with its
 * file and line, so the graph executor only ever sees a checked model. */
#include "io/cfg_internal.h"
#include "ops/op_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static clnet__op_kind kind_of(const clnet__op *op)
{
    int k = 0;
    while (k < CLNET_OP_COUNT && clnet__op_get((clnet__op_kind)k) != op)
        k++;
    return (clnet__op_kind)k;
}

static int is_activation(clnet__op_kind k)
{
    return k >= CLNET_OP_RELU && k <= CLNET_OP_HARDSWISH;
}

static int find_layer(const clnet__model_desc *m, const char *name)
{
    for (int i = 0; i < m->n_layers; i++)
        if (strcmp(m->layers[i].name, name) == 0)
            return i;
    return -1;
}

/* Letters, digits, '_' and '.', not starting with a digit or '.': names end
 * up in checkpoint tensor names ("layer1_0_conv1.weight"). */
static int valid_name(const char *s)
{
    if (!*s || (*s >= '0' && *s <= '9') || *s == '.')
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '_' || *s == '.'))
            return 0;
    return 1;
}

static clnet_status check_name(clnet_ctx *ctx, const cfg_file *f, int line,
                               const clnet__model_desc *m, const char *name)
{
    if (strlen(name) + sizeof "_act" > CLNET__NAME_MAX || !valid_name(name))
        return clnet__cfg_fail(ctx, CLNET_EPARSE, f->label, line,
                               "bad layer name '%s': use letters, digits, '_' "
                               "and '.', at most %d characters", name,
                               CLNET__NAME_MAX - (int)sizeof "_act");
    if (strcmp(name, "input") == 0)
        return clnet__cfg_fail(ctx, CLNET_EPARSE, f->label, line,
                               "'input' is reserved for the network input");
    int j = find_layer(m, name);
    if (j >= 0)
        return clnet__cfg_fail(ctx, CLNET_EPARSE, f->label, line,
                               "duplicate layer name '%s' (first used by the "
                               "layer at line %d)", name, m->layers[j].line);
    return CLNET_OK;
}

/* from=A,B: earlier layers only, so file order is a topological order. */
static clnet_status parse_from(clnet_ctx *ctx, const cfg_file *f,
                               const cfg_key *k, const clnet__model_desc *m,
                               clnet__layer_desc *l)
{
    const char *p = k->value;
    l->n_in = 0;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        size_t n = strcspn(p, ",");
        char name[CLNET__NAME_MAX * 2];
        size_t len = n < sizeof name - 1 ? n : sizeof name - 1;
        memcpy(name, p, len);
        while (len && (name[len - 1] == ' ' || name[len - 1] == '\t'))
            len--;
        name[len] = '\0';
        if (!len)
            return clnet__cfg_fail(ctx, CLNET_EPARSE, f->label, k->line,
                                   "from=%s: empty layer name", k->value);
        if (l->n_in == CLNET__MAX_IN)
            return clnet__cfg_fail(ctx, CLNET_EPARSE, f->label, k->line,
                                   "from=%s: more than %d inputs", k->value,
                                   CLNET__MAX_IN);
        int j = strcmp(name, "input") == 0 ? -1 : find_layer(m, name);
        if (j < 0 && strcmp(name, "input") != 0)
            return clnet__cfg_fail(ctx, CLNET_EPARSE, f->label, k->line,
                                   "from=%s: no earlier layer is named '%s' "
                                   "(a layer may take only the outputs of layers "
                                   "above it, or 'input')", k->value, name);
        l->from[l->n_in++] = j;
        if (!p[n])
            return CLNET_OK;
        p += n + 1;
    }
}

/* Appends NAME_act after a conv/dense with activation=KIND. */
static clnet_status add_activation(clnet_ctx *ctx, const cfg_file *f,
                                   const cfg_key *k, clnet__model_desc *m)
{
    if (strcmp(k->value, "none") == 0 || strcmp(k->value, "linear") == 0)
        return CLNET_OK;
    const clnet__op *op = clnet__op_find(k->value);
    if (!op || !is_activation(kind_of(op)))
        return clnet__cfg_fail(ctx, CLNET_EPARSE, f->label, k->line,
                               "activation=%s: expected relu, leakyrelu, sigmoid, "
                               "tanh, gelu, silu, relu6, hardsigmoid, "
                               "hardswish or none", k->value);
    const clnet__layer_desc *prev = &m->layers[m->n_layers - 1];
    clnet__layer_desc *l = &m->layers[m->n_layers];
    *l = (clnet__layer_desc){.op = op, .kind = kind_of(op), .n_in = 1,
                             .from = {m->n_layers - 1}, .line = prev->line};
    char name[CLNET__NAME_MAX + 8];
    snprintf(name, sizeof name, "%s_act", prev->name);
    clnet_status st = check_name(ctx, f, k->line, m, name);
    if (st != CLNET_OK)
        return st;
    clnet__strlcpy(l->name, name, sizeof l->name);
    if (!op->defaults)
        return clnet__cfg_fail(ctx, CLNET_EUNSUPPORTED, f->label, k->line,
                               "[%s] is not implemented yet in this build",
                               op->name);
    op->defaults(l->params);
    m->n_layers++;
    return CLNET_OK;
}

static clnet_status parse_layer(clnet_ctx *ctx, const cfg_file *f, int si,
                                const clnet__op *op, clnet__model_desc *m)
{
    const cfg_section *s = &f->sections[si];
    if (!op->defaults || !op->set || !op->plan)
        return clnet__cfg_fail(ctx, CLNET_EUNSUPPORTED, f->label, s->line,
                               "[%s] is not implemented yet in this build",
                               op->name);
    if (op->params_size > CLNET__PARAMS_MAX)
        return clnet__cfg_fail(ctx, CLNET_EINTERNAL, f->label, s->line,
                               "[%s] parameters exceed CLNET__PARAMS_MAX", op->name);
    clnet__layer_desc *l = &m->layers[m->n_layers];
    *l = (clnet__layer_desc){.op = op, .kind = kind_of(op), .line = s->line};
    op->defaults(l->params);
    const cfg_key *name = NULL, *from = NULL, *act = NULL;
    for (int i = 0; i < s->n_keys; i++) {
        const cfg_key *k = &f->keys[s->first_key + i];
        if (strcmp(k->key, "name") == 0) {
            name = k;
        } else if (strcmp(k->key, "from") == 0) {
            from = k;
        } else if (strcmp(k->key, "activation") == 0 &&
                   (l->kind == CLNET_OP_CONV || l->kind == CLNET_OP_DENSE)) {
            act = k;
        } else {
            char err[512] = "";
            clnet_status st = op->set(l->params, k->key, k->value, err, sizeof err);
            if (st == CLNET_ENOTFOUND) /* the op's message names the section */
                return clnet__cfg_fail(ctx, CLNET_EPARSE, f->label, k->line,
                                       "%s", err);
            if (st != CLNET_OK)
                return clnet__cfg_fail(ctx, CLNET_EPARSE, f->label, k->line,
                                       "[%s] %s", op->name, err);
        }
    }
    int index = 0; /* default name: section and its count, e.g. conv2 */
    for (int i = 0; i <= si; i++)
        index += strcmp(f->sections[i].name, s->name) == 0;
    char dflt[sizeof s->name + 16];
    snprintf(dflt, sizeof dflt, "%s%d", s->name, index);
    clnet_status st = check_name(ctx, f, name ? name->line : s->line, m,
                                 name ? name->value : dflt);
    clnet__strlcpy(l->name, name ? name->value : dflt, sizeof l->name);
    if (st == CLNET_OK && from) {
        st = parse_from(ctx, f, from, m, l);
    } else if (st == CLNET_OK) {
        l->n_in = 1;
        l->from[0] = m->n_layers - 1; /* previous layer, or -1 = input */
    }
    if (st == CLNET_OK && (l->n_in < op->min_inputs || l->n_in > op->max_inputs))
        st = clnet__cfg_fail(ctx, CLNET_EPARSE, f->label,
                             from ? from->line : s->line,
                             "[%s] '%s' takes %d to %d inputs, got %d (list them "
                             "with from=A,B)", op->name, l->name, op->min_inputs,
                             op->max_inputs, l->n_in);
    if (st != CLNET_OK)
        return st;
    m->n_layers++;
    return act ? add_activation(ctx, f, act, m) : CLNET_OK;
}

clnet__shape clnet__model_input_shape(const clnet__model_desc *m, int layer,
                                      int i)
{
    int j = m->layers[layer].from[i];
    if (j < 0)
        return (clnet__shape){m->batch, m->channels, m->height, m->width};
    return m->layers[j].plan.out;
}

static clnet_status plan_layer(clnet_ctx *ctx, clnet__model_desc *m, int i)
{
    clnet__layer_desc *l = &m->layers[i];
    clnet__shape in[CLNET__MAX_IN];
    for (int k = 0; k < l->n_in; k++)
        in[k] = clnet__model_input_shape(m, i, k);
    char err[512] = "";
    l->plan = (clnet__op_plan){0};
    clnet_status st = l->op->plan(l->params, l->n_in, in, &l->plan, err, sizeof err);
    clnet__shape o = l->plan.out;
    if (st == CLNET_OK && (o.n < 1 || o.c < 1 || o.h < 1 || o.w < 1)) {
        st = CLNET_ESHAPE;
        snprintf(err, sizeof err, "empty output shape [%d,%d,%d,%d]", o.n, o.c,
                 o.h, o.w);
    }
    if (st == CLNET_OK)
        return CLNET_OK;
    /* Name every input with its shape: the op's message may not. */
    char inputs[1024] = "";
    for (int k = 0; k < l->n_in; k++) {
        char s[64];
        size_t used = strlen(inputs);
        snprintf(inputs + used, sizeof inputs - used, "%s%s %s", k ? ", " : "",
                 l->from[k] < 0 ? "input" : m->layers[l->from[k]].name,
                 clnet__shape_str(in[k], s, sizeof s));
    }
    return clnet__cfg_fail(ctx, st == CLNET_EINVAL ? CLNET_EPARSE : st, m->source,
                           l->line, "layer '%s' [%s]: %s (inputs: %s)", l->name,
                           l->op->name, err, inputs);
}

/* Every layer must feed the last one (the logits), which must be
 * [n, classes, 1, 1]. */
static clnet_status check_graph(clnet_ctx *ctx, const clnet__model_desc *m)
{
    int L = m->n_layers;
    char *live = calloc((size_t)L, 1);
    if (!live)
        return clnet__fail(ctx, CLNET_ENOMEM, "%s: out of memory", m->source);
    live[L - 1] = 1;
    for (int i = L - 1; i >= 0; i--)
        for (int k = 0; live[i] && k < m->layers[i].n_in; k++)
            if (m->layers[i].from[k] >= 0)
                live[m->layers[i].from[k]] = 1;
    int dead = 0;
    while (dead < L && live[dead])
        dead++;
    free(live);
    const clnet__layer_desc *last = &m->layers[L - 1];
    if (dead < L)
        return clnet__cfg_fail(ctx, CLNET_EPARSE, m->source, m->layers[dead].line,
                               "layer '%s' has no path to the output (the last "
                               "layer, '%s'): use it in a later from= or remove it",
                               m->layers[dead].name, last->name);
    clnet__shape want = {m->batch, m->classes, 1, 1};
    if (!clnet__shape_eq(last->plan.out, want)) {
        char a[64], b[64];
        return clnet__cfg_fail(ctx, CLNET_ESHAPE, m->source, last->line,
                               "the last layer '%s' gives %s; the logits must be "
                               "%s ([n, classes, 1, 1] with classes=%d)",
                               last->name, clnet__shape_str(last->plan.out, a, sizeof a),
                               clnet__shape_str(want, b, sizeof b), m->classes);
    }
    return CLNET_OK;
}

static clnet_status plan_all(clnet_ctx *ctx, clnet__model_desc *m)
{
    for (int i = 0; i < m->n_layers; i++) {
        clnet_status st = plan_layer(ctx, m, i);
        if (st != CLNET_OK)
            return st;
    }
    return check_graph(ctx, m);
}

static clnet_status unknown_section(clnet_ctx *ctx, const cfg_file *f,
                                    const cfg_section *s)
{
    char known[512] = "net, train";
    for (int k = 0; k < CLNET_OP_COUNT; k++) {
        size_t used = strlen(known);
        snprintf(known + used, sizeof known - used, ", %s",
                 clnet__op_get((clnet__op_kind)k)->name);
    }
    return clnet__cfg_fail(ctx, CLNET_EPARSE, f->label, s->line,
                           "unknown section [%s] (known: %s)", s->name, known);
}

static clnet_status parse_sections(clnet_ctx *ctx, const cfg_file *f,
                                   clnet__model_desc *m)
{
    const cfg_section *net = NULL, *train = NULL;
    clnet_status st = CLNET_OK;
    for (int i = 0; st == CLNET_OK && i < f->n_sections; i++) {
        const cfg_section *s = &f->sections[i];
        const cfg_section **once = strcmp(s->name, "net") == 0     ? &net
                                   : strcmp(s->name, "train") == 0 ? &train
                                                                   : NULL;
        if (once && *once)
            return clnet__cfg_fail(ctx, CLNET_EPARSE, f->label, s->line,
                                   "second [%s] section (the first is at line %d)",
                                   s->name, (*once)->line);
        if (once)
            *once = s;
        if (once == &net)
            st = clnet__cfg_net(ctx, f, s, m);
        else if (once == &train)
            st = clnet__cfg_train(ctx, f, s, &m->train);
        else if (clnet__op_find(s->name))
            st = parse_layer(ctx, f, i, clnet__op_find(s->name), m);
        else
            st = unknown_section(ctx, f, s);
    }
    if (st != CLNET_OK)
        return st;
    if (!net)
        return clnet__cfg_fail(ctx, CLNET_EPARSE, f->label, 1, "%s",
                               f->n_sections ? "no [net] section"
                                             : "no [net] section (no sections at all)");
    if (m->n_layers == 0)
        return clnet__cfg_fail(ctx, CLNET_EPARSE, f->label, net->line,
                               "no layers: add layer sections such as [dense] "
                               "after [net]");
    return CLNET_OK;
}

clnet_status clnet__model_parse(clnet_ctx *ctx, const char *label,
                                const char *text, int batch,
                                clnet__model_desc **out)
{
    CLNET__CHECK_ARG(ctx, out && text && batch >= 0);
    *out = NULL;
    if (!label)
        label = "<model>";
    clnet__model_desc *m = calloc(1, sizeof *m);
    if (!m || !(m->text = strdup(text))) {
        free(m);
        return clnet__fail(ctx, CLNET_ENOMEM, "%s: out of memory", label);
    }
    clnet__strlcpy(m->source, label, sizeof m->source);
    clnet__cfg_train_unset(&m->train);
    cfg_file f;
    clnet_status st = clnet__cfg_lex(ctx, m->source, text, &f);
    if (st == CLNET_OK) {
        /* at most two layers per section: the layer and its activation= */
        m->layers = calloc((size_t)f.n_sections * 2 + 1, sizeof *m->layers);
        st = m->layers ? parse_sections(ctx, &f, m)
                       : clnet__fail(ctx, CLNET_ENOMEM, "%s: out of memory", label);
        clnet__cfg_file_free(&f);
    }
    if (st == CLNET_OK && batch > 0)
        m->batch = batch;
    if (st == CLNET_OK)
        st = plan_all(ctx, m);
    if (st != CLNET_OK) {
        clnet__model_desc_free(m);
        return st;
    }
    *out = m;
    return CLNET_OK;
}

clnet_status clnet__model_load_file(clnet_ctx *ctx, const char *path, int batch,
                                    clnet__model_desc **out)
{
    CLNET__CHECK_ARG(ctx, path && out);
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    clnet_status st = clnet__read_file(ctx, path, &text, &len);
    if (st != CLNET_OK)
        return st;
    if (strlen(text) != len)
        st = clnet__cfg_fail(ctx, CLNET_EPARSE, path, 1,
                             "contains a NUL byte: not a text file");
    else
        st = clnet__model_parse(ctx, path, text, batch, out);
    free(text);
    return st;
}

clnet_status clnet__model_replan(clnet_ctx *ctx, clnet__model_desc *m, int batch)
{
    CLNET__CHECK_ARG(ctx, m && batch > 0);
    int old = m->batch;
    m->batch = batch;
    clnet_status st = plan_all(ctx, m);
    if (st != CLNET_OK) {
        m->batch = old; /* leave the model as it was */
        plan_all(NULL, m);
    }
    return st;
}

void clnet__model_desc_free(clnet__model_desc *m)
{
    if (!m)
        return;
    free(m->layers);
    free(m->text);
    free(m);
}
