/* The HTTP server: libmicrohttpd with one internal polling thread for all I/O. Request bodies are
 * collected here (bounded by max_body); routes.c answers them. Connections waiting for generated
 * text are suspended and resumed by the engine thread through request_wake → http_wake. */
#include "http.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

enum { MAX_CONNECTIONS = 512 };

enum MHD_Result http_respond(http_conn *hc, int status, const char *content_type, char *body,
                             size_t len, const char *retry_after) {
  if (!body) {
    static const char OOM[] =
        "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\",\"param\":null,"
        "\"code\":null}}";
    status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    content_type = "application/json";
    body = strdup(OOM);
    len = body ? strlen(body) : 0;
  }
  struct MHD_Response *response =
      body ? MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE) : NULL;
  if (!response) {
    free(body);
    return MHD_NO;
  }
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
  if (retry_after) MHD_add_response_header(response, MHD_HTTP_HEADER_RETRY_AFTER, retry_after);
  enum MHD_Result result = MHD_queue_response(hc->conn, (unsigned)status, response);
  MHD_destroy_response(response);
  metrics_count_response(hc->srv->metrics, status);
  return result;
}

enum MHD_Result http_respond_error(http_conn *hc, const serve_error *e) {
  char *body = openai_error_json(e);
  return http_respond(hc, e->status, "application/json", body, body ? strlen(body) : 0,
                      e->status == 429 || e->status == 503 ? "1" : NULL);
}

void http_wake(void *connection) { MHD_resume_connection(connection); }

static bool append_body(http_conn *hc, const char *data, size_t n) {
  if (hc->too_big || hc->len + n > hc->srv->max_body) {
    hc->too_big = true;
    return true;
  }
  if (hc->len + n + 1 > hc->cap) {
    size_t cap = hc->cap ? hc->cap : 4096;
    while (cap < hc->len + n + 1) cap *= 2;
    char *grown = realloc(hc->body, cap);
    if (!grown) return false;
    hc->body = grown;
    hc->cap = cap;
  }
  memcpy(hc->body + hc->len, data, n);
  hc->len += n;
  hc->body[hc->len] = '\0';
  return true;
}

static enum MHD_Result too_large(http_conn *hc) {
  serve_error e;
  serve_error_set(&e, 413, NULL, "the request body is larger than %zu bytes", hc->srv->max_body);
  return http_respond_error(hc, &e);
}

/* A declared Content-Length above the limit is refused before the body is read. */
static bool declared_too_large(struct MHD_Connection *c, size_t max) {
  const char *value =
      MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
  if (!value) return false;
  char *end = NULL;
  unsigned long long n = strtoull(value, &end, 10);
  return end != value && n > max;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
  http_conn *hc = *con_cls;
  if (!hc) {
    if (!(hc = calloc(1, sizeof *hc))) return MHD_NO;
    hc->srv = cls;
    hc->conn = c;
    *con_cls = hc;
    if (declared_too_large(c, hc->srv->max_body)) return too_large(hc);
    return MHD_YES;
  }
  if (*upload_size > 0) {
    bool ok = append_body(hc, upload, *upload_size);
    *upload_size = 0;
    return ok ? MHD_YES : MHD_NO;
  }
  if (hc->req || hc->job || hc->deferred) return routes_resume(hc);
  if (hc->too_big) return too_large(hc);
  return routes_handle(hc, method, url);
}

/* The request is over (answered, or the client went away): cancel unfinished work. */
static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  http_conn *hc = *con_cls;
  if (!hc) return;
  server *srv = cls;
  if (hc->req) {
    request *r = hc->req;
    pthread_mutex_lock(&r->mu);
    r->fd = -1;
    r->notify = NULL;
    r->suspended = false;
    pthread_mutex_unlock(&r->mu);
    scheduler_cancel(srv->scheduler, r); /* a no-op once finished */
    request_unref(r);
  }
  if (hc->job) {
    embed_job *job = hc->job;
    pthread_mutex_lock(&job->mu);
    job->notify = NULL;
    job->suspended = false;
    pthread_mutex_unlock(&job->mu);
    embedder_cancel(job);
    embed_job_unref(job);
  }
  free(hc->body);
  free(hc->wire);
  free(hc);
  *con_cls = NULL;
}

struct MHD_Daemon *http_start(server *srv, const char *host, uint16_t port, unsigned timeout,
                              uint16_t *bound_port) {
  struct addrinfo hints = {
      .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
  struct addrinfo *addr = NULL;
  char service[8];
  snprintf(service, sizeof service, "%u", (unsigned)port);
  int rc = getaddrinfo(host, service, &hints, &addr);
  if (rc != 0) {
    fprintf(stderr, "ttt serve: --host %s: %s\n", host, gai_strerror(rc));
    return NULL;
  }
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_ALLOW_SUSPEND_RESUME;
  if (addr->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
  struct MHD_Daemon *daemon = MHD_start_daemon(
      flags, port, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, addr->ai_addr,
      MHD_OPTION_CONNECTION_TIMEOUT, timeout, MHD_OPTION_CONNECTION_LIMIT,
      (unsigned)MAX_CONNECTIONS, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_END);
  freeaddrinfo(addr);
  if (!daemon) {
    fprintf(stderr, "ttt serve: cannot listen on %s:%u (in use, or not a local address?)\n", host,
            (unsigned)port);
    return NULL;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
  *bound_port = info ? info->port : port;
  return daemon;
}

void http_stop(struct MHD_Daemon *daemon) {
  if (daemon) MHD_stop_daemon(daemon);
}
