/* hf_json.c — file and JSON helpers for the HuggingFace adapters (see hf_json.h). */
#include "hf_json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

ttt_status ttt_hfj_read_file(const char *path, size_t max_bytes, char **out, size_t *len) {
  *out = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return ttt_set_error(TTT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    fclose(f);
    return ttt_set_error(TTT_ERR_IO, "%s: not a regular file", path);
  }
  if ((uint64_t)st.st_size > max_bytes) {
    fclose(f);
    return ttt_set_error(TTT_ERR_FORMAT, "%s: file is %lld bytes, more than the %zu allowed", path,
                         (long long)st.st_size, max_bytes);
  }
  size_t size = (size_t)st.st_size;
  char *buf = malloc(size + 1);
  if (!buf) {
    fclose(f);
    return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes", path, size + 1);
  }
  size_t got = fread(buf, 1, size, f);
  fclose(f);
  if (got != size) {
    free(buf);
    return ttt_set_error(TTT_ERR_IO, "%s: short read (%zu of %zu bytes)", path, got, size);
  }
  buf[size] = '\0';
  *out = buf;
  *len = size;
  return TTT_OK;
}

static bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

ttt_status ttt_hfj_parse(const char *what, const char *text, size_t len, cJSON **out) {
  *out = NULL;
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
  if (!root) {
    size_t at = (end && end >= text && end <= text + len) ? (size_t)(end - text) : 0;
    return ttt_set_error(TTT_ERR_FORMAT, "%s: invalid JSON near byte %zu", what, at);
  }
  for (const char *p = end; p < text + len; p++) {
    if (!is_json_space(*p)) {
      cJSON_Delete(root);
      return ttt_set_error(TTT_ERR_FORMAT, "%s: unexpected data after the JSON value at byte %zu",
                           what, (size_t)(p - text));
    }
  }
  *out = root;
  return TTT_OK;
}

ttt_status ttt_hfj_parse_object_file(const char *path, size_t max_bytes, cJSON **out) {
  char *text;
  size_t len;
  ttt_status s = ttt_hfj_read_file(path, max_bytes, &text, &len);
  if (s != TTT_OK) return s;
  s = ttt_hfj_parse(path, text, len, out);
  free(text);
  if (s != TTT_OK) return s;
  if (!cJSON_IsObject(*out)) {
    const char *type = ttt_hfj_type_name(*out);
    cJSON_Delete(*out);
    *out = NULL;
    return ttt_set_error(TTT_ERR_FORMAT, "%s: expected a JSON object, got %s", path, type);
  }
  return TTT_OK;
}

bool ttt_hfj_is_int(const cJSON *item, double min, double max) {
  if (!cJSON_IsNumber(item)) return false;
  double v = item->valuedouble;
  return isfinite(v) && v == floor(v) && v >= min && v <= max;
}

const char *ttt_hfj_type_name(const cJSON *item) {
  if (!item) return "nothing";
  if (cJSON_IsNull(item)) return "null";
  if (cJSON_IsBool(item)) return "a boolean";
  if (cJSON_IsNumber(item)) return "a number";
  if (cJSON_IsString(item)) return "a string";
  if (cJSON_IsArray(item)) return "an array";
  if (cJSON_IsObject(item)) return "an object";
  return "an invalid value";
}

ttt_status ttt_hfj_join(char *buf, size_t size, const char *dir, const char *name) {
  size_t dl = strlen(dir);
  const char *sep = (dl > 0 && dir[dl - 1] == '/') ? "" : "/";
  int n = snprintf(buf, size, "%s%s%s", dir, sep, name);
  if (n < 0 || (size_t)n >= size)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "path '%s/%s' is too long", dir, name);
  return TTT_OK;
}
