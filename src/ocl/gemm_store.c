/* The GEMM tuning file, <cache dir>/gemm-<16 hex digits>.txt:
 *
 *   clnet-gemm 1
 *   <ta> <tb> <log2 m> <log2 n> <log2 k> <batched> <variant name>
 *   ...
 *   clblast Xgemm <NAME>=<value> ...      (at most one: CLBlast's tuned
 *                                          parameters for the device)
 *   end <XXH3-64 of every byte before this line, 16 hex digits>
 *
 * Text so a person can read and delete lines; the checksum and strict
 * parsing mean a truncated or edited-wrong file is ignored as a whole, never
 * half-trusted. Written to a temp file in the same directory, then renamed. */
#include "ocl/gemm_tune.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#define STORE_MAGIC "clnet-gemm 1\n"
#define STORE_MAX_BYTES (1 << 20)

static void hash_str(XXH3_state_t *h, const char *s)
{
    uint64_t n = s ? strlen(s) : 0;
    XXH3_64bits_update(h, &n, sizeof n); /* lengths keep fields apart */
    if (n)
        XXH3_64bits_update(h, s, (size_t)n);
}

void clnet__gemm_store_path(clnet_ctx *ctx, struct clnet__gemm_state *s)
{
    s->path[0] = '\0';
    if (!ctx->ocl.cache_enabled)
        return;
    char *src = NULL;
    if (clnet__program_source(ctx, "gemm", &src) != CLNET_OK) {
        clnet__clear_error(ctx);
        return;
    }
    XXH3_state_t *h = XXH3_createState();
    if (h) {
        const clnet_device_desc *d = &ctx->ocl.desc;
        XXH3_64bits_reset(h);
        hash_str(h, d->platform_version);
        hash_str(h, d->name);
        hash_str(h, d->driver_version);
        hash_str(h, clnet_version());
        hash_str(h, src);
        snprintf(s->path, sizeof s->path, "%s/gemm-%016llx.txt",
                 ctx->ocl.cache_dir, (unsigned long long)XXH3_64bits_digest(h));
        XXH3_freeState(h);
    }
    free(src);
}

/* Parses one entry line (without its newline); 0 when malformed. */
static int parse_line(const char *line, clnet__gemm_entry *out)
{
    unsigned v[6];
    char name[64];
    int used = 0;
    if (sscanf(line, "%u %u %u %u %u %u %63s%n", &v[0], &v[1], &v[2], &v[3],
               &v[4], &v[5], name, &used) != 7 ||
        line[used] != '\0')
        return 0;
    if (v[0] > 1 || v[1] > 1 || v[2] > 63 || v[3] > 63 || v[4] > 63 || v[5] > 3)
        return 0;
    int vi = clnet__gemm_find(name);
    if (vi < 0)
        return 0;
    out->key = (clnet__gemm_key){(unsigned char)v[0], (unsigned char)v[1],
                                 (unsigned char)v[2], (unsigned char)v[3],
                                 (unsigned char)v[4], (unsigned char)v[5]};
    out->variant = vi;
    return 1;
}

int clnet__gemm_state_add(struct clnet__gemm_state *s, const clnet__gemm_entry *e)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        clnet__gemm_entry *ne = realloc(s->e, cap * sizeof *ne);
        if (!ne)
            return 0;
        s->e = ne;
        s->cap = cap;
    }
    s->e[s->n++] = *e;
    return 1;
}

/* Checks magic and checksum, then parses every line; returns a reason on
 * failure. Entries are added only when the whole text is valid. */
static const char *parse_text(char *text, size_t len, struct clnet__gemm_state *s)
{
    size_t ml = strlen(STORE_MAGIC);
    if (len < ml || memcmp(text, STORE_MAGIC, ml) != 0)
        return "bad magic";
    if (len < 2 || text[len - 1] != '\n')
        return "truncated";
    text[len - 1] = '\0';
    char *end = strrchr(text, '\n');
    if (!end)
        return "no checksum line";
    unsigned long long want = 0;
    int used = 0;
    if (sscanf(end + 1, "end %16llx%n", &want, &used) != 1 || end[1 + used])
        return "bad checksum line";
    if (XXH3_64bits(text, (size_t)(end + 1 - text)) != (XXH64_hash_t)want)
        return "checksum mismatch";
    end[1] = '\0'; /* the entries are the lines between magic and "end" */
    clnet__gemm_entry tmp[256];
    size_t n = 0;
    const char *clblast = NULL;
    static const char tag[] = "clblast Xgemm ";
    for (char *line = text + ml, *next; *line; line = next) {
        char *nl = strchr(line, '\n');
        next = nl ? nl + 1 : line + strlen(line);
        if (nl)
            *nl = '\0';
        if (strncmp(line, tag, sizeof tag - 1) == 0) {
            const char *params = line + sizeof tag - 1;
            if (clblast || strlen(params) >= sizeof s->clblast_xgemm ||
                !clnet__clblast_params_valid(params))
                return "malformed CLBlast parameters";
            clblast = params;
            continue;
        }
        if (n == sizeof tmp / sizeof tmp[0] || !parse_line(line, &tmp[n++]))
            return "malformed entry";
    }
    for (size_t i = 0; i < n; i++)
        if (!clnet__gemm_state_add(s, &tmp[i]))
            return "out of memory";
    if (clblast)
        clnet__strlcpy(s->clblast_xgemm, clblast, sizeof s->clblast_xgemm);
    return NULL;
}

void clnet__gemm_store_load(clnet_ctx *ctx, struct clnet__gemm_state *s)
{
    if (!s->path[0])
        return;
    FILE *f = fopen(s->path, "rb");
    if (!f)
        return; /* not tuned yet */
    char *text = malloc(STORE_MAX_BYTES + 1);
    size_t len = text ? fread(text, 1, STORE_MAX_BYTES + 1, f) : 0;
    fclose(f);
    const char *why = !text ? "out of memory"
                      : len > STORE_MAX_BYTES ? "too large"
                                              : parse_text(text, len, s);
    if (why)
        clnet__log(ctx, CLNET_LOG_WARN, "ignoring GEMM tuning file %s: %s",
                   s->path, why);
    free(text);
}

void clnet__gemm_store_save(clnet_ctx *ctx, const struct clnet__gemm_state *s)
{
    if (!s->path[0])
        return;
    size_t cap = 64 + s->n * 96 + sizeof s->clblast_xgemm + 32, len = 0;
    char *text = malloc(cap);
    if (!text)
        return;
    len += (size_t)snprintf(text, cap, "%s", STORE_MAGIC);
    for (size_t i = 0; i < s->n; i++) {
        const clnet__gemm_key *k = &s->e[i].key;
        len += (size_t)snprintf(text + len, cap - len, "%u %u %u %u %u %u %s\n",
                                k->ta, k->tb, k->lm, k->ln, k->lk, k->batched,
                                clnet__gemm_variants[s->e[i].variant].name);
    }
    if (s->clblast_xgemm[0])
        len += (size_t)snprintf(text + len, cap - len, "clblast Xgemm %s\n",
                                s->clblast_xgemm);
    len += (size_t)snprintf(text + len, cap - len, "end %016llx\n",
                            (unsigned long long)XXH3_64bits(text, len));
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", s->path);
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    int ok = f && fwrite(text, 1, len, f) == len && fflush(f) == 0 &&
             fsync(fd) == 0;
    if (f)
        ok = fclose(f) == 0 && ok;
    else if (fd >= 0)
        close(fd);
    if (fd >= 0 && (!ok || rename(tmp, s->path) != 0)) {
        unlink(tmp);
        ok = 0;
    }
    if (!ok)
        clnet__log(ctx, CLNET_LOG_WARN, "cannot write GEMM tuning file %s: %s",
                   s->path, strerror(errno));
    free(text);
}
