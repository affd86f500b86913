/* ttt: the command line of tt-transformers in C. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ttt.h>

#include "commands.h"

static const ttt_cli_command commands[] = {
    {"generate", "continue a prompt with sampling, streaming the text", NULL, ttt_cmd_generate},
    {"chat", "an interactive chat on the terminal (models with a chat template)", ttt_cmd_chat,
     NULL},
    {"chat-template", "print a model's chat template rendered with messages from a JSON file",
     ttt_cmd_chat_template, NULL},
    {"perplexity", "mean NLL and perplexity of a text or token ids", NULL, ttt_cmd_perplexity},
    {"bench", "prefill and decode tokens/s, weight bandwidth per token", NULL, ttt_cmd_bench},
    {"gen-model", "write a random-weight HF checkpoint of a published shape", ttt_cmd_gen_model,
     NULL},
    {"quantize", "write a pre-quantized checkpoint (q8_0 or q4_0) that loads without conversion",
     ttt_cmd_quantize, NULL},
    {"serve", "OpenAI-compatible HTTP server with continuous batching", ttt_cmd_serve, NULL},
    {"info", "spec tree, impl configs chosen for this device, sizes", ttt_cmd_info, NULL},
    {"tokenize", "print the token ids of a text as a JSON array", ttt_cmd_tokenize, NULL},
    {"detokenize", "print the text of token ids", ttt_cmd_detokenize, NULL},
    {"logits", "write a causal LM's prefill and decode logits for ids in a safetensors file", NULL,
     ttt_cmd_logits},
    {"encode", "write an encoder's hidden states (and pooled output) for a batch of ids",
     ttt_cmd_encode, NULL},
    {"embed", "print sentence embeddings of texts (sentence-transformers pooling)", ttt_cmd_embed,
     NULL},
    {"validate", "compare every module of a model with a HuggingFace golden file", NULL,
     ttt_cmd_validate},
};

static void print_help(FILE *out) {
  fprintf(out, "ttt %s — tt-transformers in C\n\nusage: ttt <command> [options]\n\ncommands:\n",
          ttt_version());
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
  fprintf(out, "\n  ttt <command> --help   options of a command\n  ttt --version\n");
}

/* True when mpirun (Open MPI, or a PMI/PMIx launcher) started this process: only then is MPI
 * initialized, so that a plain `ttt` never pays for it. */
static bool launched_by_mpirun(void) {
  return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

/* Runs a command on this process's rank. Only rank 0 prints to stdout; a failure on any rank
 * (its message already on stderr) ends every rank of the job. */
static int run_command(const ttt_cli_command *command, int argc, char **argv, ttt_comm *comm) {
  int32_t rank = ttt_comm_rank(comm), size = ttt_comm_size(comm);
  if (size > 1 && !command->run_ranks) {
    if (rank == 0)
      fprintf(stderr,
              "ttt %s: runs in one process; under mpirun with several ranks only generate, "
              "perplexity, logits, validate and bench split a model over the ranks\n",
              command->name);
    return 2;
  }
  if (rank != 0 && !freopen("/dev/null", "w", stdout)) {
    fprintf(stderr, "ttt: rank %d cannot silence its stdout\n", (int)rank);
    return 1;
  }
  int rc = command->run_ranks ? command->run_ranks(argc, argv, comm) : command->run(argc, argv);
  if (rc != 0 && size > 1) {
    fprintf(stderr, "ttt %s: rank %d of %d failed (exit status %d); ending all ranks\n",
            command->name, (int)rank, (int)size, rc);
    ttt_comm_abort(comm, rc);
  }
  return rc;
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
  const ttt_cli_command *command = NULL;
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp(argv[1], commands[i].name) == 0) command = &commands[i];
  if (command) {
    ttt_comm *comm = NULL;
    if (launched_by_mpirun() && ttt_comm_create_mpi(&comm) != TTT_OK) {
      fprintf(stderr, "ttt %s: %s\n", command->name, ttt_last_error());
      return 1;
    }
    int rc = run_command(command, argc - 1, argv + 1, comm);
    ttt_comm_destroy(comm);
    return rc;
  }
  fprintf(stderr, "ttt: unknown command '%s' (see ttt --help)\n", argv[1]);
  return 2;
}
