/* Class names in checkpoint metadata. Class names are folder names, which
 * are bytes; safetensors metadata is JSON, which is UTF-8. run.classes holds
 * each name as valid UTF-8 (an invalid byte becomes U+FFFD) for display and
 * other readers; when a name is not UTF-8, run.classes_hex also holds every
 * name's exact bytes in hex, so clnet-predict still finds the folders. */
#ifndef CLNET_TOOLS_CLASSNAMES_H
#define CLNET_TOOLS_CLASSNAMES_H

#include <cJSON.h>

/* The two JSON arrays for names[0..n): *shown (always) and *hex (NULL when
 * every name is UTF-8). malloc'd text; both NULL on out of memory. */
void class_names_to_json(const char *const *names, int n, char **shown, char **hex);

/* The names back from the two values (hex may be NULL): a malloc'd array
 * of n malloc'd strings, or NULL when shown is not an array of strings (or
 * hex does not match it). */
char **class_names_from_json(const char *shown, const char *hex, int *n);

#endif
