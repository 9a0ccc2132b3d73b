#!/usr/bin/python3
"""Independent NumPy forward pass of the tiny causal LMs (the oracle for adapters/onnx/builder).

Implements the Hugging Face PyTorch semantics of GPT-2, Llama (RMSNorm, rotary with rotate_half,
grouped KV heads, SwiGLU, optional Gemma-2 sandwich norms) and GPT-NeoX (parallel residual,
partial rotary, per-head packed qkv, exact GELU) directly from the weights, without looking at any
graph, and writes all hidden states (HF convention: [0] = embedding output, [L] = last block
output before the final norm) and the logits.

  /usr/bin/python3 scripts/tiny_lm_reference.py --weights DIR --input input.json --out out.json

DIR holds weights.bin + weights.json (float32 LE, manifest {config, tensors[name, shape, offset,
length]}); config carries the builder's resolved spec. input.json: {"ids": [...]} or
{"embeds": [...], "seq": n}. Uses numpy and scipy only (both in CI).
"""
import argparse
import json
import math
import os

import numpy as np
from scipy.special import erf


def load(d):
    with open(os.path.join(d, 'weights.json')) as f:
        man = json.load(f)
    raw = np.fromfile(os.path.join(d, 'weights.bin'), dtype='<f4')
    w = {}
    for t in man['tensors']:
        a = raw[t['offset'] // 4: (t['offset'] + t['length']) // 4]
        w[t['name']] = a.reshape(t['shape']).astype(np.float64)
    return man['config'], w


def layer_norm(x, g, b, eps):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * g + b


def rms_norm(x, g, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * g


def softmax(x):
    x = x - x.max(-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(-1, keepdims=True)


def rotary(t, pos, rot, theta):
    # t: [H, S, hd]; HF: cos/sin of concat(freqs, freqs); rotate_half(x) = concat(-x2, x1)
    inv = 1.0 / theta ** (np.arange(0, rot, 2) / rot)
    freqs = pos[:, None] * inv[None, :]
    emb = np.concatenate([freqs, freqs], -1)
    cos, sin = np.cos(emb), np.sin(emb)
    tr, tp = t[..., :rot], t[..., rot:]
    x1, x2 = tr[..., : rot // 2], tr[..., rot // 2:]
    rh = np.concatenate([-x2, x1], -1)
    return np.concatenate([tr * cos + rh * sin, tp], -1)


def attend(q, k, v):
    # q [H, S, hd], k/v [H, S, hd]
    S, hd = q.shape[1], q.shape[2]
    scores = q @ k.transpose(0, 2, 1) / math.sqrt(hd)
    scores = np.where(np.tril(np.ones((S, S), bool))[None], scores, -np.inf)
    out = softmax(scores) @ v  # [H, S, hd]
    return out.transpose(1, 0, 2).reshape(S, -1)


def forward(cfg, w, ids=None, embeds=None):
    fam, L, D, H = cfg['family'], cfg['layers'], cfg['hidden'], cfg['heads']
    KV, hd, eps = cfg['kvHeads'], cfg['headDim'], cfg['eps']
    S = len(ids) if ids is not None else embeds.shape[0]
    pos = np.arange(S, dtype=np.float64)
    states = []
    if fam == 'gpt2':
        tok = embeds if embeds is not None else w['transformer.wte.weight'][ids]
        x = tok + w['transformer.wpe.weight'][:S]
        states.append(x)
        for i in range(L):
            p = 'transformer.h.%d.' % i
            h = layer_norm(x, w[p + 'ln_1.weight'], w[p + 'ln_1.bias'], eps)
            qkv = h @ w[p + 'attn.c_attn.weight'] + w[p + 'attn.c_attn.bias']
            q, k, v = [t.reshape(S, H, hd).transpose(1, 0, 2) for t in np.split(qkv, 3, -1)]
            a = attend(q, k, v) @ w[p + 'attn.c_proj.weight'] + w[p + 'attn.c_proj.bias']
            x = x + a
            h = layer_norm(x, w[p + 'ln_2.weight'], w[p + 'ln_2.bias'], eps)
            f = h @ w[p + 'mlp.c_fc.weight'] + w[p + 'mlp.c_fc.bias']
            f = 0.5 * f * (1 + np.tanh(math.sqrt(2 / math.pi) * (f + 0.044715 * f ** 3)))
            x = x + f @ w[p + 'mlp.c_proj.weight'] + w[p + 'mlp.c_proj.bias']
            states.append(x)
        n = layer_norm(x, w['transformer.ln_f.weight'], w['transformer.ln_f.bias'], eps)
        head = w['transformer.wte.weight'].T if cfg['tiedEmbeddings'] else w['lm_head.weight']
    elif fam == 'llama':
        x = embeds if embeds is not None else w['model.embed_tokens.weight'][ids]
        states.append(x)
        for i in range(L):
            p = 'model.layers.%d.' % i
            h = rms_norm(x, w[p + 'input_layernorm.weight'], eps)
            q = (h @ w[p + 'self_attn.q_proj.weight']).reshape(S, H, hd).transpose(1, 0, 2)
            k = (h @ w[p + 'self_attn.k_proj.weight']).reshape(S, KV, hd).transpose(1, 0, 2)
            v = (h @ w[p + 'self_attn.v_proj.weight']).reshape(S, KV, hd).transpose(1, 0, 2)
            q, k = rotary(q, pos, hd, cfg['ropeTheta']), rotary(k, pos, hd, cfg['ropeTheta'])
            k, v = np.repeat(k, H // KV, 0), np.repeat(v, H // KV, 0)  # HF repeat_kv: head j uses kv head j // (H/KV)
            a = attend(q, k, v) @ w[p + 'self_attn.o_proj.weight']
            if cfg['sandwichNorms']:
                a = rms_norm(a, w[p + 'post_attention_layernorm.weight'], eps)
            x = x + a
            pre = 'pre_feedforward_layernorm' if cfg['sandwichNorms'] else 'post_attention_layernorm'
            h = rms_norm(x, w[p + pre + '.weight'], eps)
            gte = h @ w[p + 'mlp.gate_proj.weight']
            m = (gte / (1 + np.exp(-gte)) * (h @ w[p + 'mlp.up_proj.weight'])) @ w[p + 'mlp.down_proj.weight']
            if cfg['sandwichNorms']:
                m = rms_norm(m, w[p + 'post_feedforward_layernorm.weight'], eps)
            x = x + m
            states.append(x)
        n = rms_norm(x, w['model.norm.weight'], eps)
        head = w['model.embed_tokens.weight'].T if cfg['tiedEmbeddings'] else w['lm_head.weight']
    else:
        x = embeds if embeds is not None else w['gpt_neox.embed_in.weight'][ids]
        states.append(x)
        rot = int(round(hd * cfg['rotaryPct']))
        for i in range(L):
            p = 'gpt_neox.layers.%d.' % i
            h1 = layer_norm(x, w[p + 'input_layernorm.weight'], w[p + 'input_layernorm.bias'], eps)
            h2 = layer_norm(x, w[p + 'post_attention_layernorm.weight'], w[p + 'post_attention_layernorm.bias'], eps)
            qkv = (h1 @ w[p + 'attention.query_key_value.weight'] + w[p + 'attention.query_key_value.bias']).reshape(S, H, 3 * hd)
            q, k, v = [t.transpose(1, 0, 2) for t in (qkv[..., :hd], qkv[..., hd:2 * hd], qkv[..., 2 * hd:])]
            q, k = rotary(q, pos, rot, cfg['ropeTheta']), rotary(k, pos, rot, cfg['ropeTheta'])
            a = attend(q, k, v) @ w[p + 'attention.dense.weight'] + w[p + 'attention.dense.bias']
            f = h2 @ w[p + 'mlp.dense_h_to_4h.weight'] + w[p + 'mlp.dense_h_to_4h.bias']
            f = 0.5 * f * (1 + erf(f / math.sqrt(2)))
            m = f @ w[p + 'mlp.dense_4h_to_h.weight'] + w[p + 'mlp.dense_4h_to_h.bias']
            x = m + a + x
            states.append(x)
        n = layer_norm(x, w['gpt_neox.final_layer_norm.weight'], w['gpt_neox.final_layer_norm.bias'], eps)
        head = w['gpt_neox.embed_in.weight'].T if cfg['tiedEmbeddings'] else w['embed_out.weight']
    return states, n @ head


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--weights', required=True)
    ap.add_argument('--input', required=True)
    ap.add_argument('--out', required=True)
    a = ap.parse_args()
    cfg, w = load(a.weights)
    with open(a.input) as f:
        inp = json.load(f)
    if 'ids' in inp:
        states, logits = forward(cfg, w, ids=np.array(inp['ids']))
    else:
        states, logits = forward(cfg, w, embeds=np.array(inp['embeds'], dtype=np.float64).reshape(inp['seq'], -1))
    with open(a.out, 'w') as f:
        json.dump({'hiddenStates': [s.ravel().tolist() for s in states], 'logits': logits.ravel().tolist()}, f)


if __name__ == '__main__':
    main()
