/* The chat page GET / serves: serve/page/index.html (HTML with its CSS and JS inline), compiled
 * into the binary by cmake/embed_file.cmake at build time. */
#ifndef TTT_SERVE_PAGE_H
#define TTT_SERVE_PAGE_H

#include <stddef.h>

extern const unsigned char serve_page_index_html[]; /* the bytes, then a NUL */
extern const size_t serve_page_index_html_len;      /* without the NUL */

#endif
