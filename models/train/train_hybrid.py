#!/usr/bin/env python3
"""Train speclab's hybrid default target: a small Qwen3.5 (`qwen35` in
llama.cpp), Gated DeltaNet layers with one gated full-attention layer in
four, on the same Go corpus and tokenizer as the llama target.

It uses transformers' own Qwen3_5ForCausalLM (the reference implementation
of the architecture), trains for a wall-clock budget, then writes the
weights as the GGUF file will hold them: every tensor under its llama.cpp
name (src/models/qwen35.cpp) with the conversions of the pinned release's
converter (conversion/qwen.py: zero-centred RMSNorm weights + 1,
ssm_a = -exp(A_log), dt_bias -> ssm_dt.bias, conv1d squeezed), the block
matrices fake-quantized to MXFP4 and token_embd/output to Q8_0 exactly as
ggml quantizes them, so that PyTorch's held-out perplexity is that of the
exported model. models/export -hybrid writes the GGUF file.

    python3 train_hybrid.py --data ../.work/data --out OUT --seconds 420
"""

import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.nn.utils.parametrize as P

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train import (CTX, autocast, batch, load_stream, log, lr_at, make_opt, mxfp4_fake, q8_0_fake,  # noqa: E402
                   windows)

HYBRID = dict(hidden=384, layers=4, interval=4, heads=6, heads_kv=2, head_dim=64, ff=1024,
              lin_heads=4, lin_head_dim=64, conv=4, rope_factor=0.25, mrope=[3, 3, 2], eps=1e-6)
SMOKE = dict(HYBRID, hidden=64, heads=2, heads_kv=1, head_dim=32, ff=128, lin_heads=2, lin_head_dim=32, mrope=[2, 1, 1])

# GGUF names of the weights, by the suffix of transformers' names.
NAMES = [
    ("input_layernorm.weight", "attn_norm.weight", "norm+1"),
    ("post_attention_layernorm.weight", "post_attention_norm.weight", "norm+1"),
    ("linear_attn.in_proj_qkv.weight", "attn_qkv.weight", "mxfp4"),
    ("linear_attn.in_proj_z.weight", "attn_gate.weight", "mxfp4"),
    ("linear_attn.in_proj_b.weight", "ssm_beta.weight", "f32"),
    ("linear_attn.in_proj_a.weight", "ssm_alpha.weight", "f32"),
    ("linear_attn.conv1d.weight", "ssm_conv1d.weight", "conv"),
    ("linear_attn.A_log", "ssm_a", "a"),
    ("linear_attn.dt_bias", "ssm_dt.bias", "f32"),
    ("linear_attn.norm.weight", "ssm_norm.weight", "f32"),
    ("linear_attn.out_proj.weight", "ssm_out.weight", "mxfp4"),
    ("self_attn.q_proj.weight", "attn_q.weight", "mxfp4"),
    ("self_attn.k_proj.weight", "attn_k.weight", "mxfp4"),
    ("self_attn.v_proj.weight", "attn_v.weight", "mxfp4"),
    ("self_attn.o_proj.weight", "attn_output.weight", "mxfp4"),
    ("self_attn.q_norm.weight", "attn_q_norm.weight", "norm+1"),
    ("self_attn.k_norm.weight", "attn_k_norm.weight", "norm+1"),
    ("mlp.gate_proj.weight", "ffn_gate.weight", "mxfp4"),
    ("mlp.up_proj.weight", "ffn_up.weight", "mxfp4"),
    ("mlp.down_proj.weight", "ffn_down.weight", "mxfp4"),
]


def build(c, vocab, bos):
    from transformers import Qwen3_5ForCausalLM, Qwen3_5TextConfig
    kinds = ["linear_attention" if (i + 1) % c["interval"] else "full_attention" for i in range(c["layers"])]
    cfg = Qwen3_5TextConfig(
        vocab_size=vocab, hidden_size=c["hidden"], intermediate_size=c["ff"], num_hidden_layers=c["layers"],
        num_attention_heads=c["heads"], num_key_value_heads=c["heads_kv"], head_dim=c["head_dim"],
        max_position_embeddings=CTX, rms_norm_eps=c["eps"], tie_word_embeddings=False,
        linear_conv_kernel_dim=c["conv"], linear_key_head_dim=c["lin_head_dim"], linear_value_head_dim=c["lin_head_dim"],
        linear_num_key_heads=c["lin_heads"], linear_num_value_heads=c["lin_heads"], layer_types=kinds,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": c["rope_factor"],
                         "mrope_section": c["mrope"], "mrope_interleaved": True},
        bos_token_id=bos, eos_token_id=bos, pad_token_id=None)
    return Qwen3_5ForCausalLM(cfg), kinds


class FQ(nn.Module):
    """Straight-through fake quantization of a weight."""

    def __init__(self, fq):
        super().__init__()
        self.fq = fq

    def forward(self, w):
        return w + (self.fq(w) - w).detach()


def gguf_role(name):
    for suffix, _, kind in NAMES:
        if name.endswith(suffix):
            return kind
    if name.endswith("embed_tokens.weight") or name.endswith("lm_head.weight"):
        return "q8_0"
    if name.endswith("model.norm.weight"):
        return "norm+1"
    raise KeyError(name)


def quantizers(model, on):
    """Adds (or removes) fake quantization of the exported types."""
    for mname, mod in model.named_modules():
        if not isinstance(mod, (nn.Linear, nn.Embedding)):
            continue
        kind = gguf_role(mname + ".weight")
        fq = {"mxfp4": mxfp4_fake, "q8_0": q8_0_fake}.get(kind)
        if fq is None:
            continue
        if on and not P.is_parametrized(mod, "weight"):
            P.register_parametrization(mod, "weight", FQ(fq))
        elif not on and P.is_parametrized(mod, "weight"):
            P.remove_parametrizations(mod, "weight", leave_parametrized=True)


def logits_of(model, x):
    return model(input_ids=x, use_cache=False).logits


@torch.no_grad()
def eval_nll(model, wins, dev, bs=8):
    was = model.training
    model.eval()
    tot, n = 0.0, 0
    for i in range(0, len(wins), bs):
        w = wins[i: i + bs].to(dev)
        lg = logits_of(model, w[:, :-1]).float()
        tot += F.cross_entropy(lg.reshape(-1, lg.shape[-1]), w[:, 1:].reshape(-1), reduction="sum").item()
        n += w[:, 1:].numel()
    model.train(was)
    return tot / n


def gguf_tensors(model, layer_kinds):
    """The weights by llama.cpp name, converted as the pinned converter
    does, rounded to bf16 but not yet quantized: models/export quantizes
    them with ggml's reference algorithms, the ones mxfp4_fake and
    q8_0_fake compute, so the file holds what PyTorch evaluated."""
    out = {}
    for name, p in model.named_parameters():
        w = p.detach().float().cpu()
        if name.endswith("embed_tokens.weight"):
            out["token_embd.weight"] = w
            continue
        if name.endswith("lm_head.weight"):
            out["output.weight"] = w
            continue
        if name.endswith("model.norm.weight"):
            out["output_norm.weight"] = w + 1
            continue
        i = int(name.split(".layers.")[1].split(".")[0])
        for suffix, gname, kind in NAMES:
            if name.endswith(suffix):
                if kind == "norm+1":
                    w = w + 1
                elif kind == "conv":
                    w = w.squeeze(1)
                elif kind == "a":
                    w = -torch.exp(w)
                out[f"blk.{i}.{gname}"] = w
                break
        else:
            raise KeyError(name)
    return out


def save_safetensors(ts, meta, outdir, stem, part_bytes=15 << 20):
    """stem.st.gz.NN: gzip-compressed safetensors (2-D bf16, 1-D f32) in
    parts of at most part_bytes, as train.py writes them."""
    import gzip
    import struct
    header, blobs, off = {"__metadata__": {k: str(v) for k, v in meta.items()}}, [], 0
    for name, w in ts.items():
        if w.dim() == 1:
            b, dt = w.contiguous().numpy().astype("<f4").tobytes(), "F32"
        else:
            b, dt = w.contiguous().to(torch.bfloat16).view(torch.int16).numpy().astype("<i2").tobytes(), "BF16"
        header[name] = {"dtype": dt, "shape": list(w.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    z = gzip.compress(struct.pack("<Q", len(h)) + h + b"".join(blobs), compresslevel=6, mtime=0)
    for i in range(0, len(z), part_bytes):
        with open(os.path.join(outdir, f"{stem}.st.gz.{i // part_bytes:02d}"), "wb") as f:
            f.write(z[i: i + part_bytes])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="models/.work/data")
    ap.add_argument("--out", default="models/.work/hybrid")
    ap.add_argument("--seed", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=420, help="training wall-clock budget")
    ap.add_argument("--bs", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--eval-windows", type=int, default=16)
    ap.add_argument("--smoke", action="store_true")
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    os.makedirs(a.out, exist_ok=True)
    c = SMOKE if a.smoke else HYBRID
    tok = json.load(open(os.path.join(a.data, "tok-main.json")))
    vocab = len(tok["tokens"]) if "tokens" in tok else tok["vocab_size"]
    bos = tok["BOS"]
    train = load_stream(os.path.join(a.data, "main-train.bin.gz"))
    held = load_stream(os.path.join(a.data, "main-heldout.bin.gz"))
    T = 128 if a.smoke else CTX
    wins = windows(held, a.eval_windows, T)
    model, kinds = build(c, vocab, bos)
    model.to(dev)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"hybrid: {n_params} parameters, layers {kinds}, device {dev}, torch {torch.__version__}")
    import transformers
    log(f"transformers {transformers.__version__}")
    gen = torch.Generator().manual_seed(a.seed)
    opt = make_opt(model, a.lr, 0.1)
    # Calibrate the step count to the budget on a few steps.
    t0 = time.time()
    step, steps, warm = 0, None, 30
    qat = False
    hist = []
    while True:
        el = time.time() - t0
        if steps is None and step == 8:
            rate = step / el
            steps = max(warm + 10, int(rate * a.seconds))
            log(f"hybrid: {rate:.2f} steps/s, {rate * a.bs * T:.0f} tokens/s: {steps} steps")
        if steps is not None and step >= steps:
            break
        total = steps or 10 ** 9
        if steps is not None and not qat and step >= int(0.75 * steps):
            quantizers(model, True)
            qat = True
            log(f"hybrid: step {step}: quantization-aware from here")
        for g in opt.param_groups:
            g["lr"] = lr_at(step, total, a.lr, warm)
        x = batch(train, a.bs, T, gen).to(dev)
        with autocast(dev):
            lg = logits_of(model, x[:, :-1])
        loss = F.cross_entropy(lg.float().reshape(-1, lg.shape[-1]), x[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 50 == 0:
            log(f"hybrid: step {step} loss {loss.item():.4f} ({time.time() - t0:.0f}s)")
            hist.append([step, loss.item()])
        step += 1
    train_s = time.time() - t0
    quantizers(model, False)
    # As exported: bf16 transfer rounding, then the GGUF types.
    model.float()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(torch.bfloat16).float())
    torch.backends.cuda.matmul.allow_tf32 = False
    nll_float = eval_nll(model, wins, dev)
    ts = gguf_tensors(model, kinds)
    # Put the quantized values back into the model to measure them.
    with torch.no_grad():
        for mname, mod in model.named_modules():
            if isinstance(mod, (nn.Linear, nn.Embedding)):
                kind = gguf_role(mname + ".weight")
                if kind == "mxfp4":
                    mod.weight.copy_(mxfp4_fake(mod.weight))
                elif kind == "q8_0":
                    mod.weight.copy_(q8_0_fake(mod.weight))
    nll = eval_nll(model, wins, dev)
    log(f"hybrid: held-out ppl {math.exp(nll_float):.4f} (float), {math.exp(nll):.4f} (exported), {a.eval_windows} windows")
    cfg = dict(c, vocab=vocab, kinds=kinds)
    metrics = {"seed": a.seed, "device": torch.cuda.get_device_name(0) if dev == "cuda" else "cpu",
               "torch": torch.__version__, "transformers": transformers.__version__,
               "params": n_params, "steps": step, "train_seconds": round(train_s), "batch": a.bs, "ctx": T,
               "lr": a.lr, "config": cfg, "loss_history": hist,
               "float": {"eval_windows": len(wins), "ppl_eval_windows": math.exp(nll_float)},
               "exported": {"eval_windows": len(wins), "ppl_eval_windows": math.exp(nll)}}
    save_safetensors(ts, {"role": "hybrid-target"}, a.out, "hybrid")
    json.dump(metrics, open(os.path.join(a.out, "metrics-hybrid.json"), "w"), indent=2)
    # A greedy check for the GGUF: the exported model's next tokens after
    # the first window's first 64 tokens.
    with torch.no_grad():
        x = wins[:1, :64].to(dev)
        out = []
        for _ in range(16):
            nxt = logits_of(model, x)[0, -1].argmax().item()
            out.append(nxt)
            x = torch.cat([x, torch.tensor([[nxt]], device=dev)], dim=1)
    json.dump({"prompt": wins[0, :64].tolist(), "greedy": out}, open(os.path.join(a.out, "greedy-hybrid.json"), "w"))
    log(f"hybrid: done, greedy {out}")


if __name__ == "__main__":
    main()
