/* Model-file text -> sections and keys with line numbers, through inih.
 *
 * inih reports a repeated [conv] under the same section name and never calls
 * the handler for a section without keys (Debian's build has neither
 * INI_CALL_HANDLER_ON_NEW_SECTION nor INI_HANDLER_LINENO). So inih reads the
 * text through our own reader, which hands it one line per call: the reader
 * knows the current line number and sees every section header, and the
 * handler files each key under the latest header. The reader also strips
 * leading blanks, which turns off inih's multi-line values: otherwise an
 * indented "[conv]" after a key would silently continue that key's value. */
#include "io/cfg_internal.h"

#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct lexer {
    clnet_ctx *ctx;
    cfg_file *f;
    const char *p;       /* next unread character */
    int line;            /* line last handed to inih */
    int cap_sections, cap_keys;
    clnet_status st;     /* first error found here (inih's are separate) */
    int err_line;
} lexer;

static int lex_error(lexer *lx, clnet_status st, const char *fmt, ...)
    CLNET__PRINTF(3, 4);

static int lex_error(lexer *lx, clnet_status st, const char *fmt, ...)
{
    if (lx->st != CLNET_OK)
        return 0;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lx->st = clnet__cfg_fail(lx->ctx, st, lx->f->label, lx->line, "%s", msg);
    lx->err_line = lx->line;
    return 0;
}

static int grow(lexer *lx, void **arr, int *cap, int n, size_t elem)
{
    if (n < *cap)
        return 1;
    int ncap = *cap ? *cap * 2 : 16;
    void *na = realloc(*arr, (size_t)ncap * elem);
    if (!na)
        return lex_error(lx, CLNET_ENOMEM, "out of memory");
    *arr = na;
    *cap = ncap;
    return 1;
}

static void add_section(lexer *lx, const char *start, size_t len)
{
    cfg_file *f = lx->f;
    if (!grow(lx, (void **)&f->sections, &lx->cap_sections, f->n_sections,
              sizeof *f->sections))
        return;
    const char *close = memchr(start, ']', len);
    size_t n = close ? (size_t)(close - start) : len;
    while (n && (*start == ' ' || *start == '\t')) /* "[ conv ]" == "[conv]" */
        start++, n--;
    while (n && (start[n - 1] == ' ' || start[n - 1] == '\t'))
        n--;
    cfg_section *s = &f->sections[f->n_sections++];
    *s = (cfg_section){.line = lx->line, .first_key = f->n_keys};
    if (n >= sizeof s->name)
        n = sizeof s->name - 1;
    memcpy(s->name, start, n);
    s->name[n] = '\0';
}

/* fgets-like: one line of the text per call, leading blanks removed. */
static char *lex_reader(char *str, int num, void *stream)
{
    lexer *lx = stream;
    if (!*lx->p || lx->st != CLNET_OK)
        return NULL;
    const char *start = lx->p;
    const char *nl = strchr(start, '\n');
    size_t len = nl ? (size_t)(nl - start) : strlen(start);
    lx->p = nl ? nl + 1 : start + len;
    lx->line++;
    if (lx->line == 1 && len >= 3 && memcmp(start, "\xEF\xBB\xBF", 3) == 0)
        start += 3, len -= 3; /* UTF-8 byte-order mark */
    while (len && (*start == ' ' || *start == '\t'))
        start++, len--;
    if (len + 2 > (size_t)num) {
        lex_error(lx, CLNET_EPARSE, "line too long (at most %d characters)",
                  num - 2);
        return NULL;
    }
    if (len && *start == '[')
        add_section(lx, start + 1, len - 1);
    memcpy(str, start, len);
    str[len] = '\n';
    str[len + 1] = '\0';
    return str;
}

static int lex_handler(void *user, const char *section, const char *name,
                       const char *value)
{
    lexer *lx = user;
    cfg_file *f = lx->f;
    (void)section; /* ours is more precise: see the top of this file */
    if (lx->st != CLNET_OK)
        return 0;
    if (f->n_sections == 0)
        return lex_error(lx, CLNET_EPARSE,
                         "key '%s' before any [section] (expected [net] first)",
                         name);
    cfg_section *s = &f->sections[f->n_sections - 1];
    for (int i = s->first_key; i < f->n_keys; i++)
        if (strcmp(f->keys[i].key, name) == 0)
            return lex_error(lx, CLNET_EPARSE,
                             "key '%s' given twice in [%s] (first at line %d)",
                             name, s->name, f->keys[i].line);
    if (strlen(name) >= sizeof f->keys[0].key)
        return lex_error(lx, CLNET_EPARSE, "key '%.40s...' too long", name);
    if (!grow(lx, (void **)&f->keys, &lx->cap_keys, f->n_keys, sizeof *f->keys))
        return 0;
    cfg_key *k = &f->keys[f->n_keys++];
    k->line = lx->line;
    clnet__strlcpy(k->key, name, sizeof k->key);
    clnet__strlcpy(k->value, value, sizeof k->value);
    s->n_keys++;
    return 1;
}

clnet_status clnet__cfg_lex(clnet_ctx *ctx, const char *label, const char *text,
                            cfg_file *f)
{
    *f = (cfg_file){.label = label};
    lexer lx = {.ctx = ctx, .f = f, .p = text, .st = CLNET_OK};
    int rc = ini_parse_stream(lex_reader, &lx, lex_handler, &lx);
    if (rc > 0 && (lx.st == CLNET_OK || rc < lx.err_line)) {
        lx.line = rc;
        lx.st = CLNET_OK;
        lex_error(&lx, CLNET_EPARSE,
                  "syntax error: expected [section], key=value or a comment");
    } else if (rc < 0 && lx.st == CLNET_OK) {
        lex_error(&lx, CLNET_ENOMEM, "out of memory");
    }
    if (lx.st != CLNET_OK)
        clnet__cfg_file_free(f);
    return lx.st;
}

void clnet__cfg_file_free(cfg_file *f)
{
    free(f->sections);
    free(f->keys);
    f->sections = NULL;
    f->keys = NULL;
    f->n_sections = f->n_keys = 0;
}

clnet_status clnet__cfg_fail(clnet_ctx *ctx, clnet_status st, const char *label,
                             int line, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return clnet__fail(ctx, st, "%s:%d: %s", label, line, msg);
}
