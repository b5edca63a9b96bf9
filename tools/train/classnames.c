/* Class names in and out of checkpoint metadata (see classnames.h). */
#include "classnames.h"

#include "train/safetensors_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The name with every byte that does not start a valid UTF-8 sequence
 * replaced by U+FFFD; *changed set when one was. */
static char *shown_name(const char *s, int *changed)
{
    size_t len = strlen(s);
    char *out = malloc(3 * len + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len;) {
        size_t k = 1;
        while (k <= 4 && (i + k > len || !clnet__st_utf8_ok(s + i, k)))
            k++;
        if (k <= 4) {
            memcpy(o, s + i, k);
            o += k;
            i += k;
        } else {
            memcpy(o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
            *changed = 1;
        }
    }
    *o = '\0';
    return out;
}

void class_names_to_json(const char *const *names, int n, char **shown, char **hex)
{
    *shown = *hex = NULL;
    cJSON *a = cJSON_CreateArray(), *h = cJSON_CreateArray();
    int ok = a && h, changed = 0;
    for (int c = 0; ok && c < n; c++) {
        char *s = shown_name(names[c], &changed);
        size_t len = strlen(names[c]);
        char *x = malloc(2 * len + 1);
        for (size_t i = 0; x && i < len; i++)
            snprintf(x + 2 * i, 3, "%02x", (unsigned char)names[c][i]);
        if (x)
            x[2 * len] = '\0';
        ok = s && x && cJSON_AddItemToArray(a, cJSON_CreateString(s)) &&
             cJSON_AddItemToArray(h, cJSON_CreateString(x));
        free(s);
        free(x);
    }
    if (ok) {
        *shown = cJSON_PrintUnformatted(a);
        *hex = changed ? cJSON_PrintUnformatted(h) : NULL;
        if (!*shown || (changed && !*hex)) {
            free(*shown);
            free(*hex);
            *shown = *hex = NULL;
        }
    }
    cJSON_Delete(a);
    cJSON_Delete(h);
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A malloc'd string from hex digits, or NULL when they are not. */
static char *from_hex(const char *x)
{
    size_t len = strlen(x);
    char *out = len % 2 ? NULL : malloc(len / 2 + 1);
    for (size_t i = 0; out && i < len / 2; i++) {
        int hi = hex_digit(x[2 * i]), lo = hex_digit(x[2 * i + 1]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(out);
            return NULL;
        }
        out[i] = (char)(hi * 16 + lo);
    }
    if (out)
        out[len / 2] = '\0';
    return out;
}

char **class_names_from_json(const char *shown, const char *hex, int *n)
{
    *n = 0;
    cJSON *a = shown ? cJSON_Parse(shown) : NULL, *h = hex ? cJSON_Parse(hex) : NULL;
    int k = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : -1;
    if (k < 0 || (h && (!cJSON_IsArray(h) || cJSON_GetArraySize(h) != k))) {
        cJSON_Delete(a);
        cJSON_Delete(h);
        return NULL;
    }
    char **names = calloc((size_t)k + 1, sizeof *names);
    int ok = names != NULL;
    for (int i = 0; ok && i < k; i++) {
        const char *s = cJSON_GetStringValue(cJSON_GetArrayItem(a, i));
        const char *x = h ? cJSON_GetStringValue(cJSON_GetArrayItem(h, i)) : NULL;
        names[i] = h ? (x ? from_hex(x) : NULL) : (s ? strdup(s) : NULL);
        ok = names[i] != NULL;
    }
    cJSON_Delete(a);
    cJSON_Delete(h);
    if (!ok) {
        for (int i = 0; names && i < k; i++)
            free(names[i]);
        free(names);
        return NULL;
    }
    *n = k;
    return names;
}
