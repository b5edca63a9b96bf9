/* softmax cross-entropy: not implemented yet. */
#include "ops/loss.h"
