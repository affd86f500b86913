/* dtype names, tensor views, owning allocation, and dtype conversions. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ttt.h>

#include "quant.h"

static const char *const dtype_names[TTT_DTYPE_COUNT] = {
    [TTT_DTYPE_DEFAULT] = "default",
    [TTT_F32] = "f32",
    [TTT_F16] = "f16",
    [TTT_BF16] = "bf16",
    [TTT_Q8_0] = "q8_0",
    [TTT_I32] = "i32",
    [TTT_I64] = "i64",
    [TTT_F64] = "f64",
    [TTT_Q4_0] = "q4_0",
    [TTT_Q8_0_G16] = "q8_0_g16",
    [TTT_Q4_0_G16] = "q4_0_g16",
};

/* Bytes per value for the dtypes that have a fixed element size (the block dtypes have none). */
static const size_t element_bytes[TTT_DTYPE_COUNT] = {
    [TTT_F32] = 4, [TTT_F16] = 2, [TTT_BF16] = 2, [TTT_I32] = 4, [TTT_I64] = 8, [TTT_F64] = 8,
};

const char *ttt_dtype_name(ttt_dtype dtype) {
  if ((unsigned)dtype >= TTT_DTYPE_COUNT) return "invalid";
  return dtype_names[dtype];
}

static const struct {
  const char *alias;
  ttt_dtype dtype;
} dtype_aliases[] = {
    {"float32", TTT_F32}, {"float16", TTT_F16}, {"bfloat16", TTT_BF16},
    {"int32", TTT_I32},   {"int64", TTT_I64},   {"float64", TTT_F64},
};

ttt_status ttt_dtype_parse(const char *name, ttt_dtype *out) {
  if (!name || !out)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ttt_dtype_parse: NULL argument");
  for (int d = 0; d < TTT_DTYPE_COUNT; d++) {
    if (strcmp(name, dtype_names[d]) == 0) {
      *out = (ttt_dtype)d;
      return TTT_OK;
    }
  }
  for (size_t i = 0; i < sizeof dtype_aliases / sizeof dtype_aliases[0]; i++) {
    if (strcmp(name, dtype_aliases[i].alias) == 0) {
      *out = dtype_aliases[i].dtype;
      return TTT_OK;
    }
  }
  return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                       "unknown dtype '%s' (expected one of f32, f16, bf16, q8_0, q4_0, q8_0_g16, "
                       "q4_0_g16, i32, i64, f64)",
                       name);
}

ttt_tensor ttt_tensor_view(ttt_dtype dtype, void *data, int32_t ndim, const int64_t *shape) {
  ttt_tensor t = {.dtype = dtype, .ndim = ndim, .data = data};
  for (int i = 0; i < TTT_MAX_DIMS; i++) t.shape[i] = (i < ndim && shape) ? shape[i] : 1;
  return t;
}

ttt_tensor ttt_tensor_1d(ttt_dtype dtype, void *data, int64_t d0) {
  return ttt_tensor_view(dtype, data, 1, (int64_t[]){d0});
}

ttt_tensor ttt_tensor_2d(ttt_dtype dtype, void *data, int64_t d0, int64_t d1) {
  return ttt_tensor_view(dtype, data, 2, (int64_t[]){d0, d1});
}

ttt_tensor ttt_tensor_3d(ttt_dtype dtype, void *data, int64_t d0, int64_t d1, int64_t d2) {
  return ttt_tensor_view(dtype, data, 3, (int64_t[]){d0, d1, d2});
}

/* Product of dims with overflow and sign checks; 0 when the shape is invalid. */
static int64_t shape_numel(int32_t ndim, const int64_t *shape) {
  if (ndim < 1 || ndim > TTT_MAX_DIMS) return 0;
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 1 || n > INT64_MAX / shape[i]) return 0;
    n *= shape[i];
  }
  return n;
}

int64_t ttt_tensor_numel(const ttt_tensor *t) { return t ? shape_numel(t->ndim, t->shape) : 0; }

size_t ttt_dtype_bytes(ttt_dtype dtype, int64_t numel, int64_t row_len) {
  if (numel <= 0 || (unsigned)dtype >= TTT_DTYPE_COUNT) return 0;
  if (ttt_dtype_is_block(dtype) || ttt_dtype_is_grouped(dtype)) {
    if (row_len <= 0 || row_len % TTT_Q8_0_BLOCK != 0 || numel % row_len != 0) return 0;
    if (ttt_dtype_is_grouped(dtype)) return ttt_grouped_bytes(dtype, numel / row_len, row_len);
    return (size_t)(numel / TTT_Q8_0_BLOCK) * ttt_block_bytes(dtype);
  }
  size_t size = element_bytes[dtype];
  if (size == 0 || (uint64_t)numel > SIZE_MAX / size) return 0;
  return (size_t)numel * size;
}

size_t ttt_tensor_nbytes(const ttt_tensor *t) {
  int64_t n = ttt_tensor_numel(t);
  if (n == 0) return 0;
  return ttt_dtype_bytes(t->dtype, n, t->shape[t->ndim - 1]);
}

ttt_status ttt_tensor_check(const ttt_tensor *t, const char *what) {
  if (!what) what = "tensor";
  if (!t) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "%s: NULL tensor", what);
  if (t->dtype == TTT_DTYPE_DEFAULT || (unsigned)t->dtype >= TTT_DTYPE_COUNT)
    return ttt_set_error(TTT_ERR_DTYPE, "%s: dtype is not set", what);
  if (t->ndim < 1 || t->ndim > TTT_MAX_DIMS)
    return ttt_set_error(TTT_ERR_SHAPE, "%s: ndim %d, expected 1..%d", what, (int)t->ndim,
                         TTT_MAX_DIMS);
  if (ttt_tensor_numel(t) == 0)
    return ttt_set_error(TTT_ERR_SHAPE, "%s: every dim must be >= 1 (and the size must fit)", what);
  if (ttt_dtype_is_grouped(t->dtype) && t->ndim != 2)
    return ttt_set_error(TTT_ERR_SHAPE, "%s: %s holds 2-D weights only, got ndim %d", what,
                         ttt_dtype_name(t->dtype), (int)t->ndim);
  if (ttt_tensor_nbytes(t) == 0)
    return ttt_set_error(
        TTT_ERR_SHAPE, "%s: %s needs a last dim that is a multiple of %d, got %lld", what,
        ttt_dtype_name(t->dtype), TTT_Q8_0_BLOCK, (long long)t->shape[t->ndim - 1]);
  if (!t->data) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "%s: data is NULL", what);
  return TTT_OK;
}

ttt_status ttt_tensor_alloc(ttt_tensor *out, ttt_dtype dtype, int32_t ndim, const int64_t *shape) {
  if (!out || !shape)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ttt_tensor_alloc: NULL argument");
  ttt_tensor t = ttt_tensor_view(dtype, NULL, ndim, shape);
  size_t bytes = ttt_tensor_nbytes(&t);
  if (bytes == 0)
    return ttt_set_error(TTT_ERR_SHAPE, "ttt_tensor_alloc: invalid shape or dtype %s",
                         ttt_dtype_name(dtype));
  size_t rounded = (bytes + 63) & ~(size_t)63;
  t.data = aligned_alloc(64, rounded);
  if (!t.data)
    return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "ttt_tensor_alloc: cannot allocate %zu bytes",
                         bytes);
  memset(t.data, 0, rounded);
  *out = t;
  return TTT_OK;
}

void ttt_tensor_free(ttt_tensor *t) {
  if (!t) return;
  free(t->data);
  memset(t, 0, sizeof *t);
}

/* ---- scalar conversions ---- */

static uint32_t f32_bits(float v) {
  uint32_t u;
  memcpy(&u, &v, sizeof u);
  return u;
}

static float bits_f32(uint32_t u) {
  float v;
  memcpy(&v, &u, sizeof v);
  return v;
}

float ttt_bf16_to_f32(uint16_t v) { return bits_f32((uint32_t)v << 16); }

uint16_t ttt_f32_to_bf16(float v) {
  uint32_t u = f32_bits(v);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* quiet NaN */
  uint32_t rounding = 0x7fffu + ((u >> 16) & 1u);                            /* nearest even */
  return (uint16_t)((u + rounding) >> 16);
}

float ttt_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1f) return bits_f32(sign | 0x7f800000u | (mantissa << 13)); /* inf / NaN */
  if (exponent == 0) { /* zero / subnormal */
    float magnitude = (float)mantissa * 0x1p-24f;
    return sign ? -magnitude : magnitude;
  }
  return bits_f32(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

uint16_t ttt_f32_to_f16(float v) {
  uint32_t u = f32_bits(v);
  uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
  uint32_t abs_bits = u & 0x7fffffffu;
  if (abs_bits > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);  /* NaN */
  if (abs_bits >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds to inf */
  if (abs_bits < 0x38800000u) {
    /* Subnormal half: value = m * 2^-24 with m rounded to nearest even. */
    float magnitude = bits_f32(abs_bits);
    float scaled = magnitude * 0x1p24f;
    float rounded = nearbyintf(scaled); /* default rounding mode: nearest even */
    return (uint16_t)(sign | (uint16_t)rounded);
  }
  /* Normal: drop 13 mantissa bits with round to nearest even; carries into the exponent are
   * correct by construction. */
  uint32_t rebased = abs_bits - (112u << 23);
  uint32_t rounding = 0xfffu + ((rebased >> 13) & 1u);
  return (uint16_t)(sign | ((rebased + rounding) >> 13));
}

/* Round to nearest, ties to even, for |v| < 2^22: adding and subtracting 1.5·2^23 leaves the
 * rounded value in the default rounding mode (no libm call, so the loops vectorize). ISO C mode
 * (-std=c11) neither reassociates nor contracts this into an FMA. */
static float round_even(float v) {
  const float magic = 12582912.0f;
  return (v + magic) - magic;
}

/* Clamps a rounded quotient to ±127. NaN (a NaN input, or Inf * 0 in a block holding an Inf)
 * becomes 0: casting NaN to an integer is undefined. Only the runtime's activation quantization
 * can get here with non-finite values; weights are refused first (ttt_first_non_finite). */
static float clamp_q8(float q) {
  if (q > 127.0f) return 127.0f;
  if (q < -127.0f) return -127.0f;
  return q == q ? q : 0.0f;
}

/* One q8_0 block: scale = max|x| / 127 stored as f16, q = round(x / scale) clamped to ±127. */
static void quantize_block(const float *x, uint8_t *block) {
  float amax = 0.0f;
  for (int i = 0; i < TTT_Q8_0_BLOCK; i++) {
    float a = fabsf(x[i]);
    amax = a > amax ? a : amax;
  }
  float scale = amax / 127.0f;
  uint16_t scale_h = ttt_f32_to_f16(scale);
  float inverse = scale != 0.0f ? 1.0f / scale : 0.0f;
  memcpy(block, &scale_h, 2);
  for (int i = 0; i < TTT_Q8_0_BLOCK; i++) {
    block[2 + i] = (uint8_t)(int8_t)clamp_q8(round_even(x[i] * inverse));
  }
}

ttt_status ttt_quantize_q8_0(const float *src, int64_t n, void *dst) {
  if (!src || !dst || n <= 0 || n % TTT_Q8_0_BLOCK != 0)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "ttt_quantize_q8_0: need non-NULL buffers and n a positive multiple of 32 "
                         "(got %lld)",
                         (long long)n);
  int64_t bad = ttt_first_non_finite(src, n);
  if (bad >= 0)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "ttt_quantize_q8_0: element %lld is %s; q8_0 holds finite values only",
                         (long long)bad, ttt_non_finite_name(src[bad]));
  uint8_t *out = dst;
  for (int64_t b = 0; b < n / TTT_Q8_0_BLOCK; b++)
    quantize_block(src + b * TTT_Q8_0_BLOCK, out + b * TTT_Q8_0_BLOCK_BYTES);
  return TTT_OK;
}

ttt_status ttt_dequantize_q8_0(const void *src, int64_t n, float *dst) {
  if (!src || !dst || n <= 0 || n % TTT_Q8_0_BLOCK != 0)
    return ttt_set_error(
        TTT_ERR_INVALID_ARGUMENT,
        "ttt_dequantize_q8_0: need non-NULL buffers and n a positive multiple of 32 "
        "(got %lld)",
        (long long)n);
  const uint8_t *in = src;
  for (int64_t b = 0; b < n / TTT_Q8_0_BLOCK; b++) {
    const uint8_t *block = in + b * TTT_Q8_0_BLOCK_BYTES;
    uint16_t scale_h;
    memcpy(&scale_h, block, 2);
    float scale = ttt_f16_to_f32(scale_h);
    for (int i = 0; i < TTT_Q8_0_BLOCK; i++)
      dst[b * TTT_Q8_0_BLOCK + i] = scale * (float)(int8_t)block[2 + i];
  }
  return TTT_OK;
}

double ttt_tensor_get(const ttt_tensor *t, int64_t i) {
  const uint8_t *base = t->data;
  switch (t->dtype) {
  case TTT_F32: {
    float v;
    memcpy(&v, base + 4 * i, 4);
    return v;
  }
  case TTT_F64: {
    double v;
    memcpy(&v, base + 8 * i, 8);
    return v;
  }
  case TTT_F16:
  case TTT_BF16: {
    uint16_t v;
    memcpy(&v, base + 2 * i, 2);
    return t->dtype == TTT_F16 ? ttt_f16_to_f32(v) : ttt_bf16_to_f32(v);
  }
  case TTT_I32: {
    int32_t v;
    memcpy(&v, base + 4 * i, 4);
    return v;
  }
  case TTT_I64: {
    int64_t v;
    memcpy(&v, base + 8 * i, 8);
    return (double)v;
  }
  case TTT_Q8_0: {
    const uint8_t *block = base + (i / TTT_Q8_0_BLOCK) * TTT_Q8_0_BLOCK_BYTES;
    uint16_t scale_h;
    memcpy(&scale_h, block, 2);
    return ttt_f16_to_f32(scale_h) * (float)(int8_t)block[2 + i % TTT_Q8_0_BLOCK];
  }
  case TTT_Q4_0:
    return ttt_q4_0_value(base + (i / TTT_Q4_0_BLOCK) * TTT_Q4_0_BLOCK_BYTES,
                          (int)(i % TTT_Q4_0_BLOCK));
  case TTT_Q8_0_G16:
  case TTT_Q4_0_G16:
    return ttt_grouped_value(t->dtype, base, t->shape[1], i / t->shape[1], i % t->shape[1]);
  default:
    return NAN;
  }
}

/* Reads row r (row_len values) of a float tensor as f32, with one typed loop per dtype. */
static void read_row_f32(const ttt_tensor *t, int64_t r, int64_t row_len, float *row) {
  const uint8_t *base = (const uint8_t *)t->data;
  if (t->dtype == TTT_F32) {
    memcpy(row, base + (size_t)(r * row_len) * 4, (size_t)row_len * 4);
  } else if (t->dtype == TTT_BF16 || t->dtype == TTT_F16) {
    const uint8_t *in = base + (size_t)(r * row_len) * 2;
    for (int64_t i = 0; i < row_len; i++) {
      uint16_t h;
      memcpy(&h, in + 2 * i, 2);
      row[i] = t->dtype == TTT_BF16 ? ttt_bf16_to_f32(h) : ttt_f16_to_f32(h);
    }
  } else if (t->dtype == TTT_Q8_0) {
    ttt_dequantize_q8_0(base + (size_t)(r * row_len / TTT_Q8_0_BLOCK) * TTT_Q8_0_BLOCK_BYTES,
                        row_len, row);
  } else if (t->dtype == TTT_Q4_0) {
    ttt_dequantize_q4_0(base + (size_t)(r * row_len / TTT_Q4_0_BLOCK) * TTT_Q4_0_BLOCK_BYTES,
                        row_len, row);
  } else if (ttt_dtype_is_grouped(t->dtype)) {
    ttt_grouped_dequantize_row(t->dtype, base, row_len, r, row);
  } else {
    for (int64_t i = 0; i < row_len; i++) row[i] = (float)ttt_tensor_get(t, r * row_len + i);
  }
}

/* Row r (k values) quantized to `base` (q8_0 or q4_0) blocks at `out`, for a tensor of dtype
 * `dtype` (base itself or its grouped layout, named in the error): non-finite values are refused
 * with their flat index, row and column. */
static ttt_status quantize_row(ttt_dtype dtype, ttt_dtype base, const float *row, int64_t k,
                               int64_t r, uint8_t *out) {
  int64_t bad = ttt_first_non_finite(row, k);
  if (bad >= 0)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "element %lld (row %lld, column %lld) is %s; %s holds finite values only",
                         (long long)(r * k + bad), (long long)r, (long long)bad,
                         ttt_non_finite_name(row[bad]), ttt_dtype_name(dtype));
  return base == TTT_Q8_0 ? ttt_quantize_q8_0(row, k, out) : ttt_quantize_q4_0(row, k, out);
}

/* Converts rows [begin, end) of row_len values (a multiple of 32 for q8_0 and q4_0) of a float
 * tensor from src to dst dtype, through `row`. */
static ttt_status convert_floats(const ttt_tensor *src, ttt_tensor *dst, int64_t begin, int64_t end,
                                 float *row) {
  int64_t row_len = src->shape[src->ndim - 1];
  size_t dst_row_bytes = ttt_dtype_bytes(dst->dtype, row_len, row_len);
  for (int64_t r = begin; r < end; r++) {
    read_row_f32(src, r, row_len, row);
    uint8_t *out = (uint8_t *)dst->data + (size_t)r * dst_row_bytes;
    switch (dst->dtype) {
    case TTT_F32:
      memcpy(out, row, (size_t)row_len * 4);
      break;
    case TTT_F64:
      for (int64_t i = 0; i < row_len; i++) ((double *)(void *)out)[i] = row[i];
      break;
    case TTT_BF16:
    case TTT_F16:
      for (int64_t i = 0; i < row_len; i++) {
        uint16_t h = dst->dtype == TTT_BF16 ? ttt_f32_to_bf16(row[i]) : ttt_f32_to_f16(row[i]);
        memcpy(out + 2 * i, &h, 2);
      }
      break;
    case TTT_Q8_0:
    case TTT_Q4_0: {
      ttt_status st = quantize_row(dst->dtype, dst->dtype, row, row_len, r, out);
      if (st != TTT_OK) return st;
      break;
    }
    default:
      return ttt_set_error(TTT_ERR_DTYPE, "no conversion to this dtype");
    }
  }
  return TTT_OK;
}

/* Conversions that involve a grouped dtype (layout in ttt/core.h), rows [begin, end): into one,
 * row by row through the row-major blocks of its base dtype (byte for byte when src is in that
 * dtype, else quantized from f32); out of one into its base dtype, byte for byte. `blocks` holds
 * one row of base blocks. */
static ttt_status convert_grouped(const ttt_tensor *src, ttt_tensor *dst, int64_t begin,
                                  int64_t end, float *row, uint8_t *blocks) {
  int64_t k = src->shape[src->ndim - 1];
  bool into = ttt_dtype_is_grouped(dst->dtype);
  ttt_dtype base = ttt_grouped_base(into ? dst->dtype : src->dtype);
  size_t row_bytes = ttt_dtype_bytes(base, k, k);
  for (int64_t r = begin; r < end; r++) {
    if (!into) {
      ttt_grouped_load_row(src->dtype, src->data, k, r,
                           (uint8_t *)dst->data + (size_t)r * row_bytes);
      continue;
    }
    const uint8_t *in = (const uint8_t *)src->data + (size_t)r * row_bytes;
    if (src->dtype != base) {
      read_row_f32(src, r, k, row);
      ttt_status st = quantize_row(dst->dtype, base, row, k, r, blocks);
      if (st != TTT_OK) return st;
      in = blocks;
    }
    ttt_grouped_store_row(dst->dtype, dst->data, k, r, in);
  }
  return TTT_OK;
}

/* True when convert_grouped does the conversion. */
static bool grouped_conversion(ttt_dtype from, ttt_dtype to) {
  return ttt_dtype_is_grouped(to) || (ttt_dtype_is_grouped(from) && to == ttt_grouped_base(from));
}

static bool is_integer_dtype(ttt_dtype d) { return d == TTT_I32 || d == TTT_I64; }

/* Rows [begin, end) of a conversion between different dtypes, with this call's own row buffers. */
static ttt_status convert_rows(const ttt_tensor *src, ttt_tensor *dst, int64_t begin, int64_t end) {
  int64_t row_len = src->shape[src->ndim - 1];
  float *row = malloc((size_t)row_len * sizeof *row);
  uint8_t *blocks = malloc((size_t)(row_len / TTT_Q8_0_BLOCK + 1) * TTT_Q8_0_BLOCK_BYTES);
  ttt_status st = TTT_OK;
  if (!row || !blocks)
    st = ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "out of memory for a row buffer");
  else if (grouped_conversion(src->dtype, dst->dtype))
    st = convert_grouped(src, dst, begin, end, row, blocks);
  else
    st = convert_floats(src, dst, begin, end, row);
  free(row);
  free(blocks);
  return st;
}

/* Conversions of at least CONVERT_SPLIT_VALUES values split their rows over one thread per online
 * core (at most CONVERT_MAX_THREADS), in ranges of whole 16-row groups so that no two threads write
 * into one group of a grouped layout. Each row converts on its own, so the bytes do not depend on
 * the split. Quantizing is most of the load of a bf16 checkpoint in the performance strategy, and
 * q4_0's scale search (quant_q4.c) most of `ttt quantize --dtype q4_0`. */
enum { CONVERT_SPLIT_VALUES = 1 << 20, CONVERT_MAX_THREADS = 16, CONVERT_ROW_GRAIN = 16 };

typedef struct convert_job {
  const ttt_tensor *src;
  ttt_tensor *dst;
  int64_t begin, end;
  ttt_status status;
} convert_job;

static void *run_convert_job(void *arg) {
  convert_job *job = arg;
  job->status = convert_rows(job->src, job->dst, job->begin, job->end);
  return NULL;
}

static int conversion_threads(const ttt_tensor *src, int64_t rows) {
  if (ttt_tensor_numel(src) < CONVERT_SPLIT_VALUES) return 1;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  int64_t threads = cores > 1 ? cores : 1;
  if (threads > CONVERT_MAX_THREADS) threads = CONVERT_MAX_THREADS;
  int64_t grains = (rows + CONVERT_ROW_GRAIN - 1) / CONVERT_ROW_GRAIN;
  return (int)(threads < grains ? threads : grains);
}

/* All rows, split as above. A failed range is converted again on the calling thread: errors are
 * reported per thread, and the first failing range holds the first bad row. */
static ttt_status convert_all_rows(const ttt_tensor *src, ttt_tensor *dst) {
  int64_t rows = ttt_tensor_numel(src) / src->shape[src->ndim - 1];
  int threads = conversion_threads(src, rows);
  if (threads == 1) return convert_rows(src, dst, 0, rows);
  convert_job jobs[CONVERT_MAX_THREADS];
  pthread_t ids[CONVERT_MAX_THREADS];
  bool started[CONVERT_MAX_THREADS] = {false};
  int64_t grains = (rows + CONVERT_ROW_GRAIN - 1) / CONVERT_ROW_GRAIN;
  for (int t = 0; t < threads; t++) {
    int64_t begin = grains * t / threads * CONVERT_ROW_GRAIN;
    int64_t end = grains * (t + 1) / threads * CONVERT_ROW_GRAIN;
    jobs[t] = (convert_job){src, dst, begin, end < rows ? end : rows, TTT_OK};
    /* thread 0's range runs on the caller, as does any range whose thread cannot start */
    started[t] = t > 0 && pthread_create(&ids[t], NULL, run_convert_job, &jobs[t]) == 0;
  }
  for (int t = 0; t < threads; t++)
    if (!started[t]) run_convert_job(&jobs[t]);
  for (int t = 0; t < threads; t++)
    if (started[t]) pthread_join(ids[t], NULL);
  for (int t = 0; t < threads; t++)
    if (jobs[t].status != TTT_OK) return convert_rows(src, dst, jobs[t].begin, jobs[t].end);
  return TTT_OK;
}

ttt_status ttt_tensor_convert(const ttt_tensor *src, ttt_dtype dtype, ttt_tensor *out) {
  ttt_status st = ttt_tensor_check(src, "ttt_tensor_convert source");
  if (st != TTT_OK) return st;
  if (!out) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ttt_tensor_convert: NULL output");
  if (is_integer_dtype(src->dtype) || is_integer_dtype(dtype)) {
    if (src->dtype != dtype)
      return ttt_set_error(TTT_ERR_DTYPE, "ttt_tensor_convert: cannot convert %s to %s",
                           ttt_dtype_name(src->dtype), ttt_dtype_name(dtype));
  }
  st = ttt_tensor_alloc(out, dtype, src->ndim, src->shape);
  if (st != TTT_OK) return ttt_error_prefix(st, "ttt_tensor_convert to %s", ttt_dtype_name(dtype));
  if (src->dtype == dtype) {
    memcpy(out->data, src->data, ttt_tensor_nbytes(src));
    return TTT_OK;
  }
  st = convert_all_rows(src, out);
  if (st == TTT_OK) return TTT_OK;
  ttt_tensor_free(out);
  return ttt_error_prefix(st, "ttt_tensor_convert to %s", ttt_dtype_name(dtype));
}
