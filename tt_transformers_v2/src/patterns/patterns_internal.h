/* patterns_internal.h — helpers shared by the patterns (not installed). */
#ifndef TTT_PATTERNS_INTERNAL_H
#define TTT_PATTERNS_INTERNAL_H

#include <ttt.h>

#include "building_blocks/attention_internal.h"
#include "building_blocks/block_util.h" /* ttt_observe */

ttt_status ttt_ffn_spec_validate(const ttt_ffn_spec *spec);
ttt_ffn_impl_config ttt_ffn_default_impl_config(const ttt_device *device, ttt_mode mode,
                                                const ttt_ffn_spec *spec);
ttt_status ttt_ffn_forward(ttt_context *ctx, const ttt_ffn_spec *spec,
                           const ttt_ffn_impl_config *impl, const ttt_ffn_weights *weights,
                           const ttt_tensor *x, ttt_tensor *out);

/* The layer's hidden size: mla.hidden for MLA layers, attention.hidden otherwise. */
static inline int64_t ttt_decoder_layer_hidden(const ttt_decoder_layer_spec *spec) {
  return spec->attention_kind == TTT_ATTENTION_KIND_MLA ? spec->mla.hidden : spec->attention.hidden;
}

/* The layer's rope spec (mla.rope for MLA layers). */
static inline const ttt_rope_spec *ttt_decoder_layer_rope(const ttt_decoder_layer_spec *spec) {
  return spec->attention_kind == TTT_ATTENTION_KIND_MLA ? &spec->mla.rope : &spec->attention.rope;
}

/* A decoder layer over the rows of several sequences (see ttt_attention_seqs_forward): x and out
 * are [Σ rows, hidden]; norms, feed-forward and residual adds run over all rows at once, attention
 * per sequence. Observer events carry all rows, with start_pos = seqs[0].start. */
ttt_status ttt_decoder_layer_seqs_forward(ttt_context *ctx, ttt_mode mode,
                                          const ttt_decoder_layer_spec *spec,
                                          const ttt_decoder_layer_impl_config *impl,
                                          const ttt_decoder_layer_weights *weights,
                                          const ttt_rope *rope, const ttt_attention_seq *seqs,
                                          int64_t n_seqs, const ttt_tensor *x, ttt_tensor *out,
                                          const char *path, const ttt_observer *observer);

#endif
