/* Impl-config defaults and argument checks shared by the building blocks. */
#include "block_util.h"

#include <stdlib.h>
#include <string.h>

/* Prefill is compute-bound (many tokens share each weight read: GEMM-style, experts grouped);
 * decode is bandwidth-bound (one token: GEMV over the same kernels, experts run per token). Both
 * fuse the projections that read the same input, which saves a parallel region per layer. */
static const ttt_block_defaults defaults_by_mode[] = {
    [TTT_MODE_PREFILL] = {.weight_dtype = TTT_F32,
                          .activation_dtype = TTT_F32,
                          .kernel = TTT_KERNEL_SIMD,
                          .fuse_projections = true,
                          .group_by_expert = true},
    [TTT_MODE_DECODE] = {.weight_dtype = TTT_F32,
                         .activation_dtype = TTT_F32,
                         .kernel = TTT_KERNEL_SIMD,
                         .fuse_projections = true,
                         .group_by_expert = false},
};

const ttt_block_defaults *ttt_block_defaults_for(ttt_mode mode) {
  if ((unsigned)mode >= sizeof defaults_by_mode / sizeof defaults_by_mode[0])
    return &defaults_by_mode[TTT_MODE_PREFILL];
  return &defaults_by_mode[mode];
}

ttt_dtype ttt_block_weight_dtype(ttt_dtype requested) {
  return requested == TTT_DTYPE_DEFAULT ? defaults_by_mode[TTT_MODE_PREFILL].weight_dtype
                                        : requested;
}

ttt_dtype ttt_block_activation_dtype(ttt_dtype requested) {
  return requested == TTT_DTYPE_DEFAULT ? defaults_by_mode[TTT_MODE_PREFILL].activation_dtype
                                        : requested;
}

ttt_kernel ttt_block_kernel(ttt_kernel requested) {
  return requested == TTT_KERNEL_DEFAULT ? defaults_by_mode[TTT_MODE_PREFILL].kernel : requested;
}

static bool is_float_dtype(ttt_dtype d) {
  return d == TTT_F32 || d == TTT_F16 || d == TTT_BF16 || d == TTT_Q8_0 || d == TTT_F64 ||
         d == TTT_Q4_0 || d == TTT_Q8_0_G16 || d == TTT_Q4_0_G16;
}

/* Weight dtypes whose only kernels take q8_0 activations. */
static bool needs_q8_activations(ttt_dtype d) {
  return d == TTT_Q4_0 || d == TTT_Q8_0_G16 || d == TTT_Q4_0_G16;
}

ttt_status ttt_block_check_impl(const char *what, ttt_dtype weight_dtype,
                                ttt_dtype activation_dtype, ttt_kernel kernel) {
  if (weight_dtype == TTT_F64 || !is_float_dtype(weight_dtype))
    return ttt_set_error(TTT_ERR_DTYPE,
                         "%s: weight_dtype %s is not one of f32, f16, bf16, q8_0, q4_0, q8_0_g16, "
                         "q4_0_g16",
                         what, ttt_dtype_name(weight_dtype));
  if (activation_dtype != TTT_F32 && activation_dtype != TTT_Q8_0 && activation_dtype != TTT_BF16)
    return ttt_set_error(TTT_ERR_DTYPE, "%s: activation_dtype %s is not f32, q8_0 or bf16", what,
                         ttt_dtype_name(activation_dtype));
  if (activation_dtype == TTT_BF16 && weight_dtype != TTT_BF16)
    return ttt_set_error(TTT_ERR_DTYPE,
                         "%s: activation_dtype bf16 needs weight_dtype bf16 (got %s)", what,
                         ttt_dtype_name(weight_dtype));
  if (activation_dtype == TTT_Q8_0 && weight_dtype != TTT_Q8_0 &&
      !needs_q8_activations(weight_dtype))
    return ttt_set_error(TTT_ERR_DTYPE,
                         "%s: activation_dtype q8_0 needs weight_dtype q8_0, q4_0, q8_0_g16 or "
                         "q4_0_g16 (got %s)",
                         what, ttt_dtype_name(weight_dtype));
  if (needs_q8_activations(weight_dtype) && activation_dtype != TTT_Q8_0)
    return ttt_set_error(TTT_ERR_DTYPE, "%s: weight_dtype %s needs activation_dtype q8_0 (got %s)",
                         what, ttt_dtype_name(weight_dtype), ttt_dtype_name(activation_dtype));
  if (kernel != TTT_KERNEL_REFERENCE && kernel != TTT_KERNEL_SIMD)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "%s: kernel %d is not a ttt_kernel value", what,
                         (int)kernel);
  return TTT_OK;
}

static ttt_status check_dtype(const ttt_tensor *t, const char *name, ttt_dtype dtype) {
  if (dtype == TTT_DTYPE_DEFAULT) {
    if (!is_float_dtype(t->dtype))
      return ttt_set_error(TTT_ERR_DTYPE, "%s: dtype %s is not a float dtype", name,
                           ttt_dtype_name(t->dtype));
    return TTT_OK;
  }
  if (t->dtype != dtype)
    return ttt_set_error(TTT_ERR_DTYPE, "%s: dtype %s, expected %s", name, ttt_dtype_name(t->dtype),
                         ttt_dtype_name(dtype));
  return TTT_OK;
}

ttt_status ttt_block_check_matrix(const ttt_tensor *t, const char *name, ttt_dtype dtype,
                                  int64_t rows, int64_t cols) {
  ttt_status st = ttt_tensor_check(t, name);
  if (st != TTT_OK) return st;
  if (t->ndim != 2 || t->shape[0] != rows || t->shape[1] != cols)
    return ttt_set_error(TTT_ERR_SHAPE, "%s: shape must be [%lld, %lld], got ndim %d [%lld, %lld]",
                         name, (long long)rows, (long long)cols, (int)t->ndim,
                         (long long)t->shape[0], (long long)(t->ndim > 1 ? t->shape[1] : 0));
  return check_dtype(t, name, dtype);
}

ttt_status ttt_block_check_vector(const ttt_tensor *t, const char *name, ttt_dtype dtype,
                                  int64_t n) {
  ttt_status st = ttt_tensor_check(t, name);
  if (st != TTT_OK) return st;
  bool flat = t->ndim == 1 && t->shape[0] == n;
  bool row = t->ndim == 2 && t->shape[0] == 1 && t->shape[1] == n;
  if (!flat && !row)
    return ttt_set_error(TTT_ERR_SHAPE, "%s: shape must be [%lld], got ndim %d with %lld values",
                         name, (long long)n, (int)t->ndim, (long long)ttt_tensor_numel(t));
  return check_dtype(t, name, dtype);
}

ttt_status ttt_block_check_optional(const ttt_tensor *t, const char *name, bool wanted,
                                    const char *flag) {
  bool present = ttt_block_present(t);
  if (!wanted && present)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "%s: given, but %s is false", name, flag);
  if (wanted && !present)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "%s: missing (data is NULL), but %s is true",
                         name, flag);
  return TTT_OK;
}

ttt_status ttt_block_check_rows(const ttt_tensor *t, const char *name, int64_t rows, int64_t cols) {
  ttt_status st = ttt_tensor_check(t, name);
  if (st != TTT_OK) return st;
  if (t->dtype != TTT_F32)
    return ttt_set_error(TTT_ERR_DTYPE, "%s: dtype %s, expected f32", name,
                         ttt_dtype_name(t->dtype));
  if (t->ndim != 2 || t->shape[1] != cols || (rows >= 0 && t->shape[0] != rows)) {
    if (rows >= 0)
      return ttt_set_error(TTT_ERR_SHAPE,
                           "%s: shape must be [%lld, %lld], got ndim %d [%lld, %lld]", name,
                           (long long)rows, (long long)cols, (int)t->ndim, (long long)t->shape[0],
                           (long long)(t->ndim > 1 ? t->shape[1] : 0));
    return ttt_set_error(TTT_ERR_SHAPE, "%s: shape must be [T, %lld], got ndim %d [%lld, %lld]",
                         name, (long long)cols, (int)t->ndim, (long long)t->shape[0],
                         (long long)(t->ndim > 1 ? t->shape[1] : 0));
  }
  return TTT_OK;
}

ttt_status ttt_block_check_no_alias(const ttt_tensor *out, const ttt_tensor *x, const char *what) {
  /* Compared as integers: relational operators on pointers into different objects are undefined. */
  uintptr_t o = (uintptr_t)out->data, xs = (uintptr_t)x->data;
  uintptr_t o_end = o + ttt_tensor_nbytes(out), x_end = xs + ttt_tensor_nbytes(x);
  if (o < x_end && xs < o_end)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "%s: out must not overlap x", what);
  return TTT_OK;
}

void ttt_observe(const ttt_observer *observer, const char *prefix, const char *name, ttt_mode mode,
                 int64_t start_pos, const ttt_tensor *input, const ttt_tensor *output) {
  if (!observer || !observer->fn) return;
  const char *single = prefix ? prefix : name ? name : "layer";
  if (!(prefix && name)) {
    ttt_module_event event = {single, mode, start_pos, input, output};
    observer->fn(observer->user, &event);
    return;
  }
  /* prefix.name, on the stack when it fits (always, for the library's own paths), else on the
   * heap: a path is never truncated. */
  char local[128];
  size_t prefix_len = strlen(prefix), name_len = strlen(name);
  size_t need = prefix_len + 1 + name_len + 1;
  char *path = need <= sizeof local ? local : malloc(need);
  if (!path)
    return; /* out of memory: the event is dropped rather than reported with a wrong path */
  memcpy(path, prefix, prefix_len);
  path[prefix_len] = '.';
  memcpy(path + prefix_len + 1, name, name_len + 1);
  ttt_module_event event = {path, mode, start_pos, input, output};
  observer->fn(observer->user, &event);
  if (path != local) free(path);
}
