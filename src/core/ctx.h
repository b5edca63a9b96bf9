/* The context structure. Private: only the library sees its fields. */
#ifndef CLNET_CTX_H
#define CLNET_CTX_H

#include "core/core.h"
#include "core/fault.h"
#include "ocl/ocl.h"

struct clnet_ctx {
    clnet_log_fn log;
    void *log_user;
    clnet_log_level log_level;
    char errmsg[CLNET__ERRMSG_MAX];
    clnet__ocl ocl;             /* device, queues, programs, buffer pool */
    clnet_cache_stats cache_stats;
    clnet__fault fault;         /* CLNET_FAULT, a test switch (fault.h) */
};

#endif
