/* avgpool: not implemented yet (placeholder so the registry links). */
#include "ops/all_ops.h"

const clnet__op clnet__op_avgpool = {.name = "avgpool"};
