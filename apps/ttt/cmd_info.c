/* ttt info: a model's spec tree, the impl configs chosen for this device, sizes. */
#include <stdio.h>
#include <string.h>

#include "cli_util.h"
#include "commands.h"

static const char *const NAME = "info";

static void print_help(void) {
  printf("usage: ttt info [--model DIR] [--strategy accuracy|performance] [--threads N]\n"
         "                [--set PATH=VALUE]...\n\n"
         "Prints the device, the model's spec tree (embedding, every layer's topology, norms,\n"
         "attention and ffn, final norm, lm head), the prefill and decode impl configs chosen for\n"
         "this device and strategy (after any --set overrides), the parameter count, the weight\n"
         "bytes one decode step streams, and the KV-cache bytes each token adds per layer (MLA\n"
         "layers: the latent, next to what expanded keys and values would take).\n");
}

static const char *yes_no(bool b) { return b ? "yes" : "no"; }

static void print_norm_spec(const char *path, const ttt_norm_spec *s) {
  printf("  %-32s %snorm dim %lld eps %g%s%s\n", path, ttt_norm_type_name(s->type),
         (long long)s->dim, (double)s->eps, s->weight_offset ? " (1 + w)" : "",
         s->bias ? ", bias" : "");
}

static void print_attention_spec(const char *path, const ttt_attention_spec *s) {
  printf("  %-32s hidden %lld, heads %lld, kv heads %lld, head_dim %lld, rope %s theta %g", path,
         (long long)s->hidden, (long long)s->n_heads, (long long)s->n_kv_heads,
         (long long)s->head_dim, ttt_rope_type_name(s->rope.type), s->rope.theta);
  if (s->rope.factor) printf(" factor %g", s->rope.factor);
  if (s->rope.rotary_dim && s->rope.rotary_dim != s->rope.head_dim)
    printf(" rotary_dim %lld", (long long)s->rope.rotary_dim);
  if (s->rope.interleaved) printf(" interleaved");
  printf(", bias q/k/v/o %d%d%d%d, qk_norm %s", s->q_bias, s->k_bias, s->v_bias, s->o_bias,
         ttt_qk_norm_name(s->qk_norm));
  if (s->qk_norm != TTT_QK_NORM_NONE) printf(" (%snorm)", ttt_norm_type_name(s->qk_norm_spec.type));
  printf(", %s", s->bidirectional ? "bidirectional" : "causal");
  if (s->sliding_window) printf(", window %lld", (long long)s->sliding_window);
  if (s->scale) printf(", scale %g", (double)s->scale);
  if (s->softcap) printf(", softcap %g", (double)s->softcap);
  printf("\n");
}

static void print_mla_spec(const char *path, const ttt_mla_spec *s) {
  printf("  %-32s mla: hidden %lld, heads %lld, q_lora_rank %lld, kv_lora_rank %lld, qk nope %lld "
         "+ rope %lld, v %lld, rope %s theta %g",
         path, (long long)s->hidden, (long long)s->n_heads, (long long)s->q_lora_rank,
         (long long)s->kv_lora_rank, (long long)s->qk_nope_head_dim, (long long)s->qk_rope_head_dim,
         (long long)s->v_head_dim, ttt_rope_type_name(s->rope.type), s->rope.theta);
  if (s->rope.factor) printf(" factor %g", s->rope.factor);
  if (s->rope.interleaved) printf(" interleaved");
  printf(", softmax scale %g\n", ttt_mla_softmax_scale(s));
}

static void print_mlp(const ttt_mlp_spec *m) {
  printf("%s mlp %s, hidden %lld, intermediate %lld%s", m->gated ? "gated" : "plain",
         ttt_activation_name(m->activation), (long long)m->hidden, (long long)m->intermediate,
         m->bias ? ", bias" : "");
}

static void print_ffn_spec(const char *path, const ttt_ffn_spec *s) {
  printf("  %-32s %s: ", path, ttt_ffn_kind_name(s->kind));
  if (s->kind != TTT_FFN_MOE) {
    print_mlp(&s->mlp);
    printf("\n");
    return;
  }
  printf("%lld experts, top %lld%s, %s routing", (long long)s->moe.n_experts,
         (long long)s->moe.top_k, s->moe.no_renormalize ? " (not renormalized)" : "",
         ttt_moe_routing_name(s->moe.routing));
  if (s->moe.score_correction_bias) printf(" + selection bias");
  if (s->moe.n_group > 1)
    printf(", %lld of %lld groups", (long long)s->moe.topk_group, (long long)s->moe.n_group);
  if (s->moe.routed_scaling_factor) printf(", scaled %g", (double)s->moe.routed_scaling_factor);
  printf("; each ");
  print_mlp(&s->moe.expert);
  if (s->moe.shared_expert) {
    printf("; shared expert%s ", s->moe.shared_expert_gate ? " (sigmoid gate)" : "");
    print_mlp(&s->moe.shared);
  }
  printf("\n");
}

static void print_layer_spec(int64_t l, const ttt_decoder_layer_spec *layer) {
  char path[64];
  snprintf(path, sizeof path, "layers.%lld", (long long)l);
  printf("  %-32s %s norms, %s residual", path, ttt_norm_placement_name(layer->norm_placement),
         ttt_residual_topology_name(layer->residual));
  if (layer->residual_multiplier) printf(", multiplier %g", (double)layer->residual_multiplier);
  printf("\n");
  static const char *const order[] = {"attention_norm", "attention", "post_attention_norm",
                                      "ffn_norm",       "ffn",       "post_ffn_norm"};
  const ttt_norm_spec *norms[] = {&layer->attention_norm, NULL, &layer->post_attention_norm,
                                  &layer->ffn_norm,       NULL, &layer->post_ffn_norm};
  for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
    snprintf(path, sizeof path, "layers.%lld.%s", (long long)l, order[i]);
    if (strcmp(order[i], "attention") == 0 && layer->attention_kind == TTT_ATTENTION_KIND_MLA)
      print_mla_spec(path, &layer->mla);
    else if (strcmp(order[i], "attention") == 0)
      print_attention_spec(path, &layer->attention);
    else if (strcmp(order[i], "ffn") == 0)
      print_ffn_spec(path, &layer->ffn);
    else if (ttt_decoder_layer_uses_norm(layer, order[i]))
      print_norm_spec(path, norms[i]);
  }
}

static void print_spec(const ttt_causal_lm_spec *s) {
  printf("spec (context %lld):\n", (long long)s->max_positions);
  printf("  %-32s vocab %lld, dim %lld", "embedding", (long long)s->embedding.vocab,
         (long long)s->embedding.dim);
  if (s->embedding.scale) printf(", scale %g", (double)s->embedding.scale);
  printf("\n");
  if (s->position_embedding.vocab)
    printf("  %-32s positions %lld, dim %lld\n", "position_embedding",
           (long long)s->position_embedding.vocab, (long long)s->position_embedding.dim);
  for (int64_t l = 0; l < s->n_layers; l++) print_layer_spec(l, &s->layers[l]);
  print_norm_spec("norm", &s->norm);
  printf("  %-32s hidden %lld, vocab %lld%s%s", "lm_head", (long long)s->lm_head.hidden,
         (long long)s->lm_head.vocab, s->tie_embeddings ? ", tied to the embedding" : "",
         s->lm_head.bias ? ", bias" : "");
  if (s->lm_head.scale) printf(", scale %g", (double)s->lm_head.scale);
  if (s->lm_head.softcap) printf(", softcap %g", (double)s->lm_head.softcap);
  printf("\n");
}

static void print_norm_impl(int64_t l, const char *name, const ttt_norm_impl_config *n) {
  char path[64];
  snprintf(path, sizeof path, "layers.%lld.%s", (long long)l, name);
  printf("  %-32s kernel %s, threads %d\n", path, ttt_kernel_name(n->kernel), n->threads);
}

/* One impl-config line per module and mode. */
static void print_mode(const char *mode, const ttt_causal_lm_mode_impl_config *c,
                       const ttt_causal_lm_spec *s) {
  printf("%s impl config:\n", mode);
  printf("  %-32s weight %s, threads %d\n", "embedding", ttt_dtype_name(c->embedding.weight_dtype),
         c->embedding.threads);
  if (s->position_embedding.vocab)
    printf("  %-32s weight %s, threads %d\n", "position_embedding",
           ttt_dtype_name(c->position_embedding.weight_dtype), c->position_embedding.threads);
  char path[64];
  for (int64_t l = 0; l < s->n_layers; l++) {
    const ttt_decoder_layer_impl_config *layer = &c->layers[l];
    const ttt_decoder_layer_spec *ls = &s->layers[l];
    if (ttt_decoder_layer_uses_norm(ls, "attention_norm"))
      print_norm_impl(l, "attention_norm", &layer->attention_norm);
    const ttt_attention_impl_config *a = &layer->attention;
    const ttt_mla_impl_config *m = &layer->mla;
    snprintf(path, sizeof path, "layers.%lld.attention", (long long)l);
    if (ls->attention_kind == TTT_ATTENTION_KIND_MLA)
      printf("  %-32s mla: weight %s, activation %s, kernel %s, threads %d, algorithm %s, kv %s\n",
             path, ttt_dtype_name(m->weight_dtype), ttt_dtype_name(m->activation_dtype),
             ttt_kernel_name(m->kernel), m->threads, ttt_mla_algorithm_name(m->algorithm),
             ttt_dtype_name(m->kv_dtype));
    else
      printf("  %-32s weight %s, activation %s, kernel %s, threads %d, fuse_qkv %s, algorithm %s, "
             "block %d, query_block %d, kv %s\n",
             path, ttt_dtype_name(a->weight_dtype), ttt_dtype_name(a->activation_dtype),
             ttt_kernel_name(a->kernel), a->threads, yes_no(a->fuse_qkv),
             ttt_attention_algorithm_name(a->algorithm), a->block_size, a->query_block,
             ttt_dtype_name(a->kv_dtype));
    if (ttt_decoder_layer_uses_norm(ls, "post_attention_norm"))
      print_norm_impl(l, "post_attention_norm", &layer->post_attention_norm);
    if (ttt_decoder_layer_uses_norm(ls, "ffn_norm"))
      print_norm_impl(l, "ffn_norm", &layer->ffn_norm);
    const ttt_ffn_impl_config *f = &layer->ffn;
    snprintf(path, sizeof path, "layers.%lld.ffn", (long long)l);
    printf("  %-32s weight %s, activation %s, kernel %s, threads %d, fuse_gate_up %s", path,
           ttt_dtype_name(f->weight_dtype), ttt_dtype_name(f->activation_dtype),
           ttt_kernel_name(f->kernel), f->threads, yes_no(f->fuse_gate_up));
    if (ls->ffn.kind == TTT_FFN_MOE) printf(", group_by_expert %s", yes_no(f->group_by_expert));
    printf("\n");
    if (ttt_decoder_layer_uses_norm(ls, "post_ffn_norm"))
      print_norm_impl(l, "post_ffn_norm", &layer->post_ffn_norm);
  }
  printf("  %-32s kernel %s, threads %d\n", "norm", ttt_kernel_name(c->norm.kernel),
         c->norm.threads);
  printf("  %-32s weight %s, activation %s, kernel %s, threads %d\n", "lm_head",
         ttt_dtype_name(c->lm_head.weight_dtype), ttt_dtype_name(c->lm_head.activation_dtype),
         ttt_kernel_name(c->lm_head.kernel), c->lm_head.threads);
}

/* KV-cache values one token adds to a layer, and what expanded keys and values would take (the
 * same for ordinary attention; n_heads · (qk dims + v dim) for MLA). */
static int64_t kv_values_per_token(const ttt_decoder_layer_spec *ls, int64_t *expanded) {
  if (ls->attention_kind == TTT_ATTENTION_KIND_MLA)
    return ttt_mla_cache_values_per_token(&ls->mla, expanded);
  const ttt_attention_spec *a = &ls->attention;
  int64_t head_dim = a->head_dim ? a->head_dim : a->hidden / a->n_heads;
  *expanded = 2 * a->n_kv_heads * head_dim;
  return *expanded;
}

/* One line per layer: the cache bytes a token adds in the decode kv dtype (DEFAULT: f32). */
static void print_kv_per_token(const ttt_causal_lm_spec *s,
                               const ttt_causal_lm_mode_impl_config *c) {
  printf("kv cache bytes per token and layer:\n");
  int64_t total = 0, total_expanded = 0;
  for (int64_t l = 0; l < s->n_layers; l++) {
    const ttt_decoder_layer_spec *ls = &s->layers[l];
    bool mla = ls->attention_kind == TTT_ATTENTION_KIND_MLA;
    ttt_dtype dt = mla ? c->layers[l].mla.kv_dtype : c->layers[l].attention.kv_dtype;
    int64_t elem = dt == TTT_BF16 ? 2 : 4, expanded = 0;
    int64_t values = kv_values_per_token(ls, &expanded);
    char path[64];
    snprintf(path, sizeof path, "layers.%lld", (long long)l);
    printf("  %-32s %s %lld values = %lld bytes (%s); expanded K/V %lld values = %lld bytes\n",
           path, mla ? "latent" : "k/v", (long long)values, (long long)(values * elem),
           ttt_dtype_name(elem == 2 ? TTT_BF16 : TTT_F32), (long long)expanded,
           (long long)(expanded * elem));
    total += values * elem;
    total_expanded += expanded * elem;
  }
  printf("  %-32s %lld bytes; expanded K/V %lld bytes\n", "all layers", (long long)total,
         (long long)total_expanded);
}

int ttt_cmd_info(int argc, char **argv) {
  cli_model_options options = {0};
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    int r = cli_parse_model_option(argc, argv, &i, &options);
    if (r < 0) return 1;
    if (r > 0) continue;
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      print_help();
      return 0;
    }
    fprintf(stderr, "ttt %s: unknown option '%s' (see ttt %s --help)\n", NAME, arg, NAME);
    return 1;
  }
  ttt_device device;
  ttt_context *ctx = NULL;
  ttt_hf_model *model = NULL;
  double start = cli_now_seconds();
  if (cli_load_model(NAME, &options, &device, &ctx, &model) != TTT_OK) return 1;
  double load_seconds = cli_now_seconds() - start;
  int status = 0;
  char text[1024];
  if (!model->lm) {
    fprintf(stderr, "ttt %s: %s is not a causal LM (encoders are not described yet)\n", NAME,
            model->dir);
    status = 1;
  } else {
    ttt_device_describe(&device, text, sizeof text);
    printf("device     %s\n", text);
    ttt_hf_model_describe(model, text, sizeof text);
    printf("model      %s\n           %s\n", model->dir, text);
    printf("strategy   %s\n", ttt_strategy_name(options.strategy));
    printf("parameters %lld\n", (long long)ttt_causal_lm_parameter_count(model->lm));
    printf("decode weight bytes per token %lld\n",
           (long long)ttt_causal_lm_decode_weight_bytes(model->lm));
    /* 0 converted bytes: every weight is used in place from the mapped checkpoint. */
    printf("converted bytes %lld\nload seconds %.3f\n\n",
           (long long)ttt_causal_lm_converted_bytes(model->lm), load_seconds);
    const ttt_causal_lm_spec *spec = ttt_causal_lm_get_spec(model->lm);
    const ttt_causal_lm_impl_config *impl = ttt_causal_lm_get_impl_config(model->lm);
    print_spec(spec);
    printf("\n");
    print_mode("prefill", &impl->prefill, spec);
    printf("\n");
    print_mode("decode", &impl->decode, spec);
    printf("\n");
    print_kv_per_token(spec, &impl->decode);
  }
  ttt_hf_model_destroy(model);
  ttt_context_destroy(ctx);
  return status;
}
