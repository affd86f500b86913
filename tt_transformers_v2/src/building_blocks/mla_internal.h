/*
 * mla_internal.h — what the MLA block shares with its float64 reference (not installed).
 */
#ifndef TTT_MLA_INTERNAL_H
#define TTT_MLA_INTERNAL_H

#include <ttt.h>

/* Checks every weight's presence, shape and dtype against the spec (weight_dtype DEFAULT: any
 * float dtype, as the reference reads); errors name the tensor ("mla.kv_b_proj: ..."). */
ttt_status ttt_mla_check_weights(const ttt_mla_spec *spec, ttt_dtype weight_dtype,
                                 const ttt_mla_weights *w);

#endif
