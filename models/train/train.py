#!/usr/bin/env python3
"""Train speclab's default models: target, matched draft, mismatched draft.

Reads the token streams written by `go run ./models/prep` and writes the
trained weights (bf16 safetensors, gzip-compressed, split into parts of at
most 15 MiB) and metrics.json to --out. The recipe is in README.md beside
this file. `python3 train.py --smoke` runs the whole pipeline at toy size
on the CPU in under a minute.

The models are "llama" architecture exactly as llama.cpp computes it:
RMSNorm (eps 1e-5), rotary embeddings on adjacent pairs (ggml's
LLAMA_ROPE_TYPE_NORM, base 10000) so Q and K need no permutation on export,
grouped-query attention (query head h uses key/value head h // (H/KV)),
SwiGLU feed-forward, no biases. PyTorch Linear weights [out, in] are GGUF
tensors {in, out} with the same bytes.
"""

import argparse
import copy
import gzip
import io
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

CTX = 1024
ROPE_BASE = 10000.0
NORM_EPS = 1e-5

# ---------------------------------------------------------------- quantizers

MX_LEVELS = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0]
MX_MIDS = [0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0]


def mxfp4_fake(w):
    """ggml's quantize_row_mxfp4_ref, dequantized: per block of 32 values
    along a row, scale s = 2^(floor(log2(amax)) - 2) and each value the
    nearest of +-{0, .5, 1, 1.5, 2, 3, 4, 6}*s (ties to the smaller)."""
    shape = w.shape
    x = w.float().reshape(-1, 32)
    amax = x.abs().amax(dim=-1, keepdim=True)
    safe = torch.where(amax > 0, amax, torch.ones_like(amax))
    s = torch.exp2(torch.floor(torch.log2(safe)) - 2)
    a = x.abs() / s
    mids = torch.tensor(MX_MIDS, device=w.device)
    levels = torch.tensor(MX_LEVELS, device=w.device)
    q = levels[torch.bucketize(a, mids)] * s * torch.sign(x)
    q = torch.where(amax > 0, q, torch.zeros_like(q))
    return q.reshape(shape).to(w.dtype)


def q8_0_fake(w):
    """ggml's quantize_row_q8_0_ref, dequantized: per block of 32, d =
    amax/127 stored as fp16, values round(x/d)*d."""
    shape = w.shape
    x = w.float().reshape(-1, 32)
    d = x.abs().amax(dim=-1, keepdim=True) / 127
    inv = torch.where(d > 0, 1 / d, torch.zeros_like(d))
    q = torch.round(x * inv)  # half to even; ggml rounds half away (measure-zero)
    return (q * d.half().float()).reshape(shape).to(w.dtype)


def ste(w, fq):
    """Straight-through: forward with fq(w), gradient as if identity."""
    return w + (fq(w) - w).detach()


class QLinear(nn.Linear):
    """Linear without bias whose weight may be fake-quantized."""

    def __init__(self, n_in, n_out):
        super().__init__(n_in, n_out, bias=False)
        self.quant = None  # None, "mxfp4", "q8_0"

    def forward(self, x):
        w = self.weight
        if self.quant == "mxfp4":
            w = ste(w, mxfp4_fake)
        elif self.quant == "q8_0":
            w = ste(w, q8_0_fake)
        return F.linear(x, w)


# --------------------------------------------------------------------- model


class RMSNorm(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        xf = x.float()
        y = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + NORM_EPS)
        return (y * self.weight.float()).to(x.dtype)


def rope_tables(head_dim, n, device):
    inv = ROPE_BASE ** (-torch.arange(0, head_dim, 2, device=device, dtype=torch.float64) / head_dim)
    ang = torch.outer(torch.arange(n, device=device, dtype=torch.float64), inv)
    return ang.cos().float(), ang.sin().float()


def rope(x, cos, sin):
    """x [B, H, T, hd]; rotate pairs (x[2i], x[2i+1]) by pos*base^(-2i/hd)."""
    T = x.shape[2]
    c, s = cos[:T], sin[:T]
    xf = x.float()
    x0, x1 = xf[..., 0::2], xf[..., 1::2]
    y = torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1).flatten(-2)
    return y.to(x.dtype)


def attention(q, k, v):
    """Causal attention, scale 1/sqrt(hd); k, v may have fewer heads."""
    rep = q.shape[1] // k.shape[1]
    if hasattr(F, "scaled_dot_product_attention"):
        if rep > 1:
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    if rep > 1:
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
    T = q.shape[2]
    att = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    mask = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()
    att = att.masked_fill(~mask, float("-inf")).softmax(-1)
    return att @ v


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, H, KV = c["embd"], c["heads"], c["heads_kv"]
        hd = d // H
        self.H, self.KV, self.hd = H, KV, hd
        self.attn_norm = RMSNorm(d)
        self.attn_q = QLinear(d, H * hd)
        self.attn_k = QLinear(d, KV * hd)
        self.attn_v = QLinear(d, KV * hd)
        self.attn_output = QLinear(H * hd, d)
        self.ffn_norm = RMSNorm(d)
        self.ffn_gate = QLinear(d, c["ff"])
        self.ffn_up = QLinear(d, c["ff"])
        self.ffn_down = QLinear(c["ff"], d)
        self.drop = nn.Dropout(c.get("dropout", 0.0))

    def forward(self, x, cos, sin):
        B, T, _ = x.shape
        h = self.attn_norm(x)
        q = self.attn_q(h).view(B, T, self.H, self.hd).transpose(1, 2)
        k = self.attn_k(h).view(B, T, self.KV, self.hd).transpose(1, 2)
        v = self.attn_v(h).view(B, T, self.KV, self.hd).transpose(1, 2)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        a = attention(q, k, v).transpose(1, 2).reshape(B, T, self.H * self.hd)
        x = x + self.drop(self.attn_output(a))
        h = self.ffn_norm(x)
        x = x + self.drop(self.ffn_down(F.silu(self.ffn_gate(h)) * self.ffn_up(h)))
        return x


class Llama(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        d = c["embd"]
        self.token_embd = nn.Embedding(c["vocab"], d)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c["layers"]))
        self.output_norm = RMSNorm(d)
        self.output = None if c["tied"] else QLinear(d, c["vocab"])
        self.embd_quant = None  # None or "q8_0": token_embd (and tied output)
        cos, sin = rope_tables(d // c["heads"], CTX, "cpu")
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        self.apply(self._init)
        for b in self.blocks:  # GPT-2's scaled init of the residual outputs
            for w in (b.attn_output.weight, b.ffn_down.weight):
                nn.init.normal_(w, std=0.02 / math.sqrt(2 * c["layers"]))

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)

    def embd_weight(self):
        w = self.token_embd.weight
        return ste(w, q8_0_fake) if self.embd_quant == "q8_0" else w

    def forward(self, idx):
        ew = self.embd_weight()
        x = F.embedding(idx, ew)
        for b in self.blocks:
            x = b(x, self.cos, self.sin)
        x = self.output_norm(x)
        if self.output is None:
            return F.linear(x, ew)
        return self.output(x)

    def set_quant(self, layers, embd, output):
        """Fake-quantize the block matrices, the embeddings and the output."""
        for b in self.blocks:
            for m in b.modules():
                if isinstance(m, QLinear):
                    m.quant = layers
        self.embd_quant = embd
        if self.output is not None:
            self.output.quant = output

    def n_params(self):
        return sum(p.numel() for p in self.parameters())


# ---------------------------------------------------------------------- data


def load_stream(path):
    with gzip.open(path, "rb") as f:
        return torch.from_numpy(np.frombuffer(f.read(), dtype="<u2").astype(np.int64))


def batch(data, bs, T, gen):
    offs = torch.randint(0, len(data) - T - 1, (bs,), generator=gen)
    idx = offs[:, None] + torch.arange(T + 1)[None, :]
    return data[idx]


def windows(stream, n, T=CTX):
    n = min(n, len(stream) // T)
    return stream[: n * T].view(n, T)


# ------------------------------------------------------------------- training


def lr_at(step, steps, lr, warmup):
    if step < warmup:
        return lr * (step + 1) / warmup
    p = (step - warmup) / max(1, steps - warmup)
    return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))


def make_opt(model, lr, wd):
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": wd}, {"params": other, "weight_decay": 0.0}]
    kw = {"fused": True} if torch.cuda.is_available() else {}
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95), **kw)


def autocast(dev):
    if dev == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


@torch.no_grad()
def eval_nll(model, wins, dev, bs=8):
    """Mean next-token NLL over windows: each window of T tokens gives T-1
    predictions. fp32, no dropout."""
    was = model.training
    model.eval()
    tot, n = 0.0, 0
    for i in range(0, len(wins), bs):
        w = wins[i : i + bs].to(dev)
        logits = model(w[:, :-1]).float()
        nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), w[:, 1:].reshape(-1), reduction="sum")
        tot += nll.item()
        n += w[:, 1:].numel()
    model.train(was)
    return tot / n


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def train(name, model, data, val, steps, bs, lr, wd, warmup, qat_from, quant, dev, gen, teacher=None,
          gen_pool=None, kd_alpha=0.0, T=CTX):
    """AdamW, cosine schedule with warmup, bf16 autocast, grad clip 1.
    From step qat_from on the model trains with fake quantization quant
    (layers, embd, output). With a teacher, the loss mixes KL(teacher ||
    model) with weight kd_alpha and cross-entropy; with gen_pool (teacher
    generations, [N, L]) every step adds a KD batch from it."""
    opt = make_opt(model, lr, wd)
    hist = []
    t0 = time.time()
    for step in range(steps):
        if step == qat_from:
            model.set_quant(*quant)
            log(f"{name}: step {step}: quantization-aware from here ({quant})")
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps, lr, warmup)
        xb = batch(data, bs, T, gen).to(dev, non_blocking=True)
        inputs = [xb]
        if gen_pool is not None:
            sel = torch.randint(0, gen_pool.shape[0], (bs * T // (2 * gen_pool.shape[1]),), generator=gen)
            inputs.append(gen_pool[sel].to(dev))
        loss_sum = 0.0
        opt.zero_grad(set_to_none=True)
        for xs in inputs:
            x, y = xs[:, :-1], xs[:, 1:]
            with autocast(dev):
                logits = model(x)
                ce = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))
                loss = ce
                if teacher is not None:
                    with torch.no_grad():
                        tl = teacher(x).float()
                    kl = F.kl_div(F.log_softmax(logits.float(), -1), F.log_softmax(tl, -1),
                                  log_target=True, reduction="batchmean") / x.shape[1]
                    loss = kd_alpha * kl + (1 - kd_alpha) * ce
            (loss / len(inputs)).backward()
            loss_sum += ce.item() / len(inputs)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 100 == 0 or step == steps - 1:
            rec = {"step": step, "train_ce": round(loss_sum, 4), "sec": round(time.time() - t0, 1)}
            if val is not None and (step % 200 == 0 or step == steps - 1):
                rec["val_nll"] = round(eval_nll(model, val, dev), 4)
            hist.append(rec)
            log(f"{name}: {rec}")
    return hist


@torch.no_grad()
def generate(model, prompts, n_new, dev, bs=256):
    """Greedy continuation of each prompt row (no KV cache; fine at this
    size). Returns [N, P + n_new]."""
    was = model.training
    model.eval()
    out = []
    for i in range(0, len(prompts), bs):
        x = prompts[i : i + bs].to(dev)
        for _ in range(n_new):
            with autocast(dev):
                nxt = model(x[:, -CTX:])[:, -1].float().argmax(-1)
            x = torch.cat([x, nxt[:, None]], dim=1)
        out.append(x.cpu())
    model.train(was)
    return torch.cat(out)


@torch.no_grad()
def spec_sim(target_seqs, draft, p_len, dev, n_max=4):
    """Greedy speculative decoding with n_max, simulated exactly on the
    target's greedy sequences: the draft's argmax at each position of the
    target's own continuation says whether a drafted token is accepted.
    Returns (acceptance rate, mean acceptance length, per-token agreement)."""
    was = draft.training
    draft.eval()
    preds = []
    for i in range(0, len(target_seqs), 16):
        with autocast(dev):
            preds.append(draft(target_seqs[i : i + 16, :-1].to(dev)).float().argmax(-1).cpu())
    pred = torch.cat(preds)
    draft.train(was)
    match = pred[:, p_len - 1 :] == target_seqs[:, p_len:]
    drafted = accepted = steps = 0
    for row in match.tolist():
        # position 0 is the token after the prompt: produced by the prompt
        # decode, not by a verify step (as in spec.Generate)
        p = 1
        while p < len(row):
            k = min(n_max, len(row) - p - 1)
            if k <= 0:
                break
            a = 0
            while a < k and row[p + a]:
                a += 1
            drafted += k
            accepted += a
            steps += 1
            p += a + 1
    agree = match.float().mean().item()
    return accepted / max(1, drafted), 1 + accepted / max(1, steps), agree


# -------------------------------------------------------------------- export


def export_view(model, layers, embd, output):
    """The model as the GGUF file will hold it: weights rounded to bf16
    (the transfer format), then quantized as exported."""
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(torch.bfloat16).float())
    model.set_quant(layers, embd, output)


def baked(model):
    """A frozen copy of model in eval mode with its fake quantization
    applied to the weights once (a fast teacher that computes what the
    exported model computes)."""
    m = copy.deepcopy(model)
    with torch.no_grad():
        for b in m.blocks:
            for q in b.modules():
                if isinstance(q, QLinear) and q.quant is not None:
                    q.weight.copy_(mxfp4_fake(q.weight) if q.quant == "mxfp4" else q8_0_fake(q.weight))
                    q.quant = None
        if m.embd_quant == "q8_0":
            m.token_embd.weight.copy_(q8_0_fake(m.token_embd.weight))
            m.embd_quant = None
        if m.output is not None and m.output.quant == "q8_0":
            m.output.weight.copy_(q8_0_fake(m.output.weight))
            m.output.quant = None
    for p in m.parameters():
        p.requires_grad_(False)
    return m.eval()


def tensors_for_gguf(model):
    """GGUF tensor names -> weights as exported (fake-quantized for the
    MXFP4 matrices, so the values are exact in bf16)."""
    out = {"token_embd.weight": model.token_embd.weight, "output_norm.weight": model.output_norm.weight}
    if model.output is not None:
        out["output.weight"] = model.output.weight
    for i, b in enumerate(model.blocks):
        for n in ("attn_norm", "ffn_norm"):
            out[f"blk.{i}.{n}.weight"] = getattr(b, n).weight
        for n in ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"):
            m = getattr(b, n)
            w = m.weight
            if m.quant == "mxfp4":
                w = mxfp4_fake(w.float())
            out[f"blk.{i}.{n}.weight"] = w
    return out


def save_weights(model, meta, outdir, stem, part_bytes=15 << 20):
    """Writes stem.st.gz.NN: a gzip-compressed safetensors file (bf16;
    norms f32) split into parts of at most part_bytes."""
    ts = tensors_for_gguf(model)
    header, blobs, off = {"__metadata__": {k: str(v) for k, v in meta.items()}}, [], 0
    for name, w in ts.items():
        w = w.detach().float().cpu()
        if w.dim() == 1:
            b, dt = w.numpy().astype("<f4").tobytes(), "F32"
        else:
            b, dt = w.to(torch.bfloat16).view(torch.int16).numpy().astype("<i2").tobytes(), "BF16"
        header[name] = {"dtype": dt, "shape": list(w.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    raw = struct.pack("<Q", len(h)) + h + b"".join(blobs)
    z = gzip.compress(raw, compresslevel=6, mtime=0)
    names = []
    for i in range(0, len(z), part_bytes):
        p = os.path.join(outdir, f"{stem}.st.gz.{i // part_bytes:02d}")
        with open(p, "wb") as f:
            f.write(z[i : i + part_bytes])
        names.append(os.path.basename(p))
    log(f"{stem}: {len(raw)} bytes, {len(z)} gzip, parts {names}")
    return names


# ---------------------------------------------------------------------- main

TARGET = dict(embd=512, layers=6, heads=8, heads_kv=2, ff=1536, tied=False, dropout=0.1)
DRAFT = dict(embd=192, layers=4, heads=3, heads_kv=3, ff=512, tied=True, dropout=0.0)
SMOKE_TARGET = dict(embd=64, layers=2, heads=2, heads_kv=1, ff=128, tied=False, dropout=0.1)
SMOKE_DRAFT = dict(embd=32, layers=1, heads=1, heads_kv=1, ff=64, tied=True, dropout=0.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="models/.work/data")
    ap.add_argument("--out", default=os.environ.get("OUT", "models/.work/out"))
    ap.add_argument("--seed", type=int, default=6)
    ap.add_argument("--role", choices=["main", "other"], default="main",
                    help="main: target, then the matched draft distilled from it; other: the mismatched draft")
    ap.add_argument("--target-steps", type=int, default=1100)
    ap.add_argument("--draft-steps", type=int, default=1000)
    ap.add_argument("--bs", type=int, default=64)
    ap.add_argument("--gen", type=int, default=1024, help="teacher greedy sequences for the draft's distillation")
    ap.add_argument("--eval-windows", type=int, default=16)
    ap.add_argument("--smoke", action="store_true")
    a = ap.parse_args()

    dev = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    os.makedirs(a.out, exist_ok=True)
    tcfg, dcfg = (SMOKE_TARGET, SMOKE_DRAFT) if a.smoke else (TARGET, DRAFT)
    T = 64 if a.smoke else CTX
    info = {"seed": a.seed, "device": torch.cuda.get_device_name() if dev == "cuda" else "cpu",
            "torch": torch.__version__, "args": vars(a)}
    # fp32 stays fp32 (evaluation); training runs under bf16 autocast
    torch.backends.cuda.matmul.allow_tf32 = False

    tok = "main" if a.role == "main" else "other"
    train_s = load_stream(os.path.join(a.data, f"{tok}-train.bin.gz"))
    val_s = load_stream(os.path.join(a.data, f"{tok}-val.bin.gz"))
    held_s = load_stream(os.path.join(a.data, f"{tok}-heldout.bin.gz"))
    if a.smoke:
        train_s, val_s, held_s = train_s[:200_000], val_s[:4 * CTX], held_s[:4 * CTX]
    val_w = windows(val_s, 32)
    held_w = windows(held_s, 10**9)
    info["tokens"] = {"train": len(train_s), "val": len(val_s), "heldout": len(held_s),
                      "heldout_windows": len(held_w)}
    vocab = 8192

    def ppl_report(model):
        return {"eval_windows": min(a.eval_windows, len(held_w)),
                "ppl_eval_windows": math.exp(eval_nll(model, held_w[: a.eval_windows], dev)),
                "ppl_all_windows": math.exp(eval_nll(model, held_w, dev))}

    def new(cfg):
        c = dict(cfg, vocab=vocab)
        return Llama(c).to(dev), c

    if a.role == "other":
        d, c = new(dcfg)
        info["config"], info["params"] = c, d.n_params()
        log(f"other draft: {d.n_params()} params")
        info["history"] = train("other", d, train_s, val_w, a.draft_steps, a.bs, 3e-3, 0.1, 100,
                                10**9, None, dev, gen, T=T)
        info["float"] = ppl_report(d)
        export_view(d, "q8_0", "q8_0", "q8_0")
        info["exported"] = ppl_report(d)
        info["files"] = save_weights(d, {"role": "other-draft", "seed": a.seed}, a.out, "other")
        write_json(a.out, "metrics-other.json", info)
        return

    # target
    t, c = new(tcfg)
    info["target"] = {"config": c, "params": t.n_params()}
    log(f"target: {t.n_params()} params")
    qat_from = int(a.target_steps * 0.75)
    info["target"]["history"] = train("target", t, train_s, val_w, a.target_steps, a.bs, 1.5e-3, 0.1, 100,
                                      qat_from, ("mxfp4", None, None), dev, gen, T=T)
    t.set_quant(None, None, None)
    info["target"]["float"] = ppl_report(t)
    export_view(t, "mxfp4", "q8_0", "q8_0")
    info["target"]["exported"] = ppl_report(t)
    info["target"]["files"] = save_weights(t, {"role": "target", "seed": a.seed}, a.out, "target")
    write_json(a.out, "metrics-main.json", info)

    # teacher generations for the draft: greedy continuations of prompts
    # cut from the training stream
    teacher = baked(t)
    del t
    p_len, n_new = (16, 32) if a.smoke else (64, 256)
    n_gen = 64 if a.smoke else a.gen
    prompts = batch(train_s, n_gen, p_len - 1, gen)
    t_gen = time.time()
    pool = generate(teacher, prompts, n_new, dev)
    info["gen"] = {"sequences": n_gen, "prompt": p_len, "new": n_new, "sec": round(time.time() - t_gen, 1)}
    log(f"teacher generations: {info['gen']}")

    # spec-decoding check set: held-out prompts, target's greedy continuation
    hp = windows(held_s[CTX * 0 :], 64, 128)[:, :64] if not a.smoke else windows(held_s, 8, 16)
    check = generate(teacher, hp, 32 if a.smoke else 256, dev)

    d, c = new(dcfg)
    info["draft"] = {"config": c, "params": d.n_params()}
    log(f"draft: {d.n_params()} params")
    info["draft"]["history"] = train("draft", d, train_s, val_w, a.draft_steps, a.bs, 3e-3, 0.1, 100,
                                     10**9, None, dev, gen, teacher=teacher, gen_pool=pool, kd_alpha=0.8, T=T)
    info["draft"]["float"] = ppl_report(d)
    export_view(d, "q8_0", "q8_0", "q8_0")
    info["draft"]["exported"] = ppl_report(d)
    acc, tau, agree = spec_sim(check, d, hp.shape[1], dev)
    info["draft"]["spec_sim"] = {"n_max": 4, "acceptance": acc, "mean_accept_len": tau, "agreement": agree,
                                 "prompts": hp.shape[0], "new": check.shape[1] - hp.shape[1]}
    log(f"draft spec sim: {info['draft']['spec_sim']}")
    info["draft"]["files"] = save_weights(d, {"role": "draft", "seed": a.seed}, a.out, "draft")
    write_json(a.out, "metrics-main.json", info)


def write_json(outdir, name, info):
    with open(os.path.join(outdir, name), "w") as f:
        json.dump(info, f, indent=1)
    log(f"wrote {name}")


if __name__ == "__main__":
    main()
