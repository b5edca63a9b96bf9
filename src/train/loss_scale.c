/* Dynamic loss scaling: the host reference of the device's state machine
 * (cl/optim.cl, optim_scale_update) and the checks of its settings. */
#include "train/loss_scale.h"

#include <math.h>

void clnet__loss_scale_init(float ls[CLNET__LSCALE_FLOATS], float init)
{
    ls[0] = init;
    ls[1] = ls[2] = ls[3] = 0.0f;
}

void clnet__loss_scale_ref_update(float ls[CLNET__LSCALE_FLOATS], int found,
                                  unsigned interval)
{
    if (found) {
        ls[0] = fmaxf(ls[0] * 0.5f, CLNET__LSCALE_MIN);
        ls[1] = 0.0f;
        ls[3] += 1.0f;
    } else if (ls[1] + 1.0f >= (float)interval) {
        ls[0] = fminf(ls[0] * 2.0f, CLNET__LSCALE_MAX);
        ls[1] = 0.0f;
    } else {
        ls[1] += 1.0f;
    }
    ls[2] = 0.0f;
}

int clnet__loss_scale_valid(float init, int interval)
{
    return isfinite(init) && init >= CLNET__LSCALE_MIN && init <= CLNET__LSCALE_MAX &&
           interval >= 1 && interval <= CLNET__LSCALE_MAX_INTERVAL;
}
