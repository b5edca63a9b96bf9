/* Names and descriptions of clnet_status, generated from CLNET_STATUS_MAP. */
#include "clnet/clnet.h"

const char *clnet_version(void) { return CLNET_VERSION_STRING; }

const char *clnet_status_name(clnet_status st)
{
    switch (st) {
#define CLNET__STATUS_NAME(name, value, desc) \
    case CLNET_##name: return "CLNET_" #name;
        CLNET_STATUS_MAP(CLNET__STATUS_NAME)
#undef CLNET__STATUS_NAME
    }
    return "CLNET_UNKNOWN";
}

const char *clnet_strerror(clnet_status st)
{
    switch (st) {
#define CLNET__STATUS_DESC(name, value, desc) \
    case CLNET_##name: return desc;
        CLNET_STATUS_MAP(CLNET__STATUS_DESC)
#undef CLNET__STATUS_DESC
    }
    return "unknown status code";
}
