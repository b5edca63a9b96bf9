/* The kernel sources embedded at build time (generated kernels_embedded.c). */
#ifndef CLNET_SOURCES_EMBEDDED_H
#define CLNET_SOURCES_EMBEDDED_H

#include <stddef.h>

typedef struct clnet__embedded_source {
    const char *name;  /* file name in cl/, e.g. "activation.cl" */
    const char *text;  /* NUL-terminated */
    size_t len;
} clnet__embedded_source;

/* Terminated by an entry whose name is NULL. */
extern const clnet__embedded_source clnet__embedded_sources[];
/* Program names (cl/<name>.cl without the suffix), NULL-terminated. */
extern const char *const clnet__embedded_programs[];

#endif
