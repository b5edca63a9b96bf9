/* Structure checks of a written report, strict enough to catch a broken
 * page without a full HTML parser. Each returns 0, or -1 with why set. */
#ifndef CLNET_TEST_REPORT_HTML_CHECK_H
#define CLNET_TEST_REPORT_HTML_CHECK_H

#include <stddef.h>

/* Every element closed in order (void elements and SVG's "/>" aside), no
 * stray '<', every '&' starts one of the entities the report writes, no
 * <script>, and the text is valid UTF-8. */
int html_well_formed(const char *html, char *why, size_t cap);

/* Every <img> has src="data:image/png;base64,..." whose base64 is valid and
 * decodes to a PNG that stb_image reads. *n gets the number of images. */
int html_images(const char *html, int *n, char *why, size_t cap);

/* The pixels of the PNG of the i-th <img> (0-based), in its own channels;
 * NULL when there is none or it cannot be read. Free with free(). */
unsigned char *html_image_pixels(const char *html, int i, int *w, int *h, int *c);

/* metrics.csv: the header, then `rows` rows of 11 fields, kind "step" or
 * "epoch", every other field empty or a whole number as strtod reads it. */
int csv_check(const char *csv, size_t rows, char *why, size_t cap);

/* Occurrences of needle in s. */
size_t count_of(const char *s, const char *needle);

#endif
