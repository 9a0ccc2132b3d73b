/**
 * A reader for the Python literals that some BIDS datasets write into TSV cells (MEG-MASC puts
 * `str(dict)` in `trial_type`: `{'kind': 'word', 'word': 'Tara', 'onset': 1.2, 'x': nan}`).
 * Reads what `ast.literal_eval` reads for those cells — dicts, lists, tuples, str, int/float
 * (including `nan`/`inf`, which `str(dict)` writes for NaN), True/False/None — and nothing else
 * (no evaluation, no names).
 *
 * Owns: parsing one literal. Must not: know about BIDS columns.
 */

export type PyValue = string | number | boolean | null | PyValue[] | { [key: string]: PyValue };

export class PyLiteralError extends Error {
  constructor(
    readonly position: number,
    what: string,
  ) {
    super(`${what} at character ${position + 1}`);
    this.name = 'PyLiteralError';
  }
}

/**
 * Parses one Python literal; keys of dicts are converted to strings.
 * @example parsePyLiteral("{'kind': 'word', 'word': \"it's\"}") // { kind: 'word', word: "it's" }
 */
export function parsePyLiteral(text: string): PyValue {
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const expect = (ch: string) => {
    ws();
    if (text[i] !== ch) throw new PyLiteralError(i, `expected "${ch}", found ${i < text.length ? `"${text[i]}"` : 'the end'}`);
    i++;
  };
  const str = (): string => {
    let prefixRaw = false;
    if (text[i] === 'r' || text[i] === 'R') {
      prefixRaw = true;
      i++;
    } else if (text[i] === 'u' || text[i] === 'U') i++;
    const q = text[i];
    const triple = text.startsWith(q.repeat(3), i);
    const close = triple ? q.repeat(3) : q;
    i += close.length;
    let out = '';
    for (;;) {
      if (i >= text.length) throw new PyLiteralError(i, 'unterminated string');
      if (text.startsWith(close, i)) {
        i += close.length;
        return out;
      }
      const c = text[i];
      if (c === '\\' && !prefixRaw) {
        const n = text[i + 1];
        i += 2;
        const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', '0': '\0', a: '\x07', b: '\b', f: '\f', v: '\v', '\n': '' };
        if (n in simple) out += simple[n];
        else if (n === 'x' || n === 'u' || n === 'U') {
          const len = n === 'x' ? 2 : n === 'u' ? 4 : 8;
          const hex = text.slice(i, i + len);
          if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== len) throw new PyLiteralError(i, `bad \\${n} escape`);
          out += String.fromCodePoint(parseInt(hex, 16));
          i += len;
        } else out += `\\${n ?? ''}`;
        continue;
      }
      if (!triple && c === '\n') throw new PyLiteralError(i, 'newline inside a string');
      out += c;
      i++;
    }
  };
  const value = (): PyValue => {
    ws();
    const c = text[i];
    if (c === undefined) throw new PyLiteralError(i, 'expected a value, found the end');
    if (c === '{') {
      i++;
      const obj: Record<string, PyValue> = {};
      ws();
      if (text[i] === '}') {
        i++;
        return obj;
      }
      for (;;) {
        const k = value();
        if (typeof k === 'object' && k !== null) throw new PyLiteralError(i, 'a dict key must be a string, number, bool or None');
        expect(':');
        obj[String(k)] = value();
        ws();
        if (text[i] === ',') {
          i++;
          ws();
          if (text[i] === '}') {
            i++;
            return obj;
          }
          continue;
        }
        expect('}');
        return obj;
      }
    }
    if (c === '[' || c === '(') {
      const closer = c === '[' ? ']' : ')';
      i++;
      const arr: PyValue[] = [];
      ws();
      if (text[i] === closer) {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value());
        ws();
        if (text[i] === ',') {
          i++;
          ws();
          if (text[i] === closer) {
            i++;
            return arr;
          }
          continue;
        }
        expect(closer);
        return arr;
      }
    }
    if (c === "'" || c === '"' || (/[rRuU]/.test(c) && (text[i + 1] === "'" || text[i + 1] === '"'))) return str();
    const m = /^(?:[+-]?(?:\d[\d_]*\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|True|False|None|nan|inf|-inf|NaN)/.exec(text.slice(i));
    if (m) {
      i += m[0].length;
      const t = m[0];
      if (t === 'True') return true;
      if (t === 'False') return false;
      if (t === 'None') return null;
      if (t === 'nan' || t === 'NaN') return NaN;
      if (t === 'inf') return Infinity;
      if (t === '-inf') return -Infinity;
      return Number(t.replace(/_/g, ''));
    }
    throw new PyLiteralError(i, `unexpected "${c}"`);
  };
  const v = value();
  ws();
  if (i !== text.length) throw new PyLiteralError(i, `unexpected "${text[i]}" after the value`);
  return v;
}
