/* safetensors.c — mmap reader with strict header validation, writer, and sharded checkpoints.
 * The format and the validation rules are described in ttt_safetensors.h. */
#include "ttt_safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hf_json.h"

/* ---------------------------------------------------------------------------------------------- */
/* Dtypes */
/* ---------------------------------------------------------------------------------------------- */

typedef struct st_dtype {
  const char *name;
  ttt_dtype dtype;
  size_t size;      /* bytes per element; 0 for the library's block formats (32 values a block) */
  size_t alignment; /* of the mapped bytes, for use in place (else the reader copies them) */
} st_dtype;

/* Row-major block formats are read bytewise; the grouped ones with 64-byte vector loads. */
static const st_dtype st_dtypes[] = {
    {"F32", TTT_F32, 4, 4},
    {"F16", TTT_F16, 2, 2},
    {"BF16", TTT_BF16, 2, 2},
    {"I64", TTT_I64, 8, 8},
    {"I32", TTT_I32, 4, 4},
    {"F64", TTT_F64, 8, 8},
    {"TTT_Q8_0", TTT_Q8_0, 0, 1},
    {"TTT_Q4_0", TTT_Q4_0, 0, 1},
    {"TTT_Q8_0_G16", TTT_Q8_0_G16, 0, 64},
    {"TTT_Q4_0_G16", TTT_Q4_0_G16, 0, 64},
};
#define ST_N_DTYPES (sizeof st_dtypes / sizeof st_dtypes[0])
#define ST_DTYPE_LIST                                                                              \
  "F32, F16, BF16, I64, I32, F64, TTT_Q8_0, TTT_Q4_0, TTT_Q8_0_G16, TTT_Q4_0_G16"

static const st_dtype *dtype_by_name(const char *name) {
  for (size_t i = 0; i < ST_N_DTYPES; i++)
    if (strcmp(st_dtypes[i].name, name) == 0) return &st_dtypes[i];
  return NULL;
}

static const st_dtype *dtype_by_enum(ttt_dtype dtype) {
  for (size_t i = 0; i < ST_N_DTYPES; i++)
    if (st_dtypes[i].dtype == dtype) return &st_dtypes[i];
  return NULL;
}

const char *ttt_safetensors_dtype_name(ttt_dtype dtype) {
  const st_dtype *d = dtype_by_enum(dtype);
  return d ? d->name : NULL;
}

/* ---------------------------------------------------------------------------------------------- */
/* Reader */
/* ---------------------------------------------------------------------------------------------- */

typedef struct st_entry {
  char *name;
  ttt_dtype dtype;
  size_t elem_size;
  size_t alignment;
  int32_t ndim; /* as in the file: 0 (scalar) .. 4 */
  int64_t shape[TTT_MAX_DIMS];
  uint64_t begin, end; /* relative to the data section */
  void *copy;          /* aligned copy when the mapped bytes are misaligned for the dtype */
} st_entry;

typedef struct st_meta {
  char *key;
  char *value;
} st_meta;

struct ttt_safetensors {
  char *path;
  uint8_t *map;
  size_t map_size;
  const uint8_t *data; /* start of the data section inside map */
  uint64_t data_size;
  st_entry *entries; /* sorted by name */
  int64_t n_entries;
  st_meta *meta;
  int64_t n_meta;
  int64_t n_copied;
};

static ttt_status parse_shape(const char *path, const char *name, const cJSON *shape, st_entry *e) {
  if (!cJSON_IsArray(shape))
    return ttt_set_error(TTT_ERR_FORMAT, "%s: tensor '%s': 'shape' must be an array, got %s", path,
                         name, ttt_hfj_type_name(shape));
  int n = cJSON_GetArraySize(shape);
  if (n > TTT_MAX_DIMS)
    return ttt_set_error(TTT_ERR_FORMAT, "%s: tensor '%s': shape has %d dims, at most %d supported",
                         path, name, n, TTT_MAX_DIMS);
  e->ndim = n;
  int i = 0;
  for (const cJSON *d = shape->child; d; d = d->next, i++) {
    if (!ttt_hfj_is_int(d, 0, TTT_HFJ_MAX_EXACT_INT))
      return ttt_set_error(TTT_ERR_FORMAT,
                           "%s: tensor '%s': shape[%d] must be a non-negative integer", path, name,
                           i);
    e->shape[i] = (int64_t)d->valuedouble;
  }
  return TTT_OK;
}

static bool is_grouped(ttt_dtype dtype) { return dtype == TTT_Q8_0_G16 || dtype == TTT_Q4_0_G16; }

/* The grouped formats: whole groups of 16 rows, each padded to 64 bytes (layout in ttt/core.h);
 * 2-D shapes only (checked by parse_entry). UINT64_MAX when too big. */
static uint64_t grouped_bytes(const st_entry *e) {
  const uint64_t limit = (uint64_t)1 << 62;
  uint64_t rows = (uint64_t)e->shape[0], k = (uint64_t)e->shape[1];
  if (rows == 0 || k == 0) return 0;
  if (rows > limit / k) return UINT64_MAX;
  size_t bytes = ttt_dtype_bytes(e->dtype, (int64_t)(rows * k), (int64_t)k);
  return bytes == 0 || bytes > limit ? UINT64_MAX : (uint64_t)bytes;
}

/* Byte size from the shape, or UINT64_MAX beyond 2^62 bytes (no real file is that big). */
static uint64_t shape_bytes(const st_entry *e) {
  const uint64_t limit = (uint64_t)1 << 62;
  if (is_grouped(e->dtype)) return grouped_bytes(e);
  bool block = ttt_dtype_is_block(e->dtype); /* count values, then 32-value blocks */
  uint64_t bytes = block ? 1 : e->elem_size;
  for (int32_t i = 0; i < e->ndim; i++) {
    uint64_t d = (uint64_t)e->shape[i];
    if (d == 0) return 0;
    if (bytes > limit / d) bytes = UINT64_MAX;
    if (bytes != UINT64_MAX) bytes *= d;
  }
  if (block && bytes != UINT64_MAX)
    bytes = bytes / TTT_Q8_0_BLOCK * ttt_dtype_bytes(e->dtype, TTT_Q8_0_BLOCK, TTT_Q8_0_BLOCK);
  return bytes;
}

static ttt_status parse_offsets(const char *path, const char *name, const cJSON *offsets,
                                uint64_t data_size, st_entry *e) {
  if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2)
    return ttt_set_error(TTT_ERR_FORMAT,
                         "%s: tensor '%s': 'data_offsets' must be an array [begin, end]", path,
                         name);
  const cJSON *b = offsets->child, *en = b->next;
  if (!ttt_hfj_is_int(b, 0, TTT_HFJ_MAX_EXACT_INT) || !ttt_hfj_is_int(en, 0, TTT_HFJ_MAX_EXACT_INT))
    return ttt_set_error(TTT_ERR_FORMAT,
                         "%s: tensor '%s': data_offsets must be non-negative integers", path, name);
  e->begin = (uint64_t)b->valuedouble;
  e->end = (uint64_t)en->valuedouble;
  if (e->begin > e->end)
    return ttt_set_error(TTT_ERR_FORMAT,
                         "%s: tensor '%s': data_offsets [%llu, %llu] end before begin", path, name,
                         (unsigned long long)e->begin, (unsigned long long)e->end);
  if (e->end > data_size)
    return ttt_set_error(TTT_ERR_FORMAT,
                         "%s: tensor '%s': data_offsets [%llu, %llu] exceed the data section of "
                         "%llu bytes",
                         path, name, (unsigned long long)e->begin, (unsigned long long)e->end,
                         (unsigned long long)data_size);
  uint64_t expected = shape_bytes(e);
  if (expected != e->end - e->begin) {
    if (expected == UINT64_MAX)
      return ttt_set_error(TTT_ERR_FORMAT, "%s: tensor '%s': its shape needs more than 2^62 bytes",
                           path, name);
    return ttt_set_error(TTT_ERR_FORMAT,
                         "%s: tensor '%s': data_offsets span %llu bytes, but the shape and dtype "
                         "need %llu",
                         path, name, (unsigned long long)(e->end - e->begin),
                         (unsigned long long)expected);
  }
  return TTT_OK;
}

static ttt_status parse_entry(const char *path, const cJSON *item, uint64_t data_size,
                              st_entry *e) {
  const char *name = item->string;
  if (name[0] == '\0') return ttt_set_error(TTT_ERR_FORMAT, "%s: a tensor has an empty name", path);
  if (!cJSON_IsObject(item))
    return ttt_set_error(TTT_ERR_FORMAT, "%s: tensor '%s': expected an object, got %s", path, name,
                         ttt_hfj_type_name(item));
  const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
  if (!cJSON_IsString(dtype))
    return ttt_set_error(TTT_ERR_FORMAT, "%s: tensor '%s': 'dtype' must be a string, got %s", path,
                         name, ttt_hfj_type_name(dtype));
  const st_dtype *dt = dtype_by_name(dtype->valuestring);
  if (!dt)
    return ttt_set_error(TTT_ERR_DTYPE,
                         "%s: tensor '%s': dtype '%s' is not supported (supported: %s)", path, name,
                         dtype->valuestring, ST_DTYPE_LIST);
  e->dtype = dt->dtype;
  e->elem_size = dt->size;
  e->alignment = dt->alignment;
  ttt_status s = parse_shape(path, name, cJSON_GetObjectItemCaseSensitive(item, "shape"), e);
  if (s != TTT_OK) return s;
  bool grouped = is_grouped(e->dtype);
  if (grouped && e->ndim != 2)
    return ttt_set_error(TTT_ERR_FORMAT, "%s: tensor '%s': dtype %s holds 2-D weights, got %d dims",
                         path, name, dt->name, (int)e->ndim);
  /* Block formats: whole 32-value blocks along the last dim (the shape counts values). */
  if ((grouped || ttt_dtype_is_block(e->dtype)) &&
      (e->ndim == 0 || e->shape[e->ndim - 1] % TTT_Q8_0_BLOCK != 0))
    return ttt_set_error(TTT_ERR_FORMAT,
                         "%s: tensor '%s': dtype %s needs a last dim that is a multiple of %d, got "
                         "%lld",
                         path, name, dt->name, TTT_Q8_0_BLOCK,
                         e->ndim ? (long long)e->shape[e->ndim - 1] : 0LL);
  s = parse_offsets(path, name, cJSON_GetObjectItemCaseSensitive(item, "data_offsets"), data_size,
                    e);
  if (s != TTT_OK) return s;
  e->name = strdup(name);
  if (!e->name) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
  return TTT_OK;
}

static ttt_status parse_metadata(ttt_safetensors *f, const cJSON *meta) {
  if (!cJSON_IsObject(meta))
    return ttt_set_error(TTT_ERR_FORMAT, "%s: '__metadata__' must be an object, got %s", f->path,
                         ttt_hfj_type_name(meta));
  int n = cJSON_GetArraySize(meta);
  f->meta = calloc((size_t)n + 1, sizeof *f->meta);
  if (!f->meta) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "%s: out of memory", f->path);
  for (const cJSON *m = meta->child; m; m = m->next) {
    if (!cJSON_IsString(m))
      return ttt_set_error(TTT_ERR_FORMAT, "%s: __metadata__ '%s' must be a string, got %s",
                           f->path, m->string, ttt_hfj_type_name(m));
    st_meta *slot = &f->meta[f->n_meta++];
    slot->key = strdup(m->string);
    slot->value = strdup(m->valuestring);
    if (!slot->key || !slot->value)
      return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "%s: out of memory", f->path);
  }
  return TTT_OK;
}

static int cmp_entry_name(const void *a, const void *b) {
  return strcmp(((const st_entry *)a)->name, ((const st_entry *)b)->name);
}

static int cmp_entry_offset(const void *a, const void *b) {
  const st_entry *x = *(const st_entry *const *)a, *y = *(const st_entry *const *)b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end) return x->end < y->end ? -1 : 1;
  return 0;
}

/* Tensors must tile the data section: no overlap, no gap, nothing after the last one. */
static ttt_status check_tiling(const ttt_safetensors *f) {
  if (f->n_entries == 0) {
    if (f->data_size != 0)
      return ttt_set_error(TTT_ERR_FORMAT, "%s: no tensors but %llu bytes of data", f->path,
                           (unsigned long long)f->data_size);
    return TTT_OK;
  }
  const st_entry **order = malloc((size_t)f->n_entries * sizeof *order);
  if (!order) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "%s: out of memory", f->path);
  for (int64_t i = 0; i < f->n_entries; i++) order[i] = &f->entries[i];
  qsort(order, (size_t)f->n_entries, sizeof *order, cmp_entry_offset);
  ttt_status s = TTT_OK;
  uint64_t pos = 0;
  const st_entry *prev = NULL;
  for (int64_t i = 0; i < f->n_entries && s == TTT_OK; i++) {
    const st_entry *e = order[i];
    if (e->begin < pos)
      s = ttt_set_error(
          TTT_ERR_FORMAT,
          "%s: tensor '%s' (bytes [%llu, %llu]) overlaps tensor '%s' (ending at %llu)", f->path,
          e->name, (unsigned long long)e->begin, (unsigned long long)e->end, prev->name,
          (unsigned long long)pos);
    else if (e->begin > pos)
      s = ttt_set_error(TTT_ERR_FORMAT,
                        "%s: tensor '%s' begins at byte %llu, leaving a gap after byte %llu",
                        f->path, e->name, (unsigned long long)e->begin, (unsigned long long)pos);
    pos = e->end;
    prev = e;
  }
  free(order);
  if (s == TTT_OK && pos != f->data_size)
    s = ttt_set_error(TTT_ERR_FORMAT,
                      "%s: tensors end at byte %llu of a %llu-byte data section (trailing data)",
                      f->path, (unsigned long long)pos, (unsigned long long)f->data_size);
  return s;
}

static ttt_status check_unique_names(const ttt_safetensors *f) {
  for (int64_t i = 1; i < f->n_entries; i++)
    if (strcmp(f->entries[i - 1].name, f->entries[i].name) == 0)
      return ttt_set_error(TTT_ERR_FORMAT, "%s: tensor '%s' appears twice", f->path,
                           f->entries[i].name);
  return TTT_OK;
}

/* Copies tensors whose mapped bytes are misaligned for their dtype (see the header). */
static ttt_status align_entries(ttt_safetensors *f) {
  for (int64_t i = 0; i < f->n_entries; i++) {
    st_entry *e = &f->entries[i];
    size_t bytes = (size_t)(e->end - e->begin);
    const uint8_t *src = f->data + e->begin;
    if (bytes == 0 || (uintptr_t)src % e->alignment == 0) continue;
    if (posix_memalign(&e->copy, 64, bytes) != 0) {
      e->copy = NULL;
      return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "%s: tensor '%s': cannot copy %zu bytes", f->path,
                           e->name, bytes);
    }
    memcpy(e->copy, src, bytes);
    f->n_copied++;
  }
  return TTT_OK;
}

static ttt_status parse_header(ttt_safetensors *f, const char *json, size_t len) {
  cJSON *root;
  char what[4200];
  snprintf(what, sizeof what, "%s: header", f->path);
  ttt_status s = ttt_hfj_parse(what, json, len, &root);
  if (s != TTT_OK) return s;
  if (!cJSON_IsObject(root)) {
    s = ttt_set_error(TTT_ERR_FORMAT, "%s: header must be a JSON object, got %s", f->path,
                      ttt_hfj_type_name(root));
    cJSON_Delete(root);
    return s;
  }
  int n = cJSON_GetArraySize(root);
  f->entries = calloc((size_t)n + 1, sizeof *f->entries);
  if (!f->entries) s = ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "%s: out of memory", f->path);
  for (const cJSON *item = root->child; item && s == TTT_OK; item = item->next) {
    if (strcmp(item->string, "__metadata__") == 0) {
      if (f->meta)
        s = ttt_set_error(TTT_ERR_FORMAT, "%s: '__metadata__' appears twice", f->path);
      else
        s = parse_metadata(f, item);
      continue;
    }
    s = parse_entry(f->path, item, f->data_size, &f->entries[f->n_entries]);
    if (s == TTT_OK) f->n_entries++;
  }
  cJSON_Delete(root);
  if (s != TTT_OK) return s;
  qsort(f->entries, (size_t)f->n_entries, sizeof *f->entries, cmp_entry_name);
  if ((s = check_unique_names(f)) != TTT_OK) return s;
  if ((s = check_tiling(f)) != TTT_OK) return s;
  return align_entries(f);
}

static uint64_t read_le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

static ttt_status map_file(ttt_safetensors *f) {
  int fd = open(f->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ttt_set_error(TTT_ERR_IO, "%s: cannot open: %s", f->path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return ttt_set_error(TTT_ERR_IO, "%s: not a regular file", f->path);
  }
  if (st.st_size < 8) {
    close(fd);
    return ttt_set_error(TTT_ERR_FORMAT,
                         "%s: truncated: %lld bytes, shorter than the 8-byte header length",
                         f->path, (long long)st.st_size);
  }
  f->map_size = (size_t)st.st_size;
  void *map = mmap(NULL, f->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
  int err = errno;
  close(fd);
  if (map == MAP_FAILED)
    return ttt_set_error(TTT_ERR_IO, "%s: cannot mmap: %s", f->path, strerror(err));
  f->map = map;
  return TTT_OK;
}

static ttt_status open_file(ttt_safetensors *f) {
  ttt_status s = map_file(f);
  if (s != TTT_OK) return s;
  uint64_t header_len = read_le64(f->map);
  uint64_t available = f->map_size - 8;
  if (header_len > TTT_SAFETENSORS_MAX_HEADER)
    return ttt_set_error(TTT_ERR_FORMAT, "%s: header length %llu exceeds the %u-byte limit",
                         f->path, (unsigned long long)header_len, TTT_SAFETENSORS_MAX_HEADER);
  if (header_len > available)
    return ttt_set_error(TTT_ERR_FORMAT,
                         "%s: truncated: header length %llu runs past the end of the file (%llu "
                         "bytes after the length)",
                         f->path, (unsigned long long)header_len, (unsigned long long)available);
  f->data = f->map + 8 + header_len;
  f->data_size = available - header_len;
  return parse_header(f, (const char *)f->map + 8, (size_t)header_len);
}

ttt_status ttt_safetensors_open(const char *path, ttt_safetensors **out) {
  if (!out) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ttt_safetensors_open: out is NULL");
  *out = NULL;
  if (!path) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ttt_safetensors_open: path is NULL");
  ttt_safetensors *f = calloc(1, sizeof *f);
  if (!f || !(f->path = strdup(path))) {
    free(f);
    return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
  }
  ttt_status s = open_file(f);
  if (s != TTT_OK) {
    ttt_safetensors_close(f);
    return s;
  }
  *out = f;
  return TTT_OK;
}

void ttt_safetensors_close(ttt_safetensors *f) {
  if (!f) return;
  for (int64_t i = 0; i < f->n_entries; i++) {
    free(f->entries[i].name);
    free(f->entries[i].copy);
  }
  free(f->entries);
  for (int64_t i = 0; i < f->n_meta; i++) {
    free(f->meta[i].key);
    free(f->meta[i].value);
  }
  free(f->meta);
  if (f->map) munmap(f->map, f->map_size);
  free(f->path);
  free(f);
}

const char *ttt_safetensors_path(const ttt_safetensors *f) { return f->path; }
int64_t ttt_safetensors_count(const ttt_safetensors *f) { return f->n_entries; }
int64_t ttt_safetensors_copied_count(const ttt_safetensors *f) { return f->n_copied; }

const char *ttt_safetensors_name(const ttt_safetensors *f, int64_t i) {
  return (i >= 0 && i < f->n_entries) ? f->entries[i].name : NULL;
}

static const st_entry *find_entry(const ttt_safetensors *f, const char *name) {
  st_entry key = {.name = (char *)name};
  return bsearch(&key, f->entries, (size_t)f->n_entries, sizeof *f->entries, cmp_entry_name);
}

bool ttt_safetensors_has(const ttt_safetensors *f, const char *name) {
  return name && find_entry(f, name) != NULL;
}

ttt_status ttt_safetensors_get(const ttt_safetensors *f, const char *name, ttt_tensor *out) {
  if (!name || !out)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ttt_safetensors_get: NULL name or out");
  const st_entry *e = find_entry(f, name);
  if (!e) return ttt_set_error(TTT_ERR_NOT_FOUND, "%s: no tensor '%s'", f->path, name);
  /* The mapping is read-only; ttt_tensor's data is non-const only because views are shared
   * with outputs. */
  void *data =
      e->copy ? e->copy : (e->end > e->begin ? (void *)(uintptr_t)(f->data + e->begin) : NULL);
  int64_t one = 1;
  *out = e->ndim == 0 ? ttt_tensor_view(e->dtype, data, 1, &one)
                      : ttt_tensor_view(e->dtype, data, e->ndim, e->shape);
  return TTT_OK;
}

void ttt_safetensors_release(const ttt_safetensors *f, const char *name) {
  const st_entry *e = f ? find_entry(f, name) : NULL;
  if (!e || e->copy || e->end <= e->begin) return;
  /* Only whole pages inside the tensor's bytes: neighbours may still be in use. The mapping is
   * read-only and file-backed, so dropped pages come back from the file if touched again. */
  uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
  uintptr_t begin = ((uintptr_t)(f->data + e->begin) + page - 1) & ~(page - 1);
  uintptr_t end = (uintptr_t)(f->data + e->end) & ~(page - 1);
  if (end > begin) madvise((void *)begin, end - begin, MADV_DONTNEED);
}

const char *ttt_safetensors_metadata(const ttt_safetensors *f, const char *key) {
  for (int64_t i = 0; key && i < f->n_meta; i++)
    if (strcmp(f->meta[i].key, key) == 0) return f->meta[i].value;
  return NULL;
}

/* ---------------------------------------------------------------------------------------------- */
/* Writer */
/* ---------------------------------------------------------------------------------------------- */

static ttt_status check_write_item(const char *path, const ttt_named_tensor *items, int64_t i) {
  const ttt_named_tensor *it = &items[i];
  if (!it->name || !it->name[0] || strcmp(it->name, "__metadata__") == 0)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "%s: tensor %lld has an invalid name '%s'", path,
                         (long long)i, it->name ? it->name : "(null)");
  if (!dtype_by_enum(it->tensor.dtype))
    return ttt_set_error(TTT_ERR_DTYPE,
                         "%s: tensor '%s': dtype %s cannot be written (supported: %s)", path,
                         it->name, ttt_dtype_name(it->tensor.dtype), ST_DTYPE_LIST);
  ttt_status s = ttt_tensor_check(&it->tensor, it->name);
  if (s != TTT_OK) return ttt_error_prefix(s, "%s", path);
  for (int64_t j = 0; j < i; j++)
    if (strcmp(items[j].name, it->name) == 0)
      return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "%s: tensor '%s' is given twice", path,
                           it->name);
  return TTT_OK;
}

/* Layout order: the grouped formats first (sizes are multiples of 64, and the data section starts
 * 64-byte aligned: see write_all), then 8-byte dtypes, 4, 2, so each tensor stays aligned; the
 * row-major block formats (read bytewise) last. */
static void write_order(const ttt_named_tensor *items, int64_t n, int64_t *order) {
  int64_t k = 0;
  for (int64_t i = 0; i < n; i++)
    if (dtype_by_enum(items[i].tensor.dtype)->alignment == 64) order[k++] = i;
  for (size_t size = 8; size >= 2; size /= 2)
    for (int64_t i = 0; i < n; i++)
      if (dtype_by_enum(items[i].tensor.dtype)->size == size) order[k++] = i;
  for (int64_t i = 0; i < n; i++)
    if (dtype_by_enum(items[i].tensor.dtype)->alignment == 1) order[k++] = i;
}

static cJSON *build_header(const ttt_named_tensor *items, const int64_t *order, int64_t n,
                           const ttt_safetensors_meta *meta, int64_t n_meta) {
  cJSON *root = cJSON_CreateObject();
  cJSON *meta_object = n_meta > 0 && root ? cJSON_AddObjectToObject(root, "__metadata__") : NULL;
  for (int64_t i = 0; i < n_meta; i++)
    if (!meta_object || !cJSON_AddStringToObject(meta_object, meta[i].key, meta[i].value)) {
      cJSON_Delete(root);
      return NULL;
    }
  uint64_t offset = 0;
  for (int64_t k = 0; root && k < n; k++) {
    const ttt_named_tensor *it = &items[order[k]];
    cJSON *t = cJSON_AddObjectToObject(root, it->name);
    cJSON *shape = t ? cJSON_AddArrayToObject(t, "shape") : NULL;
    cJSON *offsets = t ? cJSON_AddArrayToObject(t, "data_offsets") : NULL;
    bool ok = offsets &&
              cJSON_AddStringToObject(t, "dtype", ttt_safetensors_dtype_name(it->tensor.dtype));
    for (int32_t d = 0; ok && d < it->tensor.ndim; d++)
      ok = cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)it->tensor.shape[d]));
    uint64_t end = offset + ttt_tensor_nbytes(&it->tensor);
    ok = ok && cJSON_AddItemToArray(offsets, cJSON_CreateNumber((double)offset)) &&
         cJSON_AddItemToArray(offsets, cJSON_CreateNumber((double)end));
    if (!ok) {
      cJSON_Delete(root);
      return NULL;
    }
    offset = end;
  }
  return root;
}

static ttt_status write_all(FILE *fp, const char *path, const char *header,
                            const ttt_named_tensor *items, const int64_t *order, int64_t n) {
  /* Spaces pad the header so that the data section starts at a multiple of 64 bytes. */
  size_t len = strlen(header);
  size_t padded = (8 + len + 63) / 64 * 64 - 8;
  uint8_t le[8];
  for (int i = 0; i < 8; i++) le[i] = (uint8_t)((uint64_t)padded >> (8 * i));
  bool ok = fwrite(le, 1, 8, fp) == 8 && fwrite(header, 1, len, fp) == len;
  for (size_t i = len; ok && i < padded; i++) ok = fputc(' ', fp) != EOF;
  for (int64_t k = 0; ok && k < n; k++) {
    const ttt_tensor *t = &items[order[k]].tensor;
    size_t bytes = ttt_tensor_nbytes(t);
    ok = fwrite(t->data, 1, bytes, fp) == bytes;
  }
  if (!ok) return ttt_set_error(TTT_ERR_IO, "%s: write failed: %s", path, strerror(errno));
  return TTT_OK;
}

ttt_status ttt_safetensors_write(const char *path, const ttt_named_tensor *items, int64_t n) {
  return ttt_safetensors_write_meta(path, items, n, NULL, 0);
}

ttt_status ttt_safetensors_write_meta(const char *path, const ttt_named_tensor *items, int64_t n,
                                      const ttt_safetensors_meta *meta, int64_t n_meta) {
  if (!path || n < 0 || (n > 0 && !items) || n_meta < 0 || (n_meta > 0 && !meta))
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ttt_safetensors_write: invalid arguments");
  for (int64_t i = 0; i < n_meta; i++)
    if (!meta[i].key || !meta[i].value)
      return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "%s: metadata entry %lld is NULL", path,
                           (long long)i);
  for (int64_t i = 0; i < n; i++) {
    ttt_status s = check_write_item(path, items, i);
    if (s != TTT_OK) return s;
  }
  int64_t *order = malloc(((size_t)n + 1) * sizeof *order);
  cJSON *root =
      order ? (write_order(items, n, order), build_header(items, order, n, meta, n_meta)) : NULL;
  char *header = root ? cJSON_PrintUnformatted(root) : NULL;
  cJSON_Delete(root);
  if (!header) {
    free(order);
    return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "%s: out of memory building the header", path);
  }
  ttt_status s = TTT_OK;
  FILE *fp = fopen(path, "wb");
  if (!fp) s = ttt_set_error(TTT_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
  if (s == TTT_OK) s = write_all(fp, path, header, items, order, n);
  if (fp && fclose(fp) != 0 && s == TTT_OK)
    s = ttt_set_error(TTT_ERR_IO, "%s: write failed: %s", path, strerror(errno));
  if (fp && s != TTT_OK) remove(path);
  free(header);
  free(order);
  return s;
}

/* ---------------------------------------------------------------------------------------------- */
/* Checkpoint */
/* ---------------------------------------------------------------------------------------------- */

typedef struct ck_entry {
  const char *name; /* owned by the shard */
  int64_t shard;
} ck_entry;

struct ttt_checkpoint {
  char *path;
  ttt_safetensors **shards;
  int64_t n_shards;
  ck_entry *entries; /* sorted by name */
  int64_t n_entries;
};

#define TTT_INDEX_MAX_BYTES (256u * 1024u * 1024u)
#define TTT_PATH_MAX 4096

static int cmp_ck_name(const void *a, const void *b) {
  return strcmp(((const ck_entry *)a)->name, ((const ck_entry *)b)->name);
}

static const ck_entry *ck_find(const ttt_checkpoint *c, const char *name) {
  ck_entry key = {.name = name};
  return bsearch(&key, c->entries, (size_t)c->n_entries, sizeof *c->entries, cmp_ck_name);
}

static ttt_status ck_add_shard(ttt_checkpoint *c, const char *file) {
  ttt_safetensors **grown = realloc(c->shards, ((size_t)c->n_shards + 1) * sizeof *grown);
  if (!grown) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "%s: out of memory", file);
  c->shards = grown;
  ttt_status s = ttt_safetensors_open(file, &c->shards[c->n_shards]);
  if (s == TTT_OK) c->n_shards++;
  return s;
}

static ttt_status ck_open_single(ttt_checkpoint *c, const char *file) {
  ttt_status s = ck_add_shard(c, file);
  if (s != TTT_OK) return s;
  const ttt_safetensors *f = c->shards[0];
  c->entries = calloc((size_t)f->n_entries + 1, sizeof *c->entries);
  if (!c->entries) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "%s: out of memory", file);
  for (int64_t i = 0; i < f->n_entries; i++) c->entries[i] = (ck_entry){f->entries[i].name, 0};
  c->n_entries = f->n_entries;
  return TTT_OK;
}

/* A shard name from the index must be a plain file name in the index's folder. */
static bool plain_file_name(const char *name) {
  return name[0] != '\0' && strchr(name, '/') == NULL && strcmp(name, ".") != 0 &&
         strcmp(name, "..") != 0;
}

/* Opens each distinct shard of the weight map once; shard_of[i] gets the shard of entry i. */
static ttt_status ck_open_shards(ttt_checkpoint *c, const char *index, const char *dir,
                                 const cJSON *map, int64_t *shard_of) {
  const char **names = calloc((size_t)cJSON_GetArraySize(map) + 1, sizeof *names);
  if (!names) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "%s: out of memory", index);
  ttt_status s = TTT_OK;
  int64_t i = 0;
  for (const cJSON *m = map->child; m && s == TTT_OK; m = m->next, i++) {
    if (!cJSON_IsString(m) || !plain_file_name(m->valuestring)) {
      s = ttt_set_error(TTT_ERR_FORMAT,
                        "%s: weight_map['%s'] must be a shard file name in the same folder", index,
                        m->string);
      break;
    }
    int64_t k = 0;
    while (k < c->n_shards && strcmp(names[k], m->valuestring) != 0) k++;
    if (k == c->n_shards) {
      char file[TTT_PATH_MAX];
      s = ttt_hfj_join(file, sizeof file, dir, m->valuestring);
      if (s == TTT_OK) s = ck_add_shard(c, file);
      if (s != TTT_OK) s = ttt_error_prefix(s, "%s: shard '%s'", index, m->valuestring);
      names[k] = m->valuestring;
    }
    shard_of[i] = k;
  }
  free(names);
  return s;
}

/* Every indexed tensor is in its shard, and every shard tensor is indexed for that shard. */
static ttt_status ck_check_index(const ttt_checkpoint *c, const char *index) {
  for (int64_t i = 1; i < c->n_entries; i++)
    if (strcmp(c->entries[i - 1].name, c->entries[i].name) == 0)
      return ttt_set_error(TTT_ERR_FORMAT, "%s: tensor '%s' is listed twice in weight_map", index,
                           c->entries[i].name);
  for (int64_t i = 0; i < c->n_entries; i++) {
    const ttt_safetensors *f = c->shards[c->entries[i].shard];
    if (!ttt_safetensors_has(f, c->entries[i].name))
      return ttt_set_error(TTT_ERR_FORMAT,
                           "%s: tensor '%s' is mapped to %s, which does not hold it", index,
                           c->entries[i].name, f->path);
  }
  for (int64_t k = 0; k < c->n_shards; k++) {
    const ttt_safetensors *f = c->shards[k];
    for (int64_t i = 0; i < f->n_entries; i++) {
      const ck_entry *e = ck_find(c, f->entries[i].name);
      if (!e || e->shard != k)
        return ttt_set_error(TTT_ERR_FORMAT, "%s: tensor '%s' is not listed for this shard in %s",
                             f->path, f->entries[i].name, index);
    }
  }
  return TTT_OK;
}

static ttt_status ck_build_index_entries(ttt_checkpoint *c, const char *index, const cJSON *map,
                                         const int64_t *shard_of) {
  int64_t i = 0;
  for (const cJSON *m = map->child; m; m = m->next, i++) {
    const ttt_safetensors *f = c->shards[shard_of[i]];
    const st_entry *e = find_entry(f, m->string);
    /* Point at the shard's copy of the name (the JSON is freed after open); a name the shard
     * lacks keeps the JSON's pointer only until ck_check_index reports it. */
    c->entries[i] = (ck_entry){e ? e->name : m->string, shard_of[i]};
  }
  c->n_entries = i;
  qsort(c->entries, (size_t)c->n_entries, sizeof *c->entries, cmp_ck_name);
  return ck_check_index(c, index);
}

static ttt_status ck_open_index(ttt_checkpoint *c, const char *index) {
  cJSON *root;
  ttt_status s = ttt_hfj_parse_object_file(index, TTT_INDEX_MAX_BYTES, &root);
  if (s != TTT_OK) return s;
  const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
  char dir[TTT_PATH_MAX];
  snprintf(dir, sizeof dir, "%s", index);
  char *slash = strrchr(dir, '/');
  if (slash)
    *slash = '\0';
  else
    snprintf(dir, sizeof dir, ".");
  int n = cJSON_GetArraySize(map);
  int64_t *shard_of = calloc((size_t)n + 1, sizeof *shard_of);
  c->entries = calloc((size_t)n + 1, sizeof *c->entries);
  if (!cJSON_IsObject(map))
    s = ttt_set_error(TTT_ERR_FORMAT, "%s: 'weight_map' must be an object, got %s", index,
                      ttt_hfj_type_name(map));
  else if (!shard_of || !c->entries)
    s = ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "%s: out of memory", index);
  else
    s = ck_open_shards(c, index, dir, map, shard_of);
  if (s == TTT_OK) s = ck_build_index_entries(c, index, map, shard_of);
  free(shard_of);
  cJSON_Delete(root);
  return s;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static ttt_status ck_open(ttt_checkpoint *c, const char *path) {
  struct stat st;
  if (stat(path, &st) != 0)
    return ttt_set_error(TTT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  if (!S_ISDIR(st.st_mode))
    return ends_with(path, ".index.json") ? ck_open_index(c, path) : ck_open_single(c, path);
  char file[TTT_PATH_MAX];
  ttt_status s = ttt_hfj_join(file, sizeof file, path, "model.safetensors.index.json");
  if (s != TTT_OK) return s;
  if (is_file(file)) return ck_open_index(c, file);
  if ((s = ttt_hfj_join(file, sizeof file, path, "model.safetensors")) != TTT_OK) return s;
  if (is_file(file)) return ck_open_single(c, file);
  return ttt_set_error(TTT_ERR_NOT_FOUND,
                       "%s: no model.safetensors.index.json or model.safetensors in this folder",
                       path);
}

ttt_status ttt_checkpoint_open(const char *path, ttt_checkpoint **out) {
  if (!out) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ttt_checkpoint_open: out is NULL");
  *out = NULL;
  if (!path) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ttt_checkpoint_open: path is NULL");
  ttt_checkpoint *c = calloc(1, sizeof *c);
  if (!c || !(c->path = strdup(path))) {
    free(c);
    return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
  }
  ttt_status s = ck_open(c, path);
  if (s != TTT_OK) {
    ttt_checkpoint_close(c);
    return s;
  }
  *out = c;
  return TTT_OK;
}

void ttt_checkpoint_close(ttt_checkpoint *c) {
  if (!c) return;
  for (int64_t k = 0; k < c->n_shards; k++) ttt_safetensors_close(c->shards[k]);
  free(c->shards);
  free(c->entries);
  free(c->path);
  free(c);
}

const char *ttt_checkpoint_path(const ttt_checkpoint *c) { return c->path; }
int64_t ttt_checkpoint_count(const ttt_checkpoint *c) { return c->n_entries; }
int64_t ttt_checkpoint_shard_count(const ttt_checkpoint *c) { return c->n_shards; }

const char *ttt_checkpoint_name(const ttt_checkpoint *c, int64_t i) {
  return (i >= 0 && i < c->n_entries) ? c->entries[i].name : NULL;
}

bool ttt_checkpoint_has(const ttt_checkpoint *c, const char *name) {
  return name && ck_find(c, name) != NULL;
}

const char *ttt_checkpoint_file_of(const ttt_checkpoint *c, const char *name) {
  const ck_entry *e = name ? ck_find(c, name) : NULL;
  return e ? c->shards[e->shard]->path : NULL;
}

void ttt_checkpoint_release(const ttt_checkpoint *c, const char *name) {
  const ck_entry *e = c && name ? ck_find(c, name) : NULL;
  if (e) ttt_safetensors_release(c->shards[e->shard], name);
}

ttt_status ttt_checkpoint_get(const ttt_checkpoint *c, const char *name, ttt_tensor *out) {
  if (!name || !out)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ttt_checkpoint_get: NULL name or out");
  const ck_entry *e = ck_find(c, name);
  if (!e) return ttt_set_error(TTT_ERR_NOT_FOUND, "%s: no tensor '%s'", c->path, name);
  return ttt_safetensors_get(c->shards[e->shard], name, out);
}

const char *ttt_checkpoint_metadata(const ttt_checkpoint *c, const char *key) {
  return c && c->n_shards > 0 ? ttt_safetensors_metadata(c->shards[0], key) : NULL;
}
