/* ttt: the command line of tt-transformers in C. */
#include <stdio.h>
#include <string.h>

#include <ttt.h>

#include "commands.h"

static const ttt_cli_command commands[] = {
    {"generate", "continue a prompt with sampling, streaming the text", ttt_cmd_generate},
    {"chat", "an interactive chat on the terminal (models with a chat template)", ttt_cmd_chat},
    {"chat-template", "print a model's chat template rendered with messages from a JSON file",
     ttt_cmd_chat_template},
    {"perplexity", "mean NLL and perplexity of a text or token ids", ttt_cmd_perplexity},
    {"bench", "prefill and decode tokens/s, weight bandwidth per token", ttt_cmd_bench},
    {"gen-model", "write a random-weight HF checkpoint of a published shape", ttt_cmd_gen_model},
    {"quantize", "write a pre-quantized checkpoint (q8_0 or q4_0) that loads without conversion",
     ttt_cmd_quantize},
    {"serve", "OpenAI-compatible HTTP server with continuous batching", ttt_cmd_serve},
    {"info", "spec tree, impl configs chosen for this device, sizes", ttt_cmd_info},
    {"tokenize", "print the token ids of a text as a JSON array", ttt_cmd_tokenize},
    {"detokenize", "print the text of token ids", ttt_cmd_detokenize},
    {"logits", "write a causal LM's prefill and decode logits for ids in a safetensors file",
     ttt_cmd_logits},
    {"encode", "write an encoder's hidden states (and pooled output) for a batch of ids",
     ttt_cmd_encode},
    {"embed", "print sentence embeddings of texts (sentence-transformers pooling)", ttt_cmd_embed},
    {"validate", "compare every module of a model with a HuggingFace golden file",
     ttt_cmd_validate},
};

static void print_help(FILE *out) {
  fprintf(out, "ttt %s — tt-transformers in C\n\nusage: ttt <command> [options]\n\ncommands:\n",
          ttt_version());
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
  fprintf(out, "\n  ttt <command> --help   options of a command\n  ttt --version\n");
}

int main(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    print_help(stdout);
    return argc < 2 ? 1 : 0;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("ttt %s\n", ttt_version());
    return 0;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "ttt: unknown command '%s' (see ttt --help)\n", argv[1]);
  return 2;
}
