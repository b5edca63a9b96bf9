/* Private to the model-file parser (io/cfg*.c): the file split into sections
 * and keys with their line numbers, and the helpers that turn them into a
 * clnet__model_desc. */
#ifndef CLNET_CFG_INTERNAL_H
#define CLNET_CFG_INTERNAL_H

#include "core/core.h"
#include "io/model_desc.h"

typedef struct cfg_key {
    int line;
    char key[64];
    char value[200];
} cfg_key;

/* One section header occurrence: repeated [conv] headers are separate. */
typedef struct cfg_section {
    int line;
    char name[64];
    int first_key, n_keys; /* keys of a section are contiguous in cfg_file */
} cfg_section;

typedef struct cfg_file {
    const char *label;
    cfg_section *sections;
    int n_sections;
    cfg_key *keys;
    int n_keys;
} cfg_file;

/* Splits text into sections and keys through inih. Syntax errors (a line
 * that is neither [section], key=value nor a comment; a key before any
 * section; a key given twice in one section; an over-long line) fail with
 * "LABEL:LINE: ...". */
clnet_status clnet__cfg_lex(clnet_ctx *ctx, const char *label, const char *text,
                            cfg_file *f);
void clnet__cfg_file_free(cfg_file *f);

/* "LABEL:LINE: message" into the context's error; returns st. */
clnet_status clnet__cfg_fail(clnet_ctx *ctx, clnet_status st, const char *label,
                             int line, const char *fmt, ...) CLNET__PRINTF(5, 6);

/* [net] and [train] (cfg_net.c). */
clnet_status clnet__cfg_net(clnet_ctx *ctx, const cfg_file *f,
                            const cfg_section *s, clnet__model_desc *m);
clnet_status clnet__cfg_train(clnet_ctx *ctx, const cfg_file *f,
                              const cfg_section *s, clnet__train_desc *t);
void clnet__cfg_train_unset(clnet__train_desc *t);

#endif
