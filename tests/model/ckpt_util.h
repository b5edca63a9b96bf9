/* Shared by the checkpoint fault tests and their writer process. */
#ifndef CLNET_TEST_CKPT_UTIL_H
#define CLNET_TEST_CKPT_UTIL_H

#include "clnet/clnet.h"
#include <stdint.h>

/* FNV-1a of a model's parameters as they are on the device (0 on error). */
uint64_t ckpt_params_sum(clnet_model *m);

#endif
