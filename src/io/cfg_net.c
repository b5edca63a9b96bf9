/* The [net] and [train] sections: one table of keys each, so a new key is
 * one line (its type, range and place in the struct). */
#include "io/cfg_internal.h"
#include "ops/op_util.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

typedef enum { K_INT, K_FLOAT, K_BOOL, K_CHOICE, K_LIST } key_type;

typedef struct key_spec {
    const char *key;
    key_type type;
    size_t offset, size; /* size: capacity of string fields */
    double min, max;     /* inclusive for numbers */
    int below_max;       /* max itself is excluded, e.g. momentum < 1 */
    const char *choices; /* K_CHOICE: "|"-separated */
    int required;
} key_spec;

#define NET(k, req)                                                         \
    {.key = #k, .type = K_INT, .offset = offsetof(clnet__model_desc, k),    \
     .min = 1, .max = 1 << 24, .required = req}
static const key_spec net_keys[] = {
    NET(channels, 1), NET(height, 1), NET(width, 1), NET(classes, 1),
    NET(batch, 0),
    {.key = "recompute", .type = K_BOOL, .offset = offsetof(clnet__model_desc, recompute),
     .min = 0, .max = 1},
    {0},
};
#undef NET

#define OFF(f) .offset = offsetof(clnet__train_desc, f)
#define NUM(k, t, f, lo, hi, below) {.key = k, .type = t, OFF(f), .min = lo, .max = hi, .below_max = below}
#define STR(k, t, f, ch) {.key = k, .type = t, OFF(f), .size = sizeof(((clnet__train_desc *)0)->f), .choices = ch}
static const key_spec train_keys[] = {
    STR("optimizer", K_CHOICE, optimizer, "sgd|adam|adamw"),
    NUM("lr", K_FLOAT, lr, 0, 1e3, 0),
    NUM("momentum", K_FLOAT, momentum, 0, 1, 1),
    NUM("nesterov", K_BOOL, nesterov, 0, 1, 0),
    NUM("weight_decay", K_FLOAT, weight_decay, 0, 1, 0),
    STR("schedule", K_CHOICE, schedule, "constant|step|cosine|onecycle"),
    NUM("warmup", K_INT, warmup_epochs, 0, 1e6, 0),
    NUM("epochs", K_INT, epochs, 1, 1e6, 0),
    NUM("step", K_INT, step_epochs, 1, 1e6, 0),
    NUM("gamma", K_FLOAT, gamma, 0, 1, 0),
    /* the data loader's CLNET_AUG_* flags (include/clnet/data.h) */
    STR("augment", K_LIST, augment, "none|flip|crop|resized_crop"),
    NUM("label_smoothing", K_FLOAT, label_smoothing, 0, 1, 1),
    NUM("clip_norm", K_FLOAT, clip_norm, 0, 1e9, 0),
    NUM("beta1", K_FLOAT, beta1, 0, 1, 1),
    NUM("beta2", K_FLOAT, beta2, 0, 1, 1),
    NUM("eps", K_FLOAT, adam_eps, 0, 1, 0),
    {0},
};
#undef STR
#undef NUM
#undef OFF

static int in_choices(const char *choices, const char *v)
{
    size_t n = strlen(v);
    for (const char *c = choices; n && *c;) {
        const char *bar = strchr(c, '|');
        size_t len = bar ? (size_t)(bar - c) : strlen(c);
        if (len == n && strncmp(c, v, n) == 0)
            return 1;
        c += len + (bar != NULL);
    }
    return 0;
}

/* "flip,crop": each comma-separated name one of choices. */
static int valid_list(const char *choices, const char *v)
{
    char item[64];
    for (;;) {
        size_t n = strcspn(v, ",");
        if (!n || n >= sizeof item)
            return 0;
        memcpy(item, v, n);
        item[n] = '\0';
        if (!in_choices(choices, item))
            return 0;
        if (!v[n])
            return 1;
        v += n + 1;
    }
}

static clnet_status set_key(const key_spec *ks, const char *value, void *obj,
                            char *err, size_t errlen)
{
    char *field = (char *)obj + ks->offset;
    clnet_status st = CLNET_OK;
    float f = 0;
    switch (ks->type) {
    case K_INT:
        return clnet__parse_int(ks->key, value, (int)ks->min, (int)ks->max,
                                (int *)(void *)field, err, errlen);
    case K_BOOL:
        return clnet__parse_bool(ks->key, value, (int *)(void *)field, err, errlen);
    case K_FLOAT:
        st = clnet__parse_float(ks->key, value, (float)ks->min, (float)ks->max,
                                &f, err, errlen);
        if (st == CLNET_OK && ks->below_max && f >= (float)ks->max)
            st = clnet__op_error(err, errlen, CLNET_EPARSE,
                                 "%s=%s: must be below %g", ks->key, value, ks->max);
        if (st == CLNET_OK)
            memcpy(field, &f, sizeof f);
        return st;
    case K_CHOICE:
        if (!in_choices(ks->choices, value))
            return clnet__op_error(err, errlen, CLNET_EPARSE,
                                   "%s=%s: expected one of %s", ks->key, value,
                                   ks->choices);
        break;
    case K_LIST:
        if (!valid_list(ks->choices, value) || strlen(value) >= ks->size)
            return clnet__op_error(err, errlen, CLNET_EPARSE,
                                   "%s=%s: expected a comma-separated list of %s",
                                   ks->key, value, ks->choices);
        break;
    }
    clnet__strlcpy(field, value, ks->size);
    return CLNET_OK;
}

static clnet_status apply_keys(clnet_ctx *ctx, const cfg_file *f,
                               const cfg_section *s, const key_spec *table,
                               void *obj)
{
    int given[32] = {0};
    for (int i = 0; i < s->n_keys; i++) {
        const cfg_key *k = &f->keys[s->first_key + i];
        int j = 0;
        while (table[j].key && strcmp(table[j].key, k->key) != 0)
            j++;
        if (!table[j].key) {
            char known[256] = "";
            for (int q = 0; table[q].key; q++)
                snprintf(known + strlen(known), sizeof known - strlen(known),
                         "%s%s", q ? ", " : "", table[q].key);
            return clnet__cfg_fail(ctx, CLNET_EPARSE, f->label, k->line,
                                   "unknown key '%s' in [%s] (known: %s)", k->key,
                                   s->name, known);
        }
        char err[256];
        if (set_key(&table[j], k->value, obj, err, sizeof err) != CLNET_OK)
            return clnet__cfg_fail(ctx, CLNET_EPARSE, f->label, k->line,
                                   "[%s] %s", s->name, err);
        given[j] = 1;
    }
    for (int j = 0; table[j].key; j++)
        if (table[j].required && !given[j])
            return clnet__cfg_fail(ctx, CLNET_EPARSE, f->label, s->line,
                                   "[%s] is missing %s=", s->name, table[j].key);
    return CLNET_OK;
}

clnet_status clnet__cfg_net(clnet_ctx *ctx, const cfg_file *f,
                            const cfg_section *s, clnet__model_desc *m)
{
    m->batch = 32; /* when [net] has no batch= */
    return apply_keys(ctx, f, s, net_keys, m);
}

void clnet__cfg_train_unset(clnet__train_desc *t)
{
    *t = (clnet__train_desc){
        .lr = -1, .momentum = -1, .weight_decay = -1, .label_smoothing = -1,
        .clip_norm = -1, .nesterov = -1, .warmup_epochs = -1, .epochs = -1,
        .step_epochs = -1, .gamma = -1, .beta1 = -1, .beta2 = -1, .adam_eps = -1,
    };
}

clnet_status clnet__cfg_train(clnet_ctx *ctx, const cfg_file *f,
                              const cfg_section *s, clnet__train_desc *t)
{
    return apply_keys(ctx, f, s, train_keys, t);
}
