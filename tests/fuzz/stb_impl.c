/* The fuzz build compiles stb_image and stb_image_resize from Debian's
 * headers into the image fuzzer, so the decoder is instrumented (coverage and
 * AddressSanitizer) rather than hidden inside the uninstrumented libstb.so.
 * The code is the same: Debian builds libstb from these headers with every
 * optional macro unset (see /usr/share/doc/libstb0/README.Debian), and these
 * definitions take the place of the shared library's in the fuzzer. */
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#include <stb_image.h>
#include <stb_image_resize.h>
