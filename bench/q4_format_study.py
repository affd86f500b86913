#!/usr/bin/python3
"""Which 4-bit block format pays? Quantizes and dequantizes the projection and embedding weights of a
bf16/f32 Llama-style checkpoint with one of the formats below and writes the result as an f32
checkpoint, so that `ttt perplexity --strategy accuracy` measures the weights' rounding alone:

    /usr/bin/python3 bench/q4_format_study.py VARIANT OUT [SRC]      (needs python3-numpy)
    ttt perplexity --model OUT --ids-file IDS.json --ctx 512 --strategy accuracy

VARIANT: none | q4_0_absmax | q4_0_search | q4_1_like | k_style (see each function). SRC defaults
to the bundled kjv-llama. README ("4-bit weights") has the figures."""
import json, os, shutil, struct, sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SRC = os.path.join(HERE, '..', '..', 'shared', 'models', 'kjv-llama')
QUANTIZED = ('q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj',
             'embed_tokens', 'lm_head')


def read_safetensors(path):
    data = open(path, 'rb').read()
    n = struct.unpack('<Q', data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, v in header.items():
        if name == '__metadata__':
            continue
        a, b = v['data_offsets']
        raw = data[8 + n + a:8 + n + b]
        if v['dtype'] == 'BF16':
            out[name] = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
        elif v['dtype'] == 'F32':
            out[name] = np.frombuffer(raw, np.float32)
        else:
            sys.exit(f'{path}: {name}: dtype {v["dtype"]} is not handled (BF16 or F32)')
        out[name] = out[name].reshape(v['shape'])
    return out


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, a in tensors.items():
        blob = np.ascontiguousarray(a, np.float32).tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(a.shape),
                        'data_offsets': [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header).encode()
    text += b' ' * (-len(text) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)) + text + b''.join(blobs))


def f16(x):
    return np.asarray(x, np.float64).astype(np.float16).astype(np.float64)


def nearest_codes(blocks, scale):  # codes − 8, in −8..7
    safe = np.where(scale != 0, scale, 1.0)
    return np.where(scale[:, None] != 0, np.clip(np.round(blocks / safe[:, None]), -8, 7), 0)


def extremes(blocks):
    return blocks[np.arange(len(blocks)), np.abs(blocks).argmax(1)]


def q4_0_absmax(w):
    """q4_0 with the absmax rule: d = m / −8 (m: the block's extreme, sign kept)."""
    b = w.reshape(-1, 32).astype(np.float64)
    d = f16(extremes(b) / -8.0)
    return (d[:, None] * nearest_codes(b, d)).reshape(w.shape)


def q4_0_search(w):
    """q4_0 with the library's scale search (ttt/core.h): the absmax scale, and for each divisor p
    in −8.5 … −6.5 the least-squares scale of the codes of m / p; least squared error wins."""
    b = w.reshape(-1, 32).astype(np.float64)
    m = extremes(b)
    d = f16(m / -8.0)
    best = d[:, None] * nearest_codes(b, d)
    best_error = ((b - best) ** 2).sum(1)
    for p in np.arange(-8.5, -6.49, 0.25):
        q = nearest_codes(b, f16(m / p))
        norm = (q * q).sum(1)
        d = f16(np.where(norm > 0, (b * q).sum(1) / np.where(norm > 0, norm, 1), 0))
        r = d[:, None] * nearest_codes(b, d)
        error = ((b - r) ** 2).sum(1)
        better = (error < best_error) & (d != 0)
        best = np.where(better[:, None], r, best)
        best_error = np.where(better, error, best_error)
    return best.reshape(w.shape)


def fit_scale_and_min(b):
    """Per 32 values: value = s · c − mn with codes c in 0..15; s and mn least-squares fitted to the
    codes of a few grids spanning the block's range (mn >= 0: the grid starts at or below 0)."""
    lo, hi = np.minimum(b.min(1), 0), b.max(1)
    best = None
    for steps in np.linspace(14.7, 15.3, 25):
        s = np.maximum((hi - lo) / steps, 1e-30)
        c = np.clip(np.round((b - lo[:, None]) / s[:, None]), 0, 15)
        n, sc, scc, sb, sbc = 32, c.sum(1), (c * c).sum(1), b.sum(1), (b * c).sum(1)
        det = n * scc - sc * sc
        s2 = np.where(det > 0, (n * sbc - sc * sb) / np.where(det > 0, det, 1), s)
        mn2 = np.where(det > 0, -(sb - s2 * sc) / n, -lo)
        invalid = (s2 <= 0) | (mn2 < 0)
        s2, mn2 = np.where(invalid, s, s2), np.where(invalid, -lo, mn2)
        error = ((b - (s2[:, None] * c - mn2[:, None])) ** 2).sum(1)
        if best is None:
            best = [error, s2, mn2]
        else:
            better = error < best[0]
            best = [np.where(better, error, best[0]), np.where(better, s2, best[1]),
                    np.where(better, mn2, best[2])]
    return best[1], best[2]


def dequantize_scale_min(b, s, mn):
    c = np.clip(np.round((b + mn[:, None]) / np.where(s > 0, s, 1)[:, None]), 0, 15)
    return s[:, None] * c - mn[:, None]


def q4_1_like(w):
    """An f16 scale and an f16 minimum per 32 values: 5 bits per weight."""
    b = w.reshape(-1, 32).astype(np.float64)
    s, mn = fit_scale_and_min(b)
    return dequantize_scale_min(b, f16(s), f16(mn)).reshape(w.shape)


def k_style(w):
    """K-quant style, 4.5 bits per weight: super-blocks of 8 × 32 values (the whole row when its
    length is not a multiple of 256) with f16 d and dmin, and per 32 values a 6-bit scale and a
    6-bit minimum in units of d and dmin."""
    rows, k = w.shape
    per = 256 if k % 256 == 0 else k
    b = w.reshape(-1, 32).astype(np.float64)
    s, mn = (v.reshape(-1, per // 32) for v in fit_scale_and_min(b))
    d, dmin = f16(s.max(1) / 63), f16(mn.max(1) / 63)
    s = (d[:, None] * np.clip(np.round(s / np.where(d > 0, d, 1)[:, None]), 0, 63)).reshape(-1)
    mn = (dmin[:, None] * np.clip(np.round(mn / np.where(dmin > 0, dmin, 1)[:, None]), 0, 63))
    return dequantize_scale_min(b, s, mn.reshape(-1)).reshape(w.shape)


VARIANTS = {'none': lambda w: w, 'q4_0_absmax': q4_0_absmax, 'q4_0_search': q4_0_search,
            'q4_1_like': q4_1_like, 'k_style': k_style}


def main():
    if len(sys.argv) not in (3, 4) or sys.argv[1] not in VARIANTS:
        sys.exit(__doc__)
    variant, out = VARIANTS[sys.argv[1]], sys.argv[2]
    src = sys.argv[3] if len(sys.argv) == 4 else DEFAULT_SRC
    tensors = read_safetensors(os.path.join(src, 'model.safetensors'))
    errors = []
    for name, w in tensors.items():
        if w.ndim == 2 and w.shape[1] % 32 == 0 and any(q in name for q in QUANTIZED):
            r = variant(w)
            errors.append(np.sqrt(((w - r) ** 2).sum() / (w.astype(np.float64) ** 2).sum()))
            tensors[name] = r
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(src):
        if f != 'model.safetensors' and os.path.isfile(os.path.join(src, f)):
            shutil.copy(os.path.join(src, f), os.path.join(out, f))
    write_safetensors(os.path.join(out, 'model.safetensors'), tensors)
    print(f'{sys.argv[1]}: {len(errors)} tensors, mean relative RMS error {np.mean(errors):.4f}')


if __name__ == '__main__':
    main()
