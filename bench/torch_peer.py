#!/usr/bin/python3
"""PyTorch peer for the fastfnet speed comparison.

Builds, in PyTorch, the encoders fastfnet trains (docs/MODEL.md; HF layout) with the classification
heads (pooler tanh on token 0, dropout, Linear(hidden, num_labels)) and times, on the CPU:
  - a training step: zero_grad + forward + cross-entropy on the classifier + backward + AdamW step
    (lr 1e-3, weight decay 0.01), dropout active as configured (model.train());
  - inference: forward (to the classifier logits) under torch.inference_mode(), model.eval().

Architectures:
  fnet       every layer Fourier mixing: Re(fftn(x, dim=(seq, hidden)))  (HF FNetBasicFourierTransform)
  bert       every layer BERT self-attention (q/k/v, scaled scores, key padding mask, softmax, dropout,
             context, output dense, dropout)
  fast-fnet  layer 0 fast_fourier (keeps hidden-frequency columns 0..W/2-1, dense residual W -> W/2),
             the later layers fourier at width W/2 (fastfnet's "--arch fast-fnet --reduce 0")
Every layer: h = LN(mix + r); y = LN(dropout(Linear2(gelu_new(Linear1(h)))) + h)  (post-LN).

Usage (Debian's PyTorch: run with /usr/bin/python3):
  /usr/bin/python3 bench/torch_peer.py --arch fnet|bert|fast-fnet --vocab 261 --hidden 256 --layers 4 \
      --intermediate 1024 --heads 4 --seq 512 --batch 8 --threads 2 --repeats 5 --warmup 2 \
      --mode train|infer|both [--dropout 0.1] [--json] [--seq-sweep 128,256,512] [--seed 0]

Times are seconds per step (median, min, max over --repeats after --warmup untimed steps);
tokens/s = batch * seq / median. peak_rss_mib is the process's ru_maxrss so far (it never goes down:
in a --seq-sweep or --mode both it covers everything run before it in the same process).
"""
import argparse
import json
import math
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PAD_TOKEN_ID = 3
TYPE_VOCAB = 4
LN_EPS = 1e-12
INIT_RANGE = 0.02
NUM_LABELS = 2


def gelu_new(x):
    # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as HF's NewGELUActivation
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class Embeddings(nn.Module):
    def __init__(self, vocab, hidden, max_pos, dropout):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, hidden)
        self.position_embeddings = nn.Embedding(max_pos, hidden)
        self.token_type_embeddings = nn.Embedding(TYPE_VOCAB, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=LN_EPS)
        self.projection = nn.Linear(hidden, hidden)
        self.dropout = nn.Dropout(dropout)

    def forward(self, ids, types):
        T = ids.shape[1]
        pos = torch.arange(T, device=ids.device)
        e = self.word_embeddings(ids) + self.position_embeddings(pos)[None] + self.token_type_embeddings(types)
        e = self.LayerNorm(e)
        e = self.projection(e)
        return self.dropout(e)


class FourierMix(nn.Module):
    """fourier: Re(fftn(x over (seq, hidden))), residual x.
    fast (fast_fourier): keep columns 0..W/2-1, residual Linear(x) W -> W/2 (dense)."""

    def __init__(self, width, fast):
        super().__init__()
        self.fast = fast
        if fast:
            self.residual = nn.Linear(width, width // 2)

    def forward(self, x, key_pad):
        mix = torch.fft.fftn(x, dim=(1, 2)).real
        if self.fast:
            return mix[..., : x.shape[-1] // 2], self.residual(x)
        return mix, x


class SelfAttention(nn.Module):
    def __init__(self, width, heads, dropout):
        super().__init__()
        assert width % heads == 0, "hidden width must divide by heads"
        self.nh, self.hd = heads, width // heads
        self.query = nn.Linear(width, width)
        self.key = nn.Linear(width, width)
        self.value = nn.Linear(width, width)
        self.dense = nn.Linear(width, width)  # attention.output.dense
        self.attn_dropout = nn.Dropout(dropout)
        self.out_dropout = nn.Dropout(dropout)

    def forward(self, x, key_pad):
        B, T, W = x.shape

        def split(t):
            return t.view(B, T, self.nh, self.hd).transpose(1, 2)  # B, nh, T, hd

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.hd)
        s = s.masked_fill(key_pad[:, None, None, :], float("-inf"))
        p = self.attn_dropout(torch.softmax(s, dim=-1))
        ctx = torch.matmul(p, v).transpose(1, 2).reshape(B, T, W)
        return self.out_dropout(self.dense(ctx)), x


class Layer(nn.Module):
    def __init__(self, kind, width, intermediate_full, hidden_full, heads, dropout):
        super().__init__()
        if kind == "attention":
            self.mixer = SelfAttention(width, heads, dropout)
            out_w = width
        else:
            fast = kind == "fast_fourier"
            assert not fast or width % 2 == 0, "fast_fourier needs an even width"
            self.mixer = FourierMix(width, fast)
            out_w = width // 2 if fast else width
        ffn = intermediate_full * out_w // hidden_full
        self.ln1 = nn.LayerNorm(out_w, eps=LN_EPS)
        self.intermediate = nn.Linear(out_w, ffn)
        self.output = nn.Linear(ffn, out_w)
        self.ln2 = nn.LayerNorm(out_w, eps=LN_EPS)
        self.dropout = nn.Dropout(dropout)
        self.out_width = out_w

    def forward(self, x, key_pad):
        mix, r = self.mixer(x, key_pad)
        h = self.ln1(mix + r)
        o = self.dropout(self.output(gelu_new(self.intermediate(h))))
        return self.ln2(o + h)


class Classifier(nn.Module):
    def __init__(self, arch, vocab, hidden, layers, intermediate, heads, max_pos, dropout):
        super().__init__()
        if arch == "fnet":
            kinds = ["fourier"] * layers
        elif arch == "bert":
            kinds = ["attention"] * layers
        elif arch == "fast-fnet":
            kinds = ["fast_fourier"] + ["fourier"] * (layers - 1)
        else:
            raise ValueError(arch)
        self.uses_attention = "attention" in kinds
        self.embeddings = Embeddings(vocab, hidden, max_pos, dropout)
        w = hidden
        mods = []
        for kind in kinds:
            lyr = Layer(kind, w, intermediate, hidden, heads, dropout)
            mods.append(lyr)
            w = lyr.out_width
        self.layers = nn.ModuleList(mods)
        self.pooler = nn.Linear(w, w)
        self.cls_dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(w, NUM_LABELS)
        self.apply(self._init)

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, INIT_RANGE)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def forward(self, ids, types):
        key_pad = None
        if self.uses_attention:
            key_pad = ids == PAD_TOKEN_ID
            key_pad = key_pad & ~key_pad.all(dim=1, keepdim=True)  # an all-pad row attends to all keys
        h = self.embeddings(ids, types)
        for lyr in self.layers:
            h = lyr(h, key_pad)
        pooled = torch.tanh(self.pooler(h[:, 0]))
        return self.classifier(self.cls_dropout(pooled))


def summarize(times):
    return statistics.median(times), min(times), max(times)


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def run_one(args, seq):
    torch.manual_seed(args.seed)
    max_pos = max(512, seq)
    model = Classifier(args.arch, args.vocab, args.hidden, args.layers, args.intermediate, args.heads,
                       max_pos, args.dropout)
    params = sum(p.numel() for p in model.parameters())
    B, T = args.batch, seq
    g = torch.Generator().manual_seed(args.seed + 1)
    ids = torch.randint(5, args.vocab, (B, T), generator=g)
    types = torch.zeros(B, T, dtype=torch.long)
    labels = torch.randint(0, NUM_LABELS, (B,), generator=g)
    res = {"impl": "pytorch", "torch_version": torch.__version__, "arch": args.arch, "vocab": args.vocab,
           "hidden": args.hidden, "layers": args.layers, "intermediate": args.intermediate,
           "heads": args.heads, "seq": T, "batch": B, "threads": args.threads, "dropout": args.dropout,
           "mode": args.mode, "repeats": args.repeats, "warmup": args.warmup}

    if args.mode in ("train", "both"):
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)

        def step():
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(ids, types), labels)
            loss.backward()
            opt.step()
            return loss

        for _ in range(args.warmup):
            step()
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            loss = step()
            times.append(time.perf_counter() - t0)
        med, lo, hi = summarize(times)
        res.update(train_step_s_median=med, train_step_s_min=lo, train_step_s_max=hi,
                   train_tokens_per_s=B * T / med, train_last_loss=float(loss))
        del opt

    if args.mode in ("infer", "both"):
        model.eval()
        with torch.inference_mode():
            for _ in range(args.warmup):
                model(ids, types)
            times = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                model(ids, types)
                times.append(time.perf_counter() - t0)
        med, lo, hi = summarize(times)
        res.update(infer_step_s_median=med, infer_step_s_min=lo, infer_step_s_max=hi,
                   infer_tokens_per_s=B * T / med)

    res["params"] = params
    res["peak_rss_mib"] = round(peak_rss_mib(), 1)
    return res


def print_readable(r):
    print(f"pytorch {r['torch_version']}  arch={r['arch']} hidden={r['hidden']} layers={r['layers']} "
          f"intermediate={r['intermediate']} heads={r['heads']} vocab={r['vocab']}  "
          f"batch={r['batch']} seq={r['seq']} threads={r['threads']} dropout={r['dropout']}")
    print(f"  params {r['params']:,}")
    for m in ("train", "infer"):
        if f"{m}_step_s_median" in r:
            print(f"  {m:5s}: {r[m + '_step_s_median']:.4f} s/step median "
                  f"(min {r[m + '_step_s_min']:.4f}, max {r[m + '_step_s_max']:.4f}, "
                  f"{r['repeats']} repeats after {r['warmup']} warmup)  "
                  f"{r[m + '_tokens_per_s']:,.0f} tokens/s")
    print(f"  peak RSS {r['peak_rss_mib']:.1f} MiB")


def main(argv=None):
    ap = argparse.ArgumentParser(description="PyTorch peer of fastfnet: train-step and inference speed")
    ap.add_argument("--arch", choices=["fnet", "bert", "fast-fnet"], default="fnet")
    ap.add_argument("--vocab", type=int, default=261)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--intermediate", type=int, default=1024)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--mode", choices=["train", "infer", "both"], default="both")
    ap.add_argument("--dropout", type=float, default=0.1,
                    help="hidden and attention-probability dropout in training (default 0.1)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print one JSON line per run")
    ap.add_argument("--seq-sweep", default=None,
                    help="comma-separated sequence lengths (overrides --seq); one result per length")
    args = ap.parse_args(argv)
    if args.vocab <= 5:
        ap.error("--vocab must exceed 5 (token ids are drawn from [5, vocab))")
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")

    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already set (interop pool started)

    seqs = [int(s) for s in args.seq_sweep.split(",") if s.strip()] if args.seq_sweep else [args.seq]
    for i, seq in enumerate(seqs):
        r = run_one(args, seq)
        if args.json:
            print(json.dumps(r), flush=True)
        else:
            if i:
                print()
            print_readable(r)
            sys.stdout.flush()


if __name__ == "__main__":
    main()
