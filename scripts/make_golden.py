#!/usr/bin/env python3
"""make_golden.py — a golden file for `ttt validate` from any HuggingFace causal LM.

    make_golden.py MODEL_DIR OUT.safetensors [--prompt-len T] [--decode D] [--seed S]
                   [--ids 1,2,3] [--decode-ids 4,5]
    make_golden.py --rewrite IN.safetensors OUT.safetensors

The first form needs PyTorch and transformers (any version that has the architecture; on a machine
without them, see the README, "Bring up a new model"). It loads MODEL_DIR in float32 with eager
attention on the CPU and writes, in the safetensors format `ttt validate` reads:
    input_ids       [T]     I64  the prompt (random ids from --seed, or --ids)
    decode_ids      [D]     I64  tokens fed one at a time after the prompt (teacher-forced)
    logits.prefill  [T, V]  F32  one forward over the prompt
    logits.decode   [D, V]  F32  after each decode step, with the KV cache
    logits.full     [T+D, V] F32 one forward over prompt + decode tokens, no cache
    trace.<module>.in / .out     F32  each module's first input and its output during the prefill,
                                 batch dimension removed (the module names are HF's: model.layers.0.mlp)
Linear layers, dropouts, activations and rotary helpers are not traced (the library has no module
for them); every other module is, so the descriptor's module table decides what is compared.

The second form reads a golden file and writes it again through the same writer (no PyTorch
needed): the project's tests use it to check that what this script writes is what ttt validate
reads.
"""
import argparse
import json
import struct
import sys

# safetensors dtype names of the values this script writes, with struct codes and sizes.
DTYPES = {"F32": ("f", 4), "I64": ("q", 8), "F64": ("d", 8), "I32": ("i", 4)}
NOT_TRACED = ("Linear", "Conv1D", "Dropout", "RotaryEmbedding", "Activation",
              "GELU", "SiLU", "NewGELU", "Identity")


def write_safetensors(path, tensors):
    """tensors: list of (name, dtype, shape, raw little-endian bytes), written in that order."""
    header, offset = {}, 0
    for name, dtype, shape, data in tensors:
        size = DTYPES[dtype][1]
        count = 1
        for d in shape:
            count *= d
        if len(data) != count * size:
            raise ValueError(f"{name}: {len(data)} bytes for shape {shape} of {dtype}")
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data section starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for _, _, _, data in tensors:
            f.write(data)


def read_safetensors(path):
    """The tensors of a safetensors file as (name, dtype, shape, bytes), in file order."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    header.pop("__metadata__", None)
    items = sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0])
    return [(k, v["dtype"], v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]]) for k, v in items]


def rewrite(src, dst):
    tensors = read_safetensors(src)
    for name, dtype, _, _ in tensors:
        if dtype not in DTYPES:
            raise ValueError(f"{src}: tensor {name} has dtype {dtype}, not one this script writes")
    write_safetensors(dst, tensors)
    print(f"{dst}: {len(tensors)} tensors rewritten from {src}")


def run_hf(args):
    import torch  # noqa: only the HF path needs PyTorch and transformers
    import transformers

    torch.set_grad_enabled(False)
    model = transformers.AutoModelForCausalLM.from_pretrained(
        args.model, torch_dtype=torch.float32, attn_implementation="eager").eval()
    vocab = model.config.vocab_size
    g = torch.Generator().manual_seed(args.seed)
    ids = ([int(x) for x in args.ids.split(",")] if args.ids
           else torch.randint(0, vocab, (args.prompt_len,), generator=g).tolist())
    dec = ([int(x) for x in args.decode_ids.split(",")] if args.decode_ids
           else torch.randint(0, vocab, (args.decode,), generator=g).tolist())

    def f32(t):
        return t.detach().to(torch.float32).contiguous().numpy().tobytes()

    def first_tensor(x):
        if torch.is_tensor(x):
            return x
        if isinstance(x, (tuple, list)) and x and torch.is_tensor(x[0]):
            return x[0]
        return getattr(x, "last_hidden_state", None) if not isinstance(x, (tuple, list)) else None

    traces, hooks = [], []

    def hook(name):
        def record(module, inputs, output):
            for kind, value in (("in", first_tensor(inputs)), ("out", first_tensor(output))):
                if value is not None and value.dim() >= 2 and value.shape[0] == 1:
                    v = value[0]
                    traces.append((f"trace.{name}.{kind}", "F32", list(v.shape), f32(v)))
        return record

    for name, module in model.named_modules():
        if name and not any(k in type(module).__name__ for k in NOT_TRACED):
            hooks.append(module.register_forward_hook(hook(name)))
    x = torch.tensor([ids])
    out = model(x, use_cache=True)
    for h in hooks:
        h.remove()
    prefill, past = out.logits[0], out.past_key_values
    decode = []
    for i, token in enumerate(dec):
        step = model(torch.tensor([[token]]), past_key_values=past, use_cache=True,
                     cache_position=torch.tensor([len(ids) + i]))
        past = step.past_key_values
        decode.append(step.logits[0, -1])
    full = model(torch.tensor([ids + dec]), use_cache=False).logits[0]

    def i64(values):
        return struct.pack(f"<{len(values)}q", *values)

    tensors = [("input_ids", "I64", [len(ids)], i64(ids)), ("decode_ids", "I64", [len(dec)], i64(dec)),
               ("logits.prefill", "F32", list(prefill.shape), f32(prefill))]
    if dec:
        d = torch.stack(decode)
        tensors.append(("logits.decode", "F32", list(d.shape), f32(d)))
    tensors.append(("logits.full", "F32", list(full.shape), f32(full)))
    write_safetensors(args.out, tensors + traces)
    print(f"{args.out}: {len(ids)} prompt + {len(dec)} decode tokens, {len(traces)} traces")


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model", nargs="?", help="HuggingFace model folder")
    p.add_argument("out", nargs="?", help="output golden.safetensors")
    p.add_argument("--rewrite", nargs=2, metavar=("IN", "OUT"), help="rewrite a golden file")
    p.add_argument("--prompt-len", type=int, default=20)
    p.add_argument("--decode", type=int, default=6)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ids", help="prompt token ids, comma-separated (default: random)")
    p.add_argument("--decode-ids", help="decode token ids, comma-separated (default: random)")
    args = p.parse_args(argv)
    if args.rewrite:
        rewrite(*args.rewrite)
    elif args.model and args.out:
        run_hf(args)
    else:
        p.error("give MODEL_DIR OUT, or --rewrite IN OUT")


if __name__ == "__main__":
    main(sys.argv[1:])
