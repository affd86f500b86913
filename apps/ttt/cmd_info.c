/* ttt info: a model's spec tree, the impl configs chosen for this device, sizes. */
#include <stdio.h>
#include <string.h>

#include "cli_util.h"
#include "commands.h"

static const char *const NAME = "info";

static void print_help(void) {
  printf(
      "usage: ttt info [--model DIR] [--strategy accuracy|performance] [--threads N]\n"
      "                [--set PATH=VALUE]...\n\n"
      "Prints the device, the model's spec tree (embedding, every layer's norms, attention and\n"
      "ffn, final norm, lm head), the prefill and decode impl configs chosen for this device and\n"
      "strategy (after any --set overrides), the parameter count and the weight bytes one\n"
      "decode step streams.\n");
}

static const char *yes_no(bool b) { return b ? "yes" : "no"; }

static void print_norm_spec(const char *path, const ttt_norm_spec *s) {
  printf("  %-26s %s dim %lld eps %g%s\n", path, s->type == TTT_NORM_RMS ? "rmsnorm" : "layernorm",
         (long long)s->dim, (double)s->eps, s->weight_offset ? " (1 + w)" : "");
}

static void print_attention_spec(const char *path, const ttt_attention_spec *s) {
  static const char *const rope_names[] = {"none",   "default", "linear",
                                           "llama3", "dynamic", "yarn"};
  printf("  %-26s hidden %lld, heads %lld, kv heads %lld, head_dim %lld, rope %s theta %g", path,
         (long long)s->hidden, (long long)s->n_heads, (long long)s->n_kv_heads,
         (long long)s->head_dim, rope_names[s->rope.type], s->rope.theta);
  if (s->rope.factor) printf(" factor %g", s->rope.factor);
  printf(", bias q/k/v/o %d%d%d%d, qk_norm %s, %s", s->q_bias, s->k_bias, s->v_bias, s->o_bias,
         yes_no(s->qk_norm), s->bidirectional ? "bidirectional" : "causal");
  if (s->sliding_window) printf(", window %lld", (long long)s->sliding_window);
  printf("\n");
}

static void print_ffn_spec(const char *path, const ttt_ffn_spec *s) {
  static const char *const act_names[] = {"silu", "gelu", "gelu_tanh", "relu"};
  const ttt_mlp_spec *m = s->kind == TTT_FFN_MOE ? &s->moe.expert : &s->mlp;
  if (s->kind == TTT_FFN_MOE)
    printf("  %-26s moe %lld experts, top %lld; each ", path, (long long)s->moe.n_experts,
           (long long)s->moe.top_k);
  else
    printf("  %-26s ", path);
  printf("%s mlp %s, hidden %lld, intermediate %lld%s\n", m->gated ? "gated" : "plain",
         act_names[m->activation], (long long)m->hidden, (long long)m->intermediate,
         m->bias ? ", bias" : "");
}

static void print_spec(const ttt_causal_lm_spec *s) {
  printf("spec (context %lld):\n", (long long)s->max_positions);
  printf("  %-26s vocab %lld, dim %lld\n", "embedding", (long long)s->embedding.vocab,
         (long long)s->embedding.dim);
  char path[64];
  for (int64_t l = 0; l < s->n_layers; l++) {
    const ttt_decoder_layer_spec *layer = &s->layers[l];
    snprintf(path, sizeof path, "layers.%lld.attention_norm", (long long)l);
    print_norm_spec(path, &layer->attention_norm);
    snprintf(path, sizeof path, "layers.%lld.attention", (long long)l);
    print_attention_spec(path, &layer->attention);
    snprintf(path, sizeof path, "layers.%lld.ffn_norm", (long long)l);
    print_norm_spec(path, &layer->ffn_norm);
    snprintf(path, sizeof path, "layers.%lld.ffn", (long long)l);
    print_ffn_spec(path, &layer->ffn);
  }
  print_norm_spec("norm", &s->norm);
  printf("  %-26s hidden %lld, vocab %lld%s%s\n", "lm_head", (long long)s->lm_head.hidden,
         (long long)s->lm_head.vocab, s->tie_embeddings ? ", tied to the embedding" : "",
         s->lm_head.bias ? ", bias" : "");
}

/* One impl-config line per module and mode. */
static void print_mode(const char *mode, const ttt_causal_lm_mode_impl_config *c,
                       const ttt_causal_lm_spec *s) {
  static const char *const algorithms[] = {"default", "naive", "tiled"};
  printf("%s impl config:\n", mode);
  printf("  %-26s weight %s, threads %d\n", "embedding", ttt_dtype_name(c->embedding.weight_dtype),
         c->embedding.threads);
  char path[64];
  for (int64_t l = 0; l < s->n_layers; l++) {
    const ttt_decoder_layer_impl_config *layer = &c->layers[l];
    snprintf(path, sizeof path, "layers.%lld.attention_norm", (long long)l);
    printf("  %-26s kernel %s, threads %d\n", path, ttt_kernel_name(layer->attention_norm.kernel),
           layer->attention_norm.threads);
    const ttt_attention_impl_config *a = &layer->attention;
    snprintf(path, sizeof path, "layers.%lld.attention", (long long)l);
    printf("  %-26s weight %s, activation %s, kernel %s, threads %d, fuse_qkv %s, algorithm %s, "
           "block %d, query_block %d, kv %s\n",
           path, ttt_dtype_name(a->weight_dtype), ttt_dtype_name(a->activation_dtype),
           ttt_kernel_name(a->kernel), a->threads, yes_no(a->fuse_qkv), algorithms[a->algorithm],
           a->block_size, a->query_block, ttt_dtype_name(a->kv_dtype));
    snprintf(path, sizeof path, "layers.%lld.ffn_norm", (long long)l);
    printf("  %-26s kernel %s, threads %d\n", path, ttt_kernel_name(layer->ffn_norm.kernel),
           layer->ffn_norm.threads);
    const ttt_ffn_impl_config *f = &layer->ffn;
    snprintf(path, sizeof path, "layers.%lld.ffn", (long long)l);
    printf("  %-26s weight %s, activation %s, kernel %s, threads %d, fuse_gate_up %s", path,
           ttt_dtype_name(f->weight_dtype), ttt_dtype_name(f->activation_dtype),
           ttt_kernel_name(f->kernel), f->threads, yes_no(f->fuse_gate_up));
    if (s->layers[l].ffn.kind == TTT_FFN_MOE)
      printf(", group_by_expert %s", yes_no(f->group_by_expert));
    printf("\n");
  }
  printf("  %-26s kernel %s, threads %d\n", "norm", ttt_kernel_name(c->norm.kernel),
         c->norm.threads);
  printf("  %-26s weight %s, activation %s, kernel %s, threads %d\n", "lm_head",
         ttt_dtype_name(c->lm_head.weight_dtype), ttt_dtype_name(c->lm_head.activation_dtype),
         ttt_kernel_name(c->lm_head.kernel), c->lm_head.threads);
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
  }
  ttt_hf_model_destroy(model);
  ttt_context_destroy(ctx);
  return status;
}
