/* The HTTP layer's per-request state and response helpers (shared by http.c and routes.c). */
#ifndef TTT_SERVE_HTTP_H
#define TTT_SERVE_HTTP_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

#include "openai_json.h"
#include "request.h"
#include "server.h"

/* One HTTP request (MHD's per-request context). Touched only by MHD's thread. */
typedef struct http_conn {
  server *srv;
  struct MHD_Connection *conn;
  char *body; /* the upload, NUL-terminated */
  size_t len, cap;
  bool too_big;   /* the upload exceeded srv->max_body: answer 413 */
  request *req;   /* the submitted generation (one reference) */
  embed_job *job; /* the submitted embedding request (one reference) */
  bool deferred;  /* answer `error` once the suspended connection resumes */
  serve_error error;
  /* Streaming: SSE bytes formatted but not yet handed to MHD. */
  char *wire;
  size_t wire_len, wire_off;
  bool sent_first, stream_done;
} http_conn;

/* Queues a response with `body` (malloc'd, taken; NULL → a 500 for out of memory) and counts its
 * status in the metrics. retry_after: a Retry-After value or NULL. */
enum MHD_Result http_respond(http_conn *hc, int status, const char *content_type, char *body,
                             size_t len, const char *retry_after);
enum MHD_Result http_respond_error(http_conn *hc, const serve_error *e);

/* Resumes a suspended connection (the request's notify callback; any thread). */
void http_wake(void *connection);

/* routes.c: answers the request once its body is complete. */
enum MHD_Result routes_handle(http_conn *hc, const char *method, const char *url);
/* routes.c: the access handler is called again after a suspended non-streamed request resumed. */
enum MHD_Result routes_resume(http_conn *hc);

#endif
