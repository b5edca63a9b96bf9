/* A model file's text with another input size or class count
 * (clnet_model_settings channels/height/width/classes): the [net] keys are
 * rewritten, and for the class count so is the width of the layer that makes
 * the logits. Working on the text, not the parsed description, keeps one
 * truth: the new text is what gets parsed, checked with the usual messages,
 * and stored in checkpoints (so a resumed run builds the same network). */
#include "io/cfg_override.h"

#include "io/cfg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The layer whose output count is the class count: from the last layer back
 * through single-input layers without a width of their own (activations,
 * dropout, pooling, flatten, batchnorm) to a dense or conv. */
static clnet_status find_head(clnet_ctx *ctx, const char *label,
                              const clnet__model_desc *d, int *line, const char **key)
{
    int i = d->n_layers - 1;
    while (i >= 0) {
        const clnet__layer_desc *l = &d->layers[i];
        if (strcmp(l->op->name, "dense") == 0 || strcmp(l->op->name, "conv") == 0) {
            *line = l->line;
            *key = l->op->name[0] == 'd' ? "outputs" : "filters";
            return CLNET_OK;
        }
        if (l->n_in != 1 || l->from[0] < 0)
            return clnet__fail(ctx, CLNET_EINVAL,
                               "%s: the class count cannot be changed: the logits come "
                               "from layer '%s' (%s), not from one dense or conv layer; "
                               "edit the model file's [net] classes and that layer",
                               label, l->name, l->op->name);
        i = l->from[0];
    }
    return clnet__fail(ctx, CLNET_EINVAL, "%s: no layers", label);
}

/* The key of section s named key, or NULL. */
static const cfg_key *section_key(const cfg_file *f, const cfg_section *s,
                                  const char *key)
{
    for (int k = s->first_key; k < s->first_key + s->n_keys; k++)
        if (strcmp(f->keys[k].key, key) == 0)
            return &f->keys[k];
    return NULL;
}

typedef struct edit {
    int line;        /* replace this line (1-based); or insert after it */
    int insert;
    char text[96];   /* "key=value" */
} edit;

static int add_edit(edit *e, int *n, int line, int insert, const char *key, int value)
{
    e[*n].line = line;
    e[*n].insert = insert;
    snprintf(e[*n].text, sizeof e[*n].text, "%s=%d", key, value);
    (*n)++;
    return 1;
}

/* Writes text with the edits applied into a new string. */
static char *apply_edits(const char *text, const edit *e, int n)
{
    size_t cap = strlen(text) + (size_t)n * (sizeof e->text + 2) + 1;
    char *out = malloc(cap), *w = out;
    if (!out)
        return NULL;
    int line = 1;
    for (const char *p = text; *p; line++) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) + 1 : strlen(p);
        const edit *rep = NULL;
        for (int i = 0; i < n; i++)
            if (e[i].line == line && !e[i].insert)
                rep = &e[i];
        if (rep)
            w += sprintf(w, "%s\n", rep->text);
        else {
            memcpy(w, p, len);
            w += len;
            if (!eol)
                *w++ = '\n';
        }
        for (int i = 0; i < n; i++)
            if (e[i].line == line && e[i].insert)
                w += sprintf(w, "%s\n", e[i].text);
        p += len;
    }
    *w = '\0';
    return out;
}

clnet_status clnet__cfg_override(clnet_ctx *ctx, const char *label, const char *text,
                                 const clnet__cfg_overrides *o, char **out)
{
    *out = NULL;
    static const char *const net_keys[4] = {"channels", "height", "width", "classes"};
    const int values[4] = {o->channels, o->height, o->width, o->classes};
    for (int i = 0; i < 4; i++)
        if (values[i] < 0 || values[i] > 1 << 20)
            return clnet__fail(ctx, CLNET_EINVAL, "%s %d is out of range", net_keys[i],
                               values[i]);
    cfg_file f;
    clnet_status st = clnet__cfg_lex(ctx, label, text, &f);
    if (st != CLNET_OK)
        return st;
    edit e[5];
    int n = 0;
    const cfg_section *net = NULL;
    for (int s = 0; s < f.n_sections && !net; s++)
        if (strcmp(f.sections[s].name, "net") == 0)
            net = &f.sections[s];
    if (!net)
        st = clnet__fail(ctx, CLNET_EPARSE, "%s: no [net] section", label);
    for (int i = 0; st == CLNET_OK && i < 4; i++) {
        if (!values[i])
            continue;
        const cfg_key *k = section_key(&f, net, net_keys[i]);
        add_edit(e, &n, k ? k->line : net->line, !k, net_keys[i], values[i]);
    }
    if (st == CLNET_OK && o->classes) {
        clnet__model_desc *d = NULL;
        int line = 0;
        const char *key = NULL;
        st = clnet__model_parse(ctx, label, text, 1, &d);
        if (st == CLNET_OK)
            st = find_head(ctx, label, d, &line, &key);
        clnet__model_desc_free(d);
        const cfg_section *head = NULL;
        for (int s = 0; st == CLNET_OK && s < f.n_sections; s++)
            if (f.sections[s].line == line)
                head = &f.sections[s];
        if (st == CLNET_OK && head) {
            const cfg_key *k = section_key(&f, head, key);
            add_edit(e, &n, k ? k->line : head->line, !k, key, o->classes);
        }
    }
    clnet__cfg_file_free(&f);
    if (st == CLNET_OK && !(*out = apply_edits(text, e, n)))
        st = clnet__fail(ctx, CLNET_ENOMEM, "out of host memory");
    return st;
}
