/*
 * ffn_internal.h — the MLP pieces the MoE block reuses for its experts (not installed).
 */
#ifndef TTT_FFN_INTERNAL_H
#define TTT_FFN_INTERNAL_H

#include <ttt.h>

/* A copy of *impl (or of zero when NULL) with zero fields resolved to the defaults. */
ttt_mlp_impl_config ttt_mlp_resolve_impl(const ttt_mlp_impl_config *impl);

/* Checks an MLP's weights against its spec and the resolved weight dtype (DEFAULT: any float
 * dtype, for the references); errors name each tensor as "<prefix>.gate", "<prefix>.up_bias"...
 * or, for index >= 0, "<prefix>[index].gate". It runs on every forward (each decode token), so
 * the names are only formatted once a check has failed. */
ttt_status ttt_mlp_check_weights(const ttt_mlp_spec *spec, ttt_dtype weight_dtype,
                                 const ttt_mlp_weights *w, const char *prefix, int64_t index);

/* Checks the router ([n_experts, hidden] f32) and every expert's weights ("moe.experts[3].up").
 * weight_dtype DEFAULT accepts any float dtype everywhere (what the references read). */
ttt_status ttt_moe_check_weights(const ttt_moe_spec *spec, ttt_dtype weight_dtype,
                                 const ttt_moe_weights *w);

/* The MLP on T rows of x (row stride spec->hidden) into out (T × hidden, not aliasing x), with
 * arguments already validated and `cfg` resolved. Intermediates live in the scratch workspace
 * (released before returning). */
ttt_status ttt_mlp_run(ttt_context *ctx, const ttt_mlp_spec *spec, const ttt_mlp_impl_config *cfg,
                       const ttt_mlp_weights *w, const float *x, int64_t T, float *out);

#endif
