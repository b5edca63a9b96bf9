#include "html_check.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image.h>

static int bad(char *why, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    return -1;
}

size_t count_of(const char *s, const char *needle)
{
    size_t n = 0, len = strlen(needle);
    for (const char *p = s; (p = strstr(p, needle)); p += len)
        n++;
    return n;
}

static int utf8_valid(const unsigned char *s)
{
    while (*s) {
        unsigned c = *s++;
        int more = c < 0x80 ? 0 : c >= 0xC2 && c <= 0xDF ? 1 : c >= 0xE0 && c <= 0xEF ? 2
                 : c >= 0xF0 && c <= 0xF4 ? 3 : -1;
        if (more < 0)
            return 0;
        unsigned cp = more ? c & (0x3F >> more) : c;
        for (int i = 0; i < more; i++, s++) {
            if ((*s & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (*s & 0x3F);
        }
        if ((more == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (more == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return 0;
    }
    return 1;
}

static int is_void(const char *name)
{
    static const char *const v[] = {"meta", "img", "br", "hr", "link", "input"};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (!strcmp(name, v[i]))
            return 1;
    return 0;
}

static int entity_ok(const char *p)
{
    static const char *const e[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;"};
    for (size_t i = 0; i < sizeof e / sizeof e[0]; i++)
        if (!strncmp(p, e[i], strlen(e[i])))
            return 1;
    return 0;
}

int html_well_formed(const char *html, char *why, size_t cap)
{
    if (!utf8_valid((const unsigned char *)html))
        return bad(why, cap, "not valid UTF-8");
    char stack[64][16];
    int depth = 0;
    for (const char *p = html; *p; p++) {
        if (*p == '&' && !entity_ok(p))
            return bad(why, cap, "bare '&' at %.30s", p);
        if (*p != '<')
            continue;
        if (!strncmp(p, "<!DOCTYPE", 9)) {
            p = strchr(p, '>');
            if (!p)
                return bad(why, cap, "unclosed doctype");
            continue;
        }
        int closing = p[1] == '/';
        const char *n = p + 1 + closing;
        char name[16];
        size_t len = 0;
        while (isalnum((unsigned char)n[len]) && len < sizeof name - 1) {
            name[len] = (char)tolower((unsigned char)n[len]);
            len++;
        }
        name[len] = '\0';
        if (!len)
            return bad(why, cap, "stray '<' at %.30s", p);
        if (!strcmp(name, "script"))
            return bad(why, cap, "a <script> element");
        /* To the tag's '>', outside quoted attribute values. */
        const char *q = n + len;
        for (int quoted = 0; *q && (quoted || *q != '>'); q++) {
            if (*q == '"')
                quoted = !quoted;
            else if (*q == '<')
                return bad(why, cap, "'<' inside the tag at %.30s", p);
            else if (*q == '&' && !entity_ok(q))
                return bad(why, cap, "bare '&' in the tag at %.30s", p);
        }
        if (!*q)
            return bad(why, cap, "unterminated tag <%s", name);
        if (closing) {
            if (!depth || strcmp(stack[depth - 1], name))
                return bad(why, cap, "</%s> closes <%s>", name, depth ? stack[depth - 1] : "");
            depth--;
        } else if (q[-1] != '/' && !is_void(name)) {
            if (depth == 64)
                return bad(why, cap, "nested too deep");
            strcpy(stack[depth++], name);
            if (!strcmp(name, "style")) {
                q = strstr(q, "</style>");
                if (!q || memchr(p, '&', (size_t)(q - p)))
                    return bad(why, cap, "bad <style>");
                q--;
            }
        }
        p = q;
    }
    return depth ? bad(why, cap, "<%s> never closed", stack[depth - 1]) : 0;
}

static int b64(int c)
{
    const char *t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c ? strchr(t, c) : NULL;
    return p ? (int)(p - t) : -1;
}

/* Decodes the base64 text up to the closing quote; NULL when it is not
 * canonical base64 (length, alphabet, padding). */
static unsigned char *unbase64(const char *s, size_t *n)
{
    size_t len = strcspn(s, "\"");
    if (len % 4)
        return NULL;
    unsigned char *out = malloc(len / 4 * 3 + 1);
    size_t o = 0;
    for (size_t i = 0; out && i < len; i += 4) {
        int pad = (s[i + 2] == '=') + (s[i + 3] == '=');
        int v[4] = {b64(s[i]), b64(s[i + 1]), pad == 2 ? 0 : b64(s[i + 2]),
                    pad ? 0 : b64(s[i + 3])};
        if (v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0 || (pad && i + 4 != len) ||
            (pad == 1 && s[i + 2] == '=')) {
            free(out);
            return NULL;
        }
        unsigned x = (unsigned)(v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3]);
        out[o++] = (unsigned char)(x >> 16);
        if (pad < 2)
            out[o++] = (unsigned char)(x >> 8);
        if (pad < 1)
            out[o++] = (unsigned char)x;
    }
    *n = o;
    return out;
}

int html_images(const char *html, int *count, char *why, size_t cap)
{
    static const char prefix[] = "src=\"data:image/png;base64,";
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    *count = 0;
    for (const char *p = html; (p = strstr(p, "<img")); p++) {
        const char *end = strchr(p, '>'), *src = strstr(p, prefix);
        if (!end || !src || src > end)
            return bad(why, cap, "<img> without a PNG data URI: %.60s", p);
        size_t n = 0;
        unsigned char *png = unbase64(src + sizeof prefix - 1, &n);
        if (!png)
            return bad(why, cap, "invalid base64 in image %d", *count);
        int w = 0, h = 0, c = 0;
        int ok = n > 8 && !memcmp(png, sig, 8);
        unsigned char *px = ok ? stbi_load_from_memory(png, (int)n, &w, &h, &c, 0) : NULL;
        free(png);
        stbi_image_free(px);
        if (!px)
            return bad(why, cap, "image %d is not a readable PNG", *count);
        ++*count;
    }
    return 0;
}

unsigned char *html_image_pixels(const char *html, int i, int *w, int *h, int *c)
{
    static const char prefix[] = "src=\"data:image/png;base64,";
    const char *p = html;
    for (int k = 0; p && k <= i; k++)
        if ((p = strstr(p, "<img")))
            p += 4;
    const char *src = p ? strstr(p, prefix) : NULL;
    size_t n = 0;
    unsigned char *png = src ? unbase64(src + sizeof prefix - 1, &n) : NULL;
    unsigned char *px = png ? stbi_load_from_memory(png, (int)n, w, h, c, 0) : NULL;
    free(png);
    unsigned char *out = px ? malloc((size_t)*w * *h * *c) : NULL;
    if (out)
        memcpy(out, px, (size_t)*w * *h * *c);
    stbi_image_free(px);
    return out;
}

static int field_ok(const char *f, size_t len)
{
    if (!len)
        return 1;
    char buf[64], *end;
    if (len >= sizeof buf)
        return 0;
    memcpy(buf, f, len);
    buf[len] = '\0';
    strtod(buf, &end);
    return *end == '\0';
}

int csv_check(const char *csv, size_t rows, char *why, size_t cap)
{
    static const char header[] =
        "kind,epoch,step,loss,acc,lr,val_loss,val_top1,val_top5,seconds,images_per_s\n";
    if (strncmp(csv, header, sizeof header - 1))
        return bad(why, cap, "header: %.80s", csv);
    size_t row = 0;
    for (const char *p = csv + sizeof header - 1; *p; row++) {
        const char *eol = strchr(p, '\n');
        if (!eol)
            return bad(why, cap, "row %zu has no newline", row + 1);
        if (strncmp(p, "step,", 5) && strncmp(p, "epoch,", 6))
            return bad(why, cap, "row %zu kind: %.20s", row + 1, p);
        int fields = 1;
        for (const char *f = strchr(p, ',') + 1;; fields++) {
            const char *e = memchr(f, ',', (size_t)(eol - f));
            if (!field_ok(f, (size_t)((e ? e : eol) - f)))
                return bad(why, cap, "row %zu field %d is not a number", row + 1, fields + 1);
            if (!e)
                break;
            f = e + 1;
        }
        if (fields + 1 != 11)
            return bad(why, cap, "row %zu has %d fields", row + 1, fields + 1);
        p = eol + 1;
    }
    return row == rows ? 0 : bad(why, cap, "%zu rows, want %zu", row, rows);
}
