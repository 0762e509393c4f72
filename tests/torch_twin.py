#!/usr/bin/python3
"""Independent PyTorch twin of fastfnet (see docs/MODEL.md for the model contract).

Run with Debian's PyTorch interpreter:

  /usr/bin/python3 tests/torch_twin.py --fastfnet build/fastfnet --dump build/twin_dump \
      [--workdir DIR] [--only NAME[,NAME...]] [--dtype float64|float32]
  /usr/bin/python3 tests/torch_twin.py --selftest [--workdir DIR]

For every case of a small built-in matrix the C tool creates a model file (`fastfnet init`), this script
writes an input batch, `twin_dump` writes the C engine's logits, loss, gradients, the losses along 5 AdamW
steps and the final parameters, and the same quantities are recomputed here in PyTorch (float64 by
default) from the same model file and compared.

Relative error of a tensor: max|c - t| / max(max|t|, 1e-30)  (normwise max; c = C, t = twin).
Exception, stated in the output: `attention.self.key.bias` has a gradient that is exactly zero in exact
arithmetic (softmax is invariant to adding the same q.b_k to every score of a row), so both sides
only hold rounding noise there; its error is scaled by the gradient of the same layer's key weight.

`fastfnet_heads` may also list "pooler" (the C side writes it; MODEL.md only says the pooler exists when
nsp or classifier does): the pooler is built when listed or when nsp/classifier is present.

The model here is written from the definition (HF's modeling_fnet layer structure, plus explicit BERT
self-attention and the Fast-FNet reduction); nothing is taken from the C sources.

The safetensors reader/writer is self-contained (struct + json + numpy); the `safetensors` package is
not needed. The `--selftest` mode needs no C binaries: it checks the Fourier mixing against explicit
DFT matrices, runs torch.autograd.gradcheck on tiny float64 models of every kind, checks the AdamW
setup against a hand-written AdamW, and runs the whole case matrix against a stand-in "C side" made of
this same script computing in float32 (fake `init` and `twin_dump` executables written to the workdir).
"""

import argparse
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

# Tolerance on the relative error (definition above) of logits, loss, every gradient and the 6 AdamW
# losses. Do not loosen.
TOL = 1e-4
# AdamW exactly as torch.optim.AdamW, weight decay only on parameters with ndim >= 2.
ADAM_LR, ADAM_BETAS, ADAM_EPS, ADAM_WD, ADAM_STEPS = 1e-3, (0.9, 0.999), 1e-8, 0.01, 5
IGNORE = -100

torch = None  # imported lazily (the fake `init` of the selftest does not need it)
nn = None


def _import_torch():
    global torch, nn
    if torch is None:
        import torch as _t
        import torch.nn as _nn
        torch, nn = _t, _nn
        torch.set_num_threads(1)
    return torch


# ----------------------------------------------------------------------------------------------------
# safetensors: 8-byte little-endian header length, JSON header, raw little-endian data
# ----------------------------------------------------------------------------------------------------
_ST_DT = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
          "I8": "i1", "U8": "u1", "BOOL": "?"}
_NP_ST = {np.dtype("<f8"): "F64", np.dtype("<f4"): "F32", np.dtype("<f2"): "F16",
          np.dtype("<i8"): "I64", np.dtype("<i4"): "I32", np.dtype("i1"): "I8", np.dtype("u1"): "U8"}


def st_read(path):
    """Returns ({name: np.ndarray}, metadata dict). F16/BF16 are converted to float32."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: too short for safetensors")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError(f"{path}: header length {n} beyond end of file")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", None) or {}
    base = 8 + n
    out = {}
    for name, info in header.items():
        dt, shape, (b, e) = info["dtype"], list(info["shape"]), info["data_offsets"]
        if not (0 <= b <= e and base + e <= len(data)):
            raise ValueError(f"{path}: {name}: bad data_offsets {b},{e}")
        buf = data[base + b: base + e]
        count = int(np.prod(shape)) if shape else 1
        if dt == "BF16":
            u16 = np.frombuffer(buf, "<u2")
            arr = (u16.astype("<u4") << 16).view("<f4")
        elif dt in _ST_DT:
            arr = np.frombuffer(buf, _ST_DT[dt])
        else:
            raise ValueError(f"{path}: {name}: unsupported dtype {dt}")
        if arr.size != count:
            raise ValueError(f"{path}: {name}: {arr.size} elements for shape {shape}")
        if dt == "F16":
            arr = arr.astype("<f4")
        out[name] = arr.reshape(shape).copy()
    return out, meta


def st_write(path, tensors, metadata=None):
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name])
        arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
        if arr.dtype not in _NP_ST:
            raise ValueError(f"{name}: cannot store dtype {arr.dtype}")
        raw = arr.tobytes()
        header[name] = {"dtype": _NP_ST[arr.dtype], "shape": list(arr.shape),
                        "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for raw in blobs:
            f.write(raw)
    os.replace(tmp, path)


# ----------------------------------------------------------------------------------------------------
# Config (docs/MODEL.md)
# ----------------------------------------------------------------------------------------------------
CONFIG_DEFAULTS = {
    "vocab_size": 32000, "hidden_size": 768, "num_hidden_layers": 12, "intermediate_size": 3072,
    "hidden_act": "gelu_new", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
    "max_position_embeddings": 512, "type_vocab_size": 4, "initializer_range": 0.02,
    "layer_norm_eps": 1e-12, "pad_token_id": 3, "num_attention_heads": 12, "num_labels": 2,
    "fastfnet_residual": "dense", "fastfnet_fourier_impl": "auto",
    "fastfnet_pad": "first", "fastfnet_block_ffn": "unchanged",
}


def resolve_config(raw, tensor_names=()):
    cfg = dict(CONFIG_DEFAULTS)
    cfg.update(raw)
    ours = any(k.startswith("fastfnet_") for k in raw)
    if "fastfnet_mixing" not in raw:
        cfg["fastfnet_mixing"] = ["fourier"] * cfg["num_hidden_layers"]
    if "fastfnet_heads" not in raw:
        if ours:
            cfg["fastfnet_heads"] = ["mlm", "nsp", "classifier"]
        else:  # google/fnet-base style config.json
            cfg["fastfnet_heads"] = ["mlm", "nsp"] + (
                ["classifier"] if "classifier.weight" in tensor_names else [])
    if cfg["hidden_act"] != "gelu_new":
        raise ValueError(f"hidden_act {cfg['hidden_act']!r} unsupported")
    if len(cfg["fastfnet_mixing"]) != cfg["num_hidden_layers"]:
        raise ValueError("fastfnet_mixing must have num_hidden_layers entries")
    if cfg["fastfnet_pad"] not in ("first", "centred") or cfg["fastfnet_block_ffn"] not in ("unchanged", "halved"):
        raise ValueError("fastfnet_pad must be first|centred, fastfnet_block_ffn unchanged|halved")
    return cfg


def layer_widths(cfg):
    """[(kind, W_in, W_out, F_out)] per layer. The authors' block (fast_fourier_pad) keeps W_out = W_in (it
    pads back) and runs at W_in/2 inside, with FFN width F*W/E, halved when fastfnet_block_ffn says so."""
    E, F = cfg["hidden_size"], cfg["intermediate_size"]
    out, w = [], E
    for kind in cfg["fastfnet_mixing"]:
        if kind == "fast_fourier_pad":
            if w % 2:
                raise ValueError(f"fast_fourier_pad on odd width {w}")
            fo = F * w // E
            out.append((kind, w, w, fo // 2 if cfg["fastfnet_block_ffn"] == "halved" else fo))
            continue
        if kind == "fast_fourier":
            if w % 2:
                raise ValueError(f"fast_fourier on odd width {w}")
            wo = w // 2
        elif kind in ("fourier", "attention"):
            wo = w
        else:
            raise ValueError(f"unknown mixing {kind!r}")
        if (F * wo) % E:
            raise ValueError(f"intermediate_size*{wo}/hidden_size is not an integer")
        if kind == "attention" and wo % cfg["num_attention_heads"]:
            raise ValueError(f"width {wo} not divisible by {cfg['num_attention_heads']} heads")
        out.append((kind, w, wo, F * wo // E))
        w = wo
    return out


def param_shapes(cfg):
    """Every parameter name and shape, written from the MODEL.md listing (independent of the torch
    modules below, which must produce exactly the same names; the selftest's fake init uses this)."""
    V, E, P = cfg["vocab_size"], cfg["hidden_size"], cfg["max_position_embeddings"]
    s = {"fnet.embeddings.word_embeddings.weight": (V, E),
         "fnet.embeddings.position_embeddings.weight": (P, E),
         "fnet.embeddings.token_type_embeddings.weight": (cfg["type_vocab_size"], E),
         "fnet.embeddings.LayerNorm.weight": (E,), "fnet.embeddings.LayerNorm.bias": (E,),
         "fnet.embeddings.projection.weight": (E, E), "fnet.embeddings.projection.bias": (E,)}
    w = E
    kinds = [lw[0] for lw in layer_widths(cfg)]
    for i, (kind, w, wo, fo) in enumerate(layer_widths(cfg)):
        p = f"fnet.encoder.layer.{i}."
        if kind == "fast_fourier_pad":
            h = w // 2
            if (i == 0 or kinds[i - 1] != "fast_fourier_pad") and cfg["fastfnet_residual"] == "dense":
                s[p + "fourier.residual.dense.weight"], s[p + "fourier.residual.dense.bias"] = (h, w), (h,)
            s[p + "fourier.output.LayerNorm.weight"] = s[p + "fourier.output.LayerNorm.bias"] = (h,)
            s[p + "intermediate.dense.weight"], s[p + "intermediate.dense.bias"] = (fo, h), (fo,)
            s[p + "output.dense.weight"], s[p + "output.dense.bias"] = (h, fo), (h,)
            s[p + "output.LayerNorm.weight"] = s[p + "output.LayerNorm.bias"] = (h,)
            continue
        if kind == "attention":
            for m in ("query", "key", "value"):
                s[p + f"attention.self.{m}.weight"], s[p + f"attention.self.{m}.bias"] = (w, w), (w,)
            s[p + "attention.output.dense.weight"], s[p + "attention.output.dense.bias"] = (w, w), (w,)
            s[p + "attention.output.LayerNorm.weight"] = s[p + "attention.output.LayerNorm.bias"] = (w,)
        else:
            s[p + "fourier.output.LayerNorm.weight"] = s[p + "fourier.output.LayerNorm.bias"] = (wo,)
            if kind == "fast_fourier" and cfg["fastfnet_residual"] == "dense":
                s[p + "fourier.residual.dense.weight"] = (wo, w)
                s[p + "fourier.residual.dense.bias"] = (wo,)
        s[p + "intermediate.dense.weight"], s[p + "intermediate.dense.bias"] = (fo, wo), (fo,)
        s[p + "output.dense.weight"], s[p + "output.dense.bias"] = (wo, fo), (wo,)
        s[p + "output.LayerNorm.weight"] = s[p + "output.LayerNorm.bias"] = (wo,)
        w = wo
    heads = cfg["fastfnet_heads"]
    if "nsp" in heads or "classifier" in heads or "pooler" in heads:
        s["fnet.pooler.dense.weight"], s["fnet.pooler.dense.bias"] = (w, w), (w,)
    if "mlm" in heads:
        s["cls.predictions.transform.dense.weight"] = (E, w)
        s["cls.predictions.transform.dense.bias"] = (E,)
        s["cls.predictions.transform.LayerNorm.weight"] = (E,)
        s["cls.predictions.transform.LayerNorm.bias"] = (E,)
        s["cls.predictions.bias"] = (V,)
    if "nsp" in heads:
        s["cls.seq_relationship.weight"], s["cls.seq_relationship.bias"] = (2, w), (2,)
    if "classifier" in heads:
        s["classifier.weight"], s["classifier.bias"] = (cfg["num_labels"], w), (cfg["num_labels"],)
    return s


def normalize_names(tensors):
    """HF-compatible aliases accepted on load (MODEL.md): missing `fnet.` prefix, tied decoder."""
    out = {}
    for name, t in tensors.items():
        if name.endswith("position_ids"):
            continue
        if name.split(".")[0] in ("embeddings", "encoder", "pooler"):
            name = "fnet." + name
        out[name] = t
    dec_w = out.pop("cls.predictions.decoder.weight", None)
    if dec_w is not None and "fnet.embeddings.word_embeddings.weight" in out:
        if not np.array_equal(dec_w, out["fnet.embeddings.word_embeddings.weight"]):
            raise ValueError("cls.predictions.decoder.weight differs from the tied word embeddings")
    dec_b = out.pop("cls.predictions.decoder.bias", None)
    if dec_b is not None and "cls.predictions.bias" not in out:
        out["cls.predictions.bias"] = dec_b
    return out


# ----------------------------------------------------------------------------------------------------
# The model (HF modeling_fnet structure; module attribute names give the tensor names directly)
# ----------------------------------------------------------------------------------------------------
def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))


def reduce_half(kind, x, dense=None):
    """The Dimension Reduction H -> H/2 of the last axis: a dense layer, max/average pooling of pairs, or slicing."""
    if kind == "dense":
        return dense(x)
    if kind == "maxpool":
        return torch.maximum(x[..., 0::2], x[..., 1::2])
    if kind == "avgpool":
        return 0.5 * (x[..., 0::2] + x[..., 1::2])
    return x[..., : x.shape[-1] // 2]  # slice


def build_modules():
    """Defines the module classes once torch is imported."""
    _import_torch()

    class FNetEmbeddings(nn.Module):
        def __init__(self, cfg):
            super().__init__()
            E = cfg["hidden_size"]
            self.word_embeddings = nn.Embedding(cfg["vocab_size"], E)
            self.position_embeddings = nn.Embedding(cfg["max_position_embeddings"], E)
            self.token_type_embeddings = nn.Embedding(cfg["type_vocab_size"], E)
            self.LayerNorm = nn.LayerNorm(E, eps=cfg["layer_norm_eps"])
            self.projection = nn.Linear(E, E)

        def forward(self, ids, types):
            T = ids.shape[1]
            pos = torch.arange(T, device=ids.device)
            e = self.word_embeddings(ids) + self.token_type_embeddings(types)
            e = e + self.position_embeddings(pos)[None]
            return self.projection(self.LayerNorm(e))  # dropout: identity (p = 0 in the twin)

    class FNetBasicFourierTransform(nn.Module):
        """Re(2-D DFT over (sequence, hidden)); fast_fourier keeps hidden bins 0..W/2-1."""

        def __init__(self, keep=None):
            super().__init__()
            self.keep = keep

        def forward(self, x):
            y = torch.fft.fftn(x, dim=(1, 2)).real
            return y if self.keep is None else y[..., :self.keep]

    class ResidualDense(nn.Module):
        def __init__(self, w):
            super().__init__()
            self.dense = nn.Linear(w, w // 2)

        def forward(self, x):
            return self.dense(x)

    class FNetBasicOutput(nn.Module):
        def __init__(self, w, eps):
            super().__init__()
            self.LayerNorm = nn.LayerNorm(w, eps=eps)

        def forward(self, mix, r):
            return self.LayerNorm(mix + r)

    class FNetFourierTransform(nn.Module):
        def __init__(self, cfg, w, fast):
            super().__init__()
            self.self = FNetBasicFourierTransform(w // 2 if fast else None)
            self.output = FNetBasicOutput(w // 2 if fast else w, cfg["layer_norm_eps"])
            self.reduce = cfg["fastfnet_residual"] if fast else None
            if self.reduce == "dense":
                self.residual = ResidualDense(w)
            elif self.reduce not in (None, "maxpool", "avgpool", "slice"):
                raise ValueError(f"unknown fastfnet_residual {self.reduce!r}")

        def forward(self, x, key_pad=None):
            mix = self.self(x)
            if self.reduce is None:
                r = x
            else:
                r = reduce_half(self.reduce, x, getattr(self, "residual", None))
            return self.output(mix, r)

    class BertSelfAttention(nn.Module):
        def __init__(self, w, nh):
            super().__init__()
            self.nh = nh
            self.query, self.key, self.value = nn.Linear(w, w), nn.Linear(w, w), nn.Linear(w, w)

        def forward(self, x, key_pad):
            B, T, W = x.shape
            nh, d = self.nh, W // self.nh

            def heads(t):  # (B, T, W) -> (B, nh, T, d)
                return t.reshape(B, T, nh, d).permute(0, 2, 1, 3)

            q, k, v = heads(self.query(x)), heads(self.key(x)), heads(self.value(x))
            scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d)
            scores = scores.masked_fill(key_pad[:, None, None, :], float("-inf"))
            probs = torch.softmax(scores, dim=-1)  # dropout: identity
            ctx = torch.matmul(probs, v)
            return ctx.permute(0, 2, 1, 3).reshape(B, T, W)

    class BertSelfOutput(nn.Module):
        def __init__(self, w, eps):
            super().__init__()
            self.dense = nn.Linear(w, w)
            self.LayerNorm = nn.LayerNorm(w, eps=eps)

        def forward(self, ctx, x):
            return self.LayerNorm(self.dense(ctx) + x)

    class BertAttention(nn.Module):
        def __init__(self, cfg, w):
            super().__init__()
            self.self = BertSelfAttention(w, cfg["num_attention_heads"])
            self.output = BertSelfOutput(w, cfg["layer_norm_eps"])

        def forward(self, x, key_pad):
            return self.output(self.self(x, key_pad), x)

    class FNetIntermediate(nn.Module):
        def __init__(self, w, f):
            super().__init__()
            self.dense = nn.Linear(w, f)

        def forward(self, h):
            return gelu_new(self.dense(h))

    class FNetOutput(nn.Module):
        def __init__(self, f, w, eps):
            super().__init__()
            self.dense = nn.Linear(f, w)
            self.LayerNorm = nn.LayerNorm(w, eps=eps)

        def forward(self, g, h):
            return self.LayerNorm(self.dense(g) + h)

    class FNetLayer(nn.Module):
        def __init__(self, cfg, kind, w, wo, fo):
            super().__init__()
            self.kind = kind
            if kind == "attention":
                self.attention = BertAttention(cfg, w)
            else:
                self.fourier = FNetFourierTransform(cfg, w, kind == "fast_fourier")
            self.intermediate = FNetIntermediate(wo, fo)
            self.output = FNetOutput(fo, wo, cfg["layer_norm_eps"])

        def forward(self, x, key_pad):
            mixer = self.attention if self.kind == "attention" else self.fourier
            h = mixer(x, key_pad)
            return self.output(self.intermediate(h), h)

    class AuthorsFourier(nn.Module):
        """Altered Fourier layer + Add & Normalize of the authors' block: LN(Re(fftn(x))[..., :W/2] + res),
        res = the previous block's output (the values inside x's padding) after a block of this kind, else the
        Dimension Reduction of x."""

        def __init__(self, cfg, w, after_block):
            super().__init__()
            self.h, self.after_block, self.reduce = w // 2, after_block, cfg["fastfnet_residual"]
            self.pad = cfg["fastfnet_pad"]
            self.output = FNetBasicOutput(w // 2, cfg["layer_norm_eps"])
            if not after_block and self.reduce == "dense":
                self.residual = ResidualDense(w)

        def lead(self, w):  # zeros before the values
            return 0 if self.pad == "first" else (w - self.h) // 2

        def forward(self, x):
            mix = torch.fft.fftn(x, dim=(1, 2)).real[..., :self.h]  # the padding is transformed too
            if self.after_block:
                a = self.lead(x.shape[-1])
                r = x[..., a:a + self.h]
            else:
                r = reduce_half(self.reduce, x, getattr(self, "residual", None))
            return self.output(mix, r)

    class AuthorsBlock(nn.Module):
        def __init__(self, cfg, w, fo, after_block):
            super().__init__()
            self.fourier = AuthorsFourier(cfg, w, after_block)
            self.intermediate = FNetIntermediate(w // 2, fo)
            self.output = FNetOutput(fo, w // 2, cfg["layer_norm_eps"])

        def forward(self, x, key_pad):
            h = self.fourier(x)
            y = self.output(self.intermediate(h), h)
            w, a = x.shape[-1], self.fourier.lead(x.shape[-1])
            return torch.nn.functional.pad(y, (a, w - a - y.shape[-1]))  # ZeroPad back to W

    class FNetEncoder(nn.Module):
        def __init__(self, cfg):
            super().__init__()
            lws = layer_widths(cfg)
            self.layer = nn.ModuleList(
                AuthorsBlock(cfg, lw[1], lw[3], i > 0 and lws[i - 1][0] == "fast_fourier_pad")
                if lw[0] == "fast_fourier_pad" else FNetLayer(cfg, *lw) for i, lw in enumerate(lws))

        def forward(self, x, key_pad):
            for lyr in self.layer:
                x = lyr(x, key_pad)
            return x

    class FNetPooler(nn.Module):
        def __init__(self, w):
            super().__init__()
            self.dense = nn.Linear(w, w)

        def forward(self, h):
            return torch.tanh(self.dense(h[:, 0]))

    class FNetModel(nn.Module):
        def __init__(self, cfg, with_pooler):
            super().__init__()
            self.pad = cfg["pad_token_id"]
            self.embeddings = FNetEmbeddings(cfg)
            self.encoder = FNetEncoder(cfg)
            self.pooler = FNetPooler(layer_widths(cfg)[-1][2]) if with_pooler else None

        def forward(self, ids, types):
            key_pad = ids == self.pad
            key_pad = key_pad & ~key_pad.all(dim=1, keepdim=True)  # all-pad row: attend to all keys
            h = self.encoder(self.embeddings(ids, types), key_pad)
            return h, (self.pooler(h) if self.pooler is not None else None)

    class FNetPredictionHeadTransform(nn.Module):
        def __init__(self, cfg, d):
            super().__init__()
            self.dense = nn.Linear(d, cfg["hidden_size"])
            self.LayerNorm = nn.LayerNorm(cfg["hidden_size"], eps=cfg["layer_norm_eps"])

        def forward(self, h):
            return self.LayerNorm(gelu_new(self.dense(h)))

    class FNetLMPredictionHead(nn.Module):
        def __init__(self, cfg, d):
            super().__init__()
            self.transform = FNetPredictionHeadTransform(cfg, d)
            self.bias = nn.Parameter(torch.zeros(cfg["vocab_size"]))

        def forward(self, h, word_weight):  # decoder tied to the word embeddings
            return torch.matmul(self.transform(h), word_weight.t()) + self.bias

    class FNetPreTrainingHeads(nn.Module):
        def __init__(self, cfg, d, mlm, nsp):
            super().__init__()
            self.predictions = FNetLMPredictionHead(cfg, d) if mlm else None
            self.seq_relationship = nn.Linear(d, 2) if nsp else None

    class FastFNetTwin(nn.Module):
        def __init__(self, cfg):
            super().__init__()
            heads = cfg["fastfnet_heads"]
            for hd in heads:
                if hd not in ("mlm", "nsp", "classifier", "pooler"):
                    raise ValueError(f"unknown head {hd!r}")
            self.heads = list(heads)
            d = layer_widths(cfg)[-1][2]
            self.fnet = FNetModel(cfg, "nsp" in heads or "classifier" in heads or "pooler" in heads)
            self.cls = (FNetPreTrainingHeads(cfg, d, "mlm" in heads, "nsp" in heads)
                        if ("mlm" in heads or "nsp" in heads) else None)
            self.classifier = nn.Linear(d, cfg["num_labels"]) if "classifier" in heads else None

        def forward(self, ids, types):
            h, pooled = self.fnet(ids, types)
            out = {}
            if "mlm" in self.heads:
                out["mlm"] = self.cls.predictions(h, self.fnet.embeddings.word_embeddings.weight)
            if "nsp" in self.heads:
                out["nsp"] = self.cls.seq_relationship(pooled)
            if "classifier" in self.heads:
                out["cls"] = self.classifier(pooled)  # dropout: identity
            return out

    return FastFNetTwin


_TWIN_CLASS = None


def make_model(cfg, dtype):
    global _TWIN_CLASS
    if _TWIN_CLASS is None:
        _TWIN_CLASS = build_modules()
    return _TWIN_CLASS(cfg).to(dtype)


def load_model(tensors, cfg, dtype):
    """Model with the file's parameters; raises if names or shapes differ from MODEL.md."""
    model = make_model(cfg, dtype)
    tensors = normalize_names(tensors)
    expected = dict(model.named_parameters())
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise ValueError(f"model file tensors differ from MODEL.md: missing {missing}, unexpected {extra}")
    with torch.no_grad():
        for name, p in expected.items():
            t = tensors[name]
            if tuple(t.shape) != tuple(p.shape):
                raise ValueError(f"{name}: shape {tuple(t.shape)} != {tuple(p.shape)}")
            p.copy_(torch.from_numpy(np.asarray(t, dtype=np.float64)))
    return model


def head_losses(logits, batch):
    F = torch.nn.functional
    total = 0.0
    if "mlm" in logits:
        V = logits["mlm"].shape[-1]
        total = total + F.cross_entropy(logits["mlm"].reshape(-1, V), batch["mlm_labels"].reshape(-1),
                                        ignore_index=IGNORE)
    if "nsp" in logits:
        total = total + F.cross_entropy(logits["nsp"], batch["nsp_labels"], ignore_index=IGNORE)
    if "cls" in logits:
        total = total + F.cross_entropy(logits["cls"], batch["cls_labels"], ignore_index=IGNORE)
    return total


def torch_batch(inputs):
    return {k: torch.from_numpy(np.asarray(v, dtype=np.int64)) for k, v in inputs.items()}


def make_adamw(model):
    params = list(model.parameters())
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": ADAM_WD},
                              {"params": no_decay, "weight_decay": 0.0}],
                             lr=ADAM_LR, betas=ADAM_BETAS, eps=ADAM_EPS)


def reference(tensors, cfg, inputs, dtype_name="float64"):
    """Everything twin_dump writes, recomputed here. Returns {name: np.float64 array}."""
    _import_torch()
    dtype = getattr(torch, dtype_name)
    model = load_model(tensors, cfg, dtype)
    batch = torch_batch(inputs)
    opt = make_adamw(model)
    out, losses = {}, []
    for k in range(ADAM_STEPS + 1):
        opt.zero_grad(set_to_none=True)
        logits = model(batch["input_ids"], batch["token_type_ids"])
        loss = head_losses(logits, batch)
        losses.append(loss.item())
        if k == 0:
            for h, t in logits.items():
                out[f"logits.{h}"] = t.detach().double().numpy()
            out["loss"] = np.array([loss.item()])
        if k == ADAM_STEPS:
            break
        loss.backward()
        if k == 0:
            for name, p in model.named_parameters():
                g = p.grad if p.grad is not None else torch.zeros_like(p)
                out[f"grad.{name}"] = g.detach().double().numpy().copy()
        opt.step()
    out["adamw.loss"] = np.array(losses)
    for name, p in model.named_parameters():
        out[f"final.{name}"] = p.detach().double().numpy().copy()
    return out


# ----------------------------------------------------------------------------------------------------
# Cases, inputs, comparison
# ----------------------------------------------------------------------------------------------------
BASE = dict(V=61, E=16, N=3, F=32, H=4, P=32, L=3, B=3, T=12)


def _case(name, args, mixing, residual=None, pad="first", bffn="unchanged", **over):
    d = dict(BASE)
    d.update(over)
    return dict(name=name, args=args, mixing=mixing, residual=residual, pad=pad, bffn=bffn, **d)


FF, FO, AT, FP = "fast_fourier", "fourier", "attention", "fast_fourier_pad"
CASES = [
    _case("fnet", ["--arch", "fnet"], [FO] * 3),
    _case("fnet-odd", ["--arch", "fnet"], [FO] * 3, E=30, T=13, H=3, F=60),
    _case("bert", ["--arch", "bert"], [AT] * 3),
    _case("hybrid", ["--arch", "hybrid", "--attention-layers", "1"], [FO, FO, AT]),
] + [
    _case(f"narrow-{r}", ["--arch", "fast-fnet-narrow", "--reduce", "0", "--residual", r], [FF, FO, FO], r)
    for r in ("dense", "maxpool", "avgpool", "slice")
] + [
    _case("narrow-2x", ["--arch", "fast-fnet-narrow", "--reduce", "0,2", "--residual", "dense"],
          [FF, FO, FF], "dense"),
    _case("narrow-hybrid", ["--arch", "fast-fnet-narrow", "--residual", "dense",
                            "--mixing", "fast_fourier,fourier,attention"], [FF, FO, AT], "dense", H=2),
] + [
    # the authors' model: every reduction, both pad positions, both FFN widths, and mixed with other layers
    _case(f"authors-{r}", ["--arch", "fast-fnet", "--residual", r], [FP] * 3, r) for r in ("dense", "maxpool", "avgpool", "slice")
] + [
    _case("authors-centred", ["--arch", "fast-fnet", "--pad", "centred"], [FP] * 3, "dense", pad="centred"),
    _case("authors-halved", ["--arch", "fast-fnet", "--block-ffn", "halved"], [FP] * 3, "dense", bffn="halved"),
    _case("authors-centred-halved-odd", ["--arch", "fast-fnet", "--pad", "centred", "--block-ffn", "halved",
                                         "--residual", "avgpool"], [FP] * 3, "avgpool", pad="centred", bffn="halved",
          E=12, F=24, H=3, T=13),
    _case("authors-mixed", ["--arch", "fast-fnet", "--pad", "centred", "--mixing",
                            "fast_fourier_pad,fourier,fast_fourier_pad"], [FP, FO, FP], "dense", pad="centred"),
]


def init_args(case):
    return case["args"] + [
        "--vocab", str(case["V"]), "--hidden", str(case["E"]), "--layers", str(case["N"]),
        "--intermediate", str(case["F"]), "--heads", str(case["H"]), "--max-pos", str(case["P"]),
        "--labels", str(case["L"])]


def make_inputs(case, pad, seed):
    rng = np.random.RandomState(seed)
    B, T, V, L = case["B"], case["T"], case["V"], case["L"]
    ids = rng.randint(0, V - 1, size=(B, T))
    ids = np.where(ids >= pad, ids + 1, ids)  # uniform over [0, V) without pad
    types = np.zeros((B, T), np.int64)
    for b in range(B):
        n = T if b == 0 else int(rng.randint(1, T))  # row 0 unpadded, the others padded
        ids[b, n:] = pad
        split = int(rng.randint(0, n + 1))
        types[b, split:] = 1
    mlm = np.where(rng.rand(B, T) < 0.7, IGNORE, rng.randint(0, V, size=(B, T)))
    if (mlm == IGNORE).all():
        mlm[0, 1] = int(rng.randint(0, V))
    # Near init every class probability is ~1/L, so the bias gradient of a head is ~(B/L - count_l)/B:
    # with every label equally frequent it cancels to ~0 and its relative error measures only
    # rounding. Draw label sets whose counts are not all equal.
    def labels(n):
        while True:
            y = rng.randint(0, n, size=B)
            cnt = np.bincount(y, minlength=n)
            if cnt.max() != cnt.min():
                return y.astype(np.int32)
    return {"input_ids": ids.astype(np.int32), "token_type_ids": types.astype(np.int32),
            "mlm_labels": mlm.astype(np.int32), "nsp_labels": labels(2), "cls_labels": labels(L)}


def rel_err(c, t):
    c, t = np.asarray(c, np.float64), np.asarray(t, np.float64)
    if c.shape != t.shape:
        return float("inf")
    if c.size == 0:
        return 0.0
    if not np.all(np.isfinite(c)):
        return float("inf")
    return float(np.max(np.abs(c - t)) / max(float(np.max(np.abs(t))), 1e-30))


def _key_bias_scale(name, ref):
    """Scale for gradients that are zero in exact arithmetic (see module docstring)."""
    if name.endswith("attention.self.key.bias"):
        w = "grad." + name[:-len("bias")] + "weight"
        if w in ref:
            return float(np.max(np.abs(ref[w])))
    return 0.0


def check_config(case, cfg):
    want = {"vocab_size": case["V"], "hidden_size": case["E"], "num_hidden_layers": case["N"],
            "intermediate_size": case["F"], "num_attention_heads": case["H"],
            "max_position_embeddings": case["P"], "num_labels": case["L"],
            "fastfnet_mixing": case["mixing"], "hidden_dropout_prob": 0,
            "attention_probs_dropout_prob": 0}
    if case["residual"]:
        want["fastfnet_residual"] = case["residual"]
    if FP in case["mixing"]:
        want["fastfnet_pad"], want["fastfnet_block_ffn"] = case["pad"], case["bffn"]
    bad = [f"{k}={cfg.get(k)!r} (want {v!r})" for k, v in want.items() if cfg.get(k) != v]
    missing_heads = [h for h in ("mlm", "nsp", "classifier") if h not in cfg["fastfnet_heads"]]
    if missing_heads:
        bad.append(f"fastfnet_heads lacks {missing_heads}")
    return bad


def compare(c, ref, param_names):
    """Returns (failures, summary string)."""
    fails, parts = [], []
    # logits
    lerr, lname = 0.0, "-"
    for key in sorted(k for k in ref if k.startswith("logits.")):
        if key not in c:
            fails.append(f"missing {key}")
            continue
        e = rel_err(c[key], ref[key])
        if c[key].shape != ref[key].shape:
            fails.append(f"{key} shape {c[key].shape} != {ref[key].shape}")
        if e > lerr or lname == "-":
            lerr, lname = max(e, lerr), key
    extra_logits = sorted(k for k in c if k.startswith("logits.") and k not in ref)
    if extra_logits:
        fails.append(f"unexpected {extra_logits}")
    parts.append(f"logits {lerr:.2e} ({lname[7:]})")
    if lerr > TOL:
        fails.append(f"logits err {lerr:.2e} > {TOL:g} ({lname})")
    # loss
    if "loss" in c:
        e = rel_err(np.ravel(c["loss"])[:1], ref["loss"]) if np.size(c["loss"]) == 1 else float("inf")
        parts.append(f"loss {e:.2e} (C {float(np.ravel(c['loss'])[0]):.6f} twin {ref['loss'][0]:.6f})")
        if e > TOL:
            fails.append(f"loss err {e:.2e} > {TOL:g}")
    else:
        fails.append("missing loss")
    # gradients
    gmax, gname, zero_notes = 0.0, "-", []
    missing = [n for n in param_names if f"grad.{n}" not in c]
    extra = sorted(k[5:] for k in c if k.startswith("grad.") and k[5:] not in param_names)
    if missing:
        fails.append(f"missing gradients for {len(missing)} parameters: {missing[:6]}")
    if extra:
        fails.append(f"gradients for unknown parameters: {extra[:6]}")
    bad_grads = []
    for n in param_names:
        key = f"grad.{n}"
        if key not in c:
            continue
        t = ref[key]
        scale = _key_bias_scale(n, ref)
        if scale > 0:
            cc = np.asarray(c[key], np.float64)
            e = (float(np.max(np.abs(cc - t))) / max(float(np.max(np.abs(t))), scale, 1e-30)
                 if cc.shape == t.shape and np.all(np.isfinite(cc)) else float("inf"))
            zero_notes.append(n)
        else:
            e = rel_err(c[key], t)
        if e > gmax or gname == "-":
            gmax, gname = max(e, gmax), n
        if e > TOL:
            bad_grads.append(f"{n} {e:.2e}")
    if bad_grads:
        fails.append(f"{len(bad_grads)} gradients over {TOL:g}: " + ", ".join(bad_grads[:8]))
    parts.append(f"grad {gmax:.2e} ({gname})")
    # adamw losses
    if "adamw.loss" in c and np.size(c["adamw.loss"]) == ADAM_STEPS + 1:
        ca, ta = np.ravel(c["adamw.loss"]).astype(np.float64), ref["adamw.loss"]
        errs = [rel_err(ca[k:k + 1], ta[k:k + 1]) for k in range(ADAM_STEPS + 1)]
        e = max(errs)
        parts.append(f"adamw {e:.2e} (losses C {ca[0]:.5f}->{ca[-1]:.5f} twin {ta[0]:.5f}->{ta[-1]:.5f})")
        if e > TOL:
            fails.append(f"adamw loss err {e:.2e} > {TOL:g} (per step {['%.1e' % x for x in errs]})")
    else:
        fails.append(f"missing or misshaped adamw.loss (want {ADAM_STEPS + 1} values)")
    # final params (reported only; the attention key bias has no effect on the loss, see docstring)
    fmax, fname, fmissing = 0.0, "-", []
    for n in param_names:
        key = f"final.{n}"
        if key not in c:
            fmissing.append(n)
            continue
        if n.endswith("attention.self.key.bias"):
            continue
        e = rel_err(c[key], ref[key])
        if e > fmax or fname == "-":
            fmax, fname = max(e, fmax), n
    if fmissing:
        fails.append(f"missing final parameters for {len(fmissing)}: {fmissing[:6]}")
    parts.append(f"final {fmax:.2e} ({fname}; reported only)")
    if zero_notes:
        parts.append(f"[{len(zero_notes)} key.bias grads scaled by key.weight grad]")
    return fails, "  ".join(parts)


def run_cmd(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"command failed (rc {r.returncode}): {' '.join(cmd)}\n"
                           f"--- stderr ---\n{r.stderr.strip()}\n--- stdout ---\n{r.stdout.strip()[-2000:]}")
    return r


def run_case(case, seed, fastfnet, dump, workdir, dtype):
    name = case["name"]
    mpath = os.path.join(workdir, f"{name}.safetensors")
    ipath = os.path.join(workdir, f"{name}.inputs.safetensors")
    opath = os.path.join(workdir, f"{name}.out.safetensors")
    for p in (mpath, ipath, opath):
        if os.path.exists(p):
            os.remove(p)
    run_cmd([fastfnet, "init"] + init_args(case) + ["--dropout", "0", "--seed", str(seed), "--out", mpath])
    tensors, meta = st_read(mpath)
    if "config" not in meta:
        return [f"{mpath}: no 'config' in __metadata__"], ""
    cfg = resolve_config(json.loads(meta["config"]), tensors.keys())
    bad = check_config(case, cfg)
    if bad:
        return ["config: " + "; ".join(bad)], ""
    inputs = make_inputs(case, cfg["pad_token_id"], seed + 7)
    st_write(ipath, inputs)
    run_cmd([dump, mpath, ipath, opath])
    c, _ = st_read(opath)
    ref = reference(tensors, cfg, inputs, dtype)
    names = list(normalize_names(tensors).keys())
    # gradients must cover every parameter in the model file, under the file's own names
    file_names = [n for n in tensors if not n.endswith("position_ids")]
    if set(file_names) != set(names):
        return ["model file uses alias names; twin_dump gradients are keyed by canonical names"], ""
    return compare(c, ref, sorted(names))


def run_matrix(fastfnet, dump, workdir, only, dtype):
    print(f"# relative error = max|c - t| / max(max|t|, 1e-30) per tensor (c: C, t: twin in {dtype}); "
          f"tolerance {TOL:g} on logits, loss, every gradient, the {ADAM_STEPS + 1} AdamW losses", flush=True)
    cases = [c for c in CASES if not only or c["name"] in only]
    if only:
        unknown = set(only) - {c["name"] for c in CASES}
        if unknown:
            print(f"unknown case(s) {sorted(unknown)}; known: {[c['name'] for c in CASES]}")
            return 1
    passed = failed = 0
    for i, case in enumerate(cases):
        t0 = time.time()
        try:
            fails, summary = run_case(case, 1000 + 17 * CASES.index(case), fastfnet, dump, workdir, dtype)
        except Exception as e:  # subprocess failure, unreadable file, name mismatch, ...
            fails, summary = [f"{type(e).__name__}: {e}"], ""
        dt = time.time() - t0
        if fails:
            failed += 1
            print(f"FAIL {case['name']}: " + " | ".join(fails) + (f"  [{summary}]" if summary else ""),
                  flush=True)
        else:
            passed += 1
            print(f"PASS {case['name']}: {summary}  ({dt:.1f}s)", flush=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


# ----------------------------------------------------------------------------------------------------
# Stand-in C side for --selftest (fake `fastfnet init` and `twin_dump`, computing in float32)
# ----------------------------------------------------------------------------------------------------
def fake_init(argv):
    ap = argparse.ArgumentParser(prog="fake-fastfnet init")
    ap.add_argument("--arch", required=True, choices=["fnet", "fast-fnet", "fast-fnet-narrow", "bert", "hybrid"])
    ap.add_argument("--pad", default="first")
    ap.add_argument("--block-ffn", default="unchanged")
    for a, d in (("--vocab", 32000), ("--hidden", 768), ("--layers", 12), ("--intermediate", 3072),
                 ("--heads", 12), ("--max-pos", 512), ("--labels", 2), ("--attention-layers", 0),
                 ("--seed", 0)):
        ap.add_argument(a, type=int, default=d)
    ap.add_argument("--reduce", default="")
    ap.add_argument("--residual", default="dense")
    ap.add_argument("--mixing", default="")
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    n = a.layers
    if a.arch == "fnet":
        mixing = [FO] * n
    elif a.arch == "bert":
        mixing = [AT] * n
    elif a.arch == "hybrid":
        mixing = [FO] * (n - a.attention_layers) + [AT] * a.attention_layers
    elif a.arch == "fast-fnet":
        mixing = [FP] * n
    else:
        red = {int(x) for x in a.reduce.split(",") if x != ""}
        mixing = [FF if i in red else FO for i in range(n)]
    if a.mixing:
        mixing = a.mixing.split(",")
    cfg = dict(CONFIG_DEFAULTS)
    cfg.update(vocab_size=a.vocab, hidden_size=a.hidden, num_hidden_layers=n,
               intermediate_size=a.intermediate, num_attention_heads=a.heads,
               max_position_embeddings=a.max_pos, num_labels=a.labels, hidden_dropout_prob=a.dropout,
               attention_probs_dropout_prob=a.dropout, fastfnet_mixing=mixing,
               fastfnet_residual=a.residual, fastfnet_heads=["mlm", "nsp", "classifier"],
               fastfnet_pad=a.pad, fastfnet_block_ffn=a.block_ffn)
    rng = np.random.RandomState(a.seed)
    tensors = {}
    for name, shape in param_shapes(resolve_config(cfg)).items():
        if len(shape) >= 2:
            t = rng.normal(0.0, cfg["initializer_range"], size=shape)
        elif "LayerNorm.weight" in name:
            t = np.ones(shape)
        else:
            t = np.zeros(shape)
        tensors[name] = t.astype(np.float32)
    st_write(a.out, tensors, {"config": json.dumps(cfg), "format": "pt"})
    return 0


def fake_dump(argv):
    mpath, ipath, opath = argv
    tensors, meta = st_read(mpath)
    cfg = resolve_config(json.loads(meta["config"]), tensors.keys())
    inputs, _ = st_read(ipath)
    ref = reference(tensors, cfg, inputs, "float32")
    st_write(opath, {k: v.astype(np.float32) for k, v in ref.items()})
    return 0


def fake_main(argv):
    tool = argv[0]
    if tool == "fastfnet":
        if argv[1:2] != ["init"]:
            print("fake fastfnet: only `init`", file=sys.stderr)
            return 2
        return fake_init(argv[2:])
    return fake_dump(argv[1:])


# ----------------------------------------------------------------------------------------------------
# --selftest
# ----------------------------------------------------------------------------------------------------
def _random_params(model, rng_seed, scale=0.4):
    g = torch.Generator().manual_seed(rng_seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("LayerNorm.weight"):
                p.copy_(1.0 + 0.3 * torch.randn(p.shape, generator=g, dtype=p.dtype))
            else:
                p.copy_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))


def selftest(workdir):
    _import_torch()
    from torch.autograd import gradcheck
    try:
        from torch.func import functional_call
    except ImportError:
        from torch.nn.utils.stateless import functional_call
    results = []

    def report(ok, name, msg):
        results.append(ok)
        print(f"{'PASS' if ok else 'FAIL'} {name}: {msg}", flush=True)

    # 1. safetensors round trip (incl. metadata, I32, F16, BF16 read)
    p = os.path.join(workdir, "rt.safetensors")
    a = {"x": np.arange(12, dtype=np.float32).reshape(3, 4), "i": np.array([[1, -100]], np.int32),
         "h": np.array([1.5, -2.25], np.float16)}
    st_write(p, a, {"config": json.dumps({"a": 1})})
    b, meta = st_read(p)
    bf = os.path.join(workdir, "bf16.safetensors")
    raw = (np.array([1.5, -2.25, 3.0], np.float32).view("<u4") >> 16).astype("<u2").tobytes()
    h = json.dumps({"w": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]}}).encode()
    with open(bf, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + raw)
    w, _ = st_read(bf)
    ok = (np.array_equal(a["x"], b["x"]) and np.array_equal(a["i"], b["i"]) and b["i"].dtype == np.int32
          and np.array_equal(b["h"], [1.5, -2.25]) and json.loads(meta["config"]) == {"a": 1}
          and np.array_equal(w["w"], [1.5, -2.25, 3.0]))
    report(ok, "safetensors", "write/read round trip, metadata, I32, F16 and BF16")

    # 2. Fourier mixing == explicit DFT matrices: Re(F_T X F_W) = C_T X C_W - S_T X S_W
    FT = make_model(resolve_config({"hidden_size": 8, "num_hidden_layers": 1, "fastfnet_mixing": [FF],
                                    "intermediate_size": 8, "vocab_size": 5, "max_position_embeddings": 8}),
                    torch.float64)
    fmix = FT.fnet.encoder.layer[0].fourier.self.__class__
    worst = 0.0
    for (Bn, T, W) in [(2, 5, 6), (3, 12, 16), (2, 13, 30), (1, 7, 9)]:
        x = torch.randn(Bn, T, W, dtype=torch.float64)

        def cs(n):
            j = torch.arange(n, dtype=torch.float64)
            ang = 2 * math.pi * torch.outer(j, j) / n
            return torch.cos(ang), torch.sin(ang)

        CT, ST = cs(T)
        CW, SW = cs(W)
        want = CT @ x @ CW - ST @ x @ SW
        got = fmix(None)(x)
        worst = max(worst, float((got - want).abs().max() / want.abs().max()))
        if W % 2 == 0:
            got_h = fmix(W // 2)(x)
            worst = max(worst, float((got_h - want[..., :W // 2]).abs().max() / want.abs().max()))
    report(worst < 1e-12, "fourier-dft", f"fftn(x, dim=(1,2)).real vs C X C - S X S (and the W/2 "
           f"fast_fourier slice), 4 shapes incl. odd: max rel err {worst:.1e}")

    # 3. gradcheck on tiny float64 models of every kind
    tiny = dict(vocab_size=9, hidden_size=8, num_hidden_layers=2, intermediate_size=8,
                num_attention_heads=2, max_position_embeddings=8, num_labels=3, pad_token_id=3,
                hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    kinds = [("fnet", [FO, FO], "dense"), ("bert", [AT, AT], "dense"), ("hybrid", [FO, AT], "dense"),
             ("fast-dense", [FF, FF], "dense"), ("fast-maxpool", [FF, FO], "maxpool"),
             ("fast-avgpool", [FF, FO], "avgpool"), ("fast-slice", [FF, FF], "slice"),
             ("fast-hybrid", [FF, AT], "dense"), ("authors-dense", [FP, FP], "dense"),
             ("authors-maxpool", [FP, FP], "maxpool"), ("authors-slice", [FP, FO], "slice")]
    ids = torch.tensor([[1, 4, 0, 8, 2], [5, 3, 3, 3, 3], [3, 3, 3, 3, 3]])  # padding, and an all-pad row
    batch = {"input_ids": ids, "token_type_ids": torch.tensor([[0, 0, 1, 1, 1], [0, 1, 0, 0, 0], [0] * 5]),
             "mlm_labels": torch.tensor([[-100, 2, -100, 7, 0], [1, -100, -100, 3, -100], [-100] * 5]),
             "nsp_labels": torch.tensor([1, 0, 1]), "cls_labels": torch.tensor([2, 0, 1])}
    for i, (kname, mixing, resid) in enumerate(kinds):
        cfg = resolve_config(dict(tiny, fastfnet_mixing=mixing, fastfnet_residual=resid))
        model = make_model(cfg, torch.float64)
        _random_params(model, 100 + i)
        names = [n for n, _ in model.named_parameters()]
        ok_names = set(names) == set(param_shapes(cfg)) and all(
            tuple(p.shape) == param_shapes(cfg)[n] for n, p in model.named_parameters())
        params = tuple(p.detach().clone().requires_grad_(True) for p in model.parameters())

        def f(*ps):
            logits = functional_call(model, dict(zip(names, ps)), (batch["input_ids"], batch["token_type_ids"]))
            return head_losses(logits, batch)

        t0 = time.time()
        try:
            ok = gradcheck(f, params, eps=1e-6, atol=1e-7, rtol=1e-5, fast_mode=(kname != "hybrid"))
            msg = ""
        except Exception as e:  # gradcheck raises on mismatch
            ok, msg = False, str(e).splitlines()[0][:300]
        n_el = sum(p.numel() for p in params)
        report(ok and ok_names, f"gradcheck-{kname}",
               f"{mixing} residual={resid}: {len(params)} tensors / {n_el} values, "
               f"{'full' if kname == 'hybrid' else 'fast'} mode, names==MODEL.md {ok_names} "
               f"({time.time() - t0:.1f}s) {msg}")

    # 4. AdamW (two param groups) == hand-written AdamW over 5 steps
    cfg = resolve_config(dict(tiny, fastfnet_mixing=[FF, AT], fastfnet_residual="dense"))
    m1 = make_model(cfg, torch.float64)
    _random_params(m1, 7)
    m2 = make_model(cfg, torch.float64)
    m2.load_state_dict(m1.state_dict())
    init = [p.detach().clone() for p in m1.parameters()]
    opt = make_adamw(m1)
    state = {n: (torch.zeros_like(p), torch.zeros_like(p)) for n, p in m2.named_parameters()}
    b1, b2 = ADAM_BETAS
    l1, l2 = [], []
    for step in range(1, ADAM_STEPS + 1):
        opt.zero_grad(set_to_none=True)
        loss = head_losses(m1(batch["input_ids"], batch["token_type_ids"]), batch)
        l1.append(loss.item())
        loss.backward()
        opt.step()
        m2.zero_grad(set_to_none=True)
        loss = head_losses(m2(batch["input_ids"], batch["token_type_ids"]), batch)
        l2.append(loss.item())
        loss.backward()
        with torch.no_grad():
            for n, p in m2.named_parameters():
                g = p.grad
                m, v = state[n]
                m.mul_(b1).add_((1 - b1) * g)
                v.mul_(b2).add_((1 - b2) * g * g)
                if p.ndim >= 2:
                    p.mul_(1 - ADAM_LR * ADAM_WD)
                mhat = m / (1 - b1 ** step)
                vhat = v / (1 - b2 ** step)
                p.sub_(ADAM_LR * mhat / (vhat.sqrt() + ADAM_EPS))
    pe = max(float((a - b).abs().max() / max(b.abs().max(), 1e-30))
             for a, b in zip(m1.parameters(), m2.parameters()))
    le = max(abs(a - b) / abs(b) for a, b in zip(l1, l2))
    moved = float(max((a - b).abs().max() for a, b in zip(m1.parameters(), init)))
    report(pe < 1e-10 and le < 1e-12 and moved > 0, "adamw",
           f"torch.optim.AdamW (wd {ADAM_WD} on ndim>=2, 0 else) vs manual over {ADAM_STEPS} steps: "
           f"param rel err {pe:.1e}, loss rel err {le:.1e}")

    # 5. the whole matrix against a stand-in C side computing in float32 (fake executables)
    here = os.path.abspath(__file__)
    fakes = {}
    for tool in ("fastfnet", "twin_dump"):
        path = os.path.join(workdir, f"fake_{tool}")
        with open(path, "w") as f:
            f.write(f"#!/bin/sh\nexec {sys.executable} {here} --as-fake {tool} \"$@\"\n")
        os.chmod(path, 0o755)
        fakes[tool] = path
    print("# matrix vs. fake C side (float32 PyTorch):", flush=True)
    rc = run_matrix(fakes["fastfnet"], fakes["twin_dump"], workdir, None, "float64")
    report(rc == 0, "matrix-vs-float32", "all cases within tolerance against a float32 computation")

    # 6. the comparison catches a wrong gradient, a missing gradient and a wrong adamw loss
    case = CASES[3]  # hybrid
    tensors, meta = st_read(os.path.join(workdir, f"{case['name']}.safetensors"))
    cfg = resolve_config(json.loads(meta["config"]), tensors.keys())
    c, _ = st_read(os.path.join(workdir, f"{case['name']}.out.safetensors"))
    inputs, _ = st_read(os.path.join(workdir, f"{case['name']}.inputs.safetensors"))
    ref = reference(tensors, cfg, inputs, "float64")
    names = sorted(tensors)
    caught = []
    g = dict(c)
    k = "grad.fnet.encoder.layer.1.output.dense.weight"
    g[k] = g[k].copy()
    g[k].flat[5] += 1e-3 * np.abs(g[k]).max()
    caught.append(bool(compare(g, ref, names)[0]))
    g = dict(c)
    del g["grad.fnet.embeddings.token_type_embeddings.weight"]
    caught.append(bool(compare(g, ref, names)[0]))
    g = dict(c)
    g["adamw.loss"] = g["adamw.loss"].copy()
    g["adamw.loss"][4] *= 1 + 1e-3
    caught.append(bool(compare(g, ref, names)[0]))
    g = dict(c)
    g["grad.fnet.encoder.layer.2.attention.self.key.bias"] = np.full_like(
        c["grad.fnet.encoder.layer.2.attention.self.key.bias"], 1e-3)
    caught.append(bool(compare(g, ref, names)[0]))
    report(all(caught) and not compare(c, ref, names)[0], "compare-negative",
           f"perturbed gradient / missing gradient / perturbed adamw loss / non-zero key.bias grad "
           f"detected: {caught}")

    n_ok = sum(results)
    print(f"{n_ok} passed, {len(results) - n_ok} failed")
    return 0 if n_ok == len(results) else 1


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--as-fake":
        return fake_main(sys.argv[2:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fastfnet", default="build/fastfnet")
    ap.add_argument("--dump", default="build/twin_dump")
    ap.add_argument("--workdir", default=None, help="where model/input/output files go (default: a temp dir)")
    ap.add_argument("--only", default=None, help="comma-separated case names")
    ap.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    ap.add_argument("--selftest", action="store_true")
    a = ap.parse_args()
    workdir = a.workdir or tempfile.mkdtemp(prefix="fastfnet_twin_")
    os.makedirs(workdir, exist_ok=True)
    if a.selftest:
        return selftest(workdir)
    only = [s for s in a.only.split(",") if s] if a.only else None
    return run_matrix(a.fastfnet, a.dump, workdir, only, a.dtype)


if __name__ == "__main__":
    sys.exit(main())
