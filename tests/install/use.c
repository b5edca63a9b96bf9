/* A program outside the project, built against an installed clnet through
 * pkg-config: the public header alone must be enough. */
#include <clnet/clnet.h>

#include <stdio.h>
#include <string.h>

int main(void)
{
    if (strcmp(clnet_version(), CLNET_VERSION_STRING) != 0)
        return 1;
    clnet_ctx_settings s;
    clnet_ctx_default_settings(&s);
    s.device = "no-such-device-for-the-install-test";
    clnet_ctx *ctx = NULL;
    clnet_status st = clnet_ctx_create(&ctx, &s);
    printf("clnet %s: %s\n", clnet_version(), clnet_status_name(st));
    clnet_ctx_free(ctx);
    return st == CLNET_ENODEV ? 0 : 1;
}
