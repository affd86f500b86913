/* Float64 reference of an embedding lookup. */
#include "building_blocks/block_util.h"
#include "reference_util.h"

ttt_status ttt_reference_embedding(const ttt_embedding_spec *spec,
                                   const ttt_embedding_weights *weights, const int32_t *ids,
                                   int64_t n, bool accumulate, double *out) {
  ttt_status st = ttt_embedding_spec_validate(spec);
  if (st != TTT_OK) return st;
  if (!weights || !ids || !out || n < 0)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "reference embedding: NULL argument or n < 0");
  st = ttt_block_check_matrix(&weights->table, "embedding.table", TTT_DTYPE_DEFAULT, spec->vocab,
                              spec->dim);
  if (st != TTT_OK) return st;
  for (int64_t r = 0; r < n; r++)
    if (ids[r] < 0 || ids[r] >= spec->vocab)
      return ttt_set_error(TTT_ERR_OUT_OF_RANGE,
                           "reference embedding: id %d at index %lld is outside [0, %lld)",
                           (int)ids[r], (long long)r, (long long)spec->vocab);

  double scale = spec->scale == 0.0f ? 1.0 : (double)spec->scale;
  for (int64_t r = 0; r < n; r++) {
    for (int64_t i = 0; i < spec->dim; i++) {
      double v = scale * ttt_tensor_get(&weights->table, (int64_t)ids[r] * spec->dim + i);
      double *y = &out[r * spec->dim + i];
      *y = accumulate ? *y + v : v;
    }
  }
  return TTT_OK;
}
