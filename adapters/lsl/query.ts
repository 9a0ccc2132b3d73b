/**
 * Discovery queries: the strings liblsl's APIs generate (doc §3.4), and an evaluator for the
 * XPath 1.0 subset outlets need to answer them against their full `<info>` document.
 *
 * Supported: `or`/`and` (XPath precedence), `=`, `!=`, `<`, `<=`, `>`, `>=`, parentheses, string and
 * number literals, relative child paths (`name`, `desc/channels/channel/label`), and the functions
 * `not`, `starts-with`, `contains`, `count`, `string`, `number`, `true`, `false`.
 * Owns: query text. Must not: do I/O.
 */
import type { XmlElement } from './xml.js';

export class LslQueryError extends Error {}

/** `session_id='S' and prop='value'` (pylsl resolve_byprop), or `session_id='S'` without a prop. */
export function propQuery(sessionId: string, prop?: string, value?: string): string {
  const base = `session_id='${sessionId}'`;
  return prop === undefined ? base : `${base} and ${prop}='${value ?? ''}'`;
}

/** `session_id='S' and <pred>` (resolve_bypred; no parentheses are added, as in liblsl). */
export function predicateQuery(sessionId: string, predicate: string): string {
  return `session_id='${sessionId}' and ${predicate}`;
}

/** The recovery query of a lost inlet (no session_id; name/type/source_id only when non-empty). */
export function recoveryQuery(info: { channelCount: number; name: string; type: string; sourceId: string; channelFormat: string }): string {
  let q = `channel_count='${info.channelCount}'`;
  if (info.name) q += ` and name='${info.name}'`;
  if (info.type) q += ` and type='${info.type}'`;
  if (info.sourceId) q += ` and source_id='${info.sourceId}'`;
  return `${q} and channel_format='${info.channelFormat}'`;
}

/** A liblsl-style query id: a decimal hash of the query text (liblsl prints std::hash). */
export function queryId(query: string): string {
  let h = 0xcbf29ce484222325n;
  for (const b of Buffer.from(query, 'utf8')) h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return h.toString(10);
}

type Value = { kind: 'nodes'; nodes: XmlElement[] } | { kind: 'string'; v: string } | { kind: 'number'; v: number } | { kind: 'boolean'; v: boolean };

type Token = { t: 'str'; v: string } | { t: 'num'; v: number } | { t: 'name'; v: string } | { t: 'op'; v: string };

function tokenize(q: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < q.length) {
    const c = q[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'" || c === '"') {
      const end = q.indexOf(c, i + 1);
      if (end < 0) throw new LslQueryError(`unterminated string literal at character ${i}`);
      out.push({ t: 'str', v: q.slice(i + 1, end) });
      i = end + 1;
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(q[i + 1] ?? ''))) {
      const m = /^[0-9]*\.?[0-9]*/.exec(q.slice(i))!;
      out.push({ t: 'num', v: Number(m[0]) });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][-A-Za-z0-9_.]*/.exec(q.slice(i))!;
      let name = m[0];
      // A trailing '-' belongs to an operator, not the name.
      while (name.endsWith('-')) name = name.slice(0, -1);
      out.push({ t: 'name', v: name });
      i += name.length;
    } else {
      const two = q.slice(i, i + 2);
      if (two === '!=' || two === '<=' || two === '>=') {
        out.push({ t: 'op', v: two });
        i += 2;
      } else if ('=<>()/,-'.includes(c)) {
        out.push({ t: 'op', v: c });
        i++;
      } else throw new LslQueryError(`unexpected character ${JSON.stringify(c)} at ${i}`);
    }
  }
  return out;
}

function stringOf(v: Value): string {
  switch (v.kind) {
    case 'nodes':
      return v.nodes.length ? stringValue(v.nodes[0]!) : '';
    case 'string':
      return v.v;
    case 'number':
      return Number.isInteger(v.v) ? String(v.v) : String(v.v);
    case 'boolean':
      return v.v ? 'true' : 'false';
  }
}

function stringValue(el: XmlElement): string {
  return el.text + el.children.map(stringValue).join('');
}

function numberOf(v: Value): number {
  if (v.kind === 'number') return v.v;
  if (v.kind === 'boolean') return v.v ? 1 : 0;
  const s = stringOf(v).trim();
  return s === '' ? NaN : Number(s);
}

function booleanOf(v: Value): boolean {
  switch (v.kind) {
    case 'nodes':
      return v.nodes.length > 0;
    case 'string':
      return v.v.length > 0;
    case 'number':
      return v.v !== 0 && !Number.isNaN(v.v);
    case 'boolean':
      return v.v;
  }
}

function compare(op: string, a: Value, b: Value): boolean {
  // XPath 1.0 §3.4: node-set comparisons are existential over the nodes' string values.
  if (a.kind === 'nodes') return a.nodes.some((n) => compare(op, { kind: 'string', v: stringValue(n) }, b));
  if (b.kind === 'nodes') return b.nodes.some((n) => compare(op, a, { kind: 'string', v: stringValue(n) }));
  if (op === '=' || op === '!=') {
    let eq: boolean;
    if (a.kind === 'boolean' || b.kind === 'boolean') eq = booleanOf(a) === booleanOf(b);
    else if (a.kind === 'number' || b.kind === 'number') eq = numberOf(a) === numberOf(b);
    else eq = stringOf(a) === stringOf(b);
    return op === '=' ? eq : !eq;
  }
  const x = numberOf(a);
  const y = numberOf(b);
  return op === '<' ? x < y : op === '<=' ? x <= y : op === '>' ? x > y : x >= y;
}

/** Evaluates `query` as a boolean with `info` as the context node; an empty query is true. */
export function evaluateQuery(query: string, info: XmlElement): boolean {
  if (query.trim() === '') return true;
  const toks = tokenize(query);
  let p = 0;
  const peek = (): Token | undefined => toks[p];
  const isOp = (v: string): boolean => peek()?.t === 'op' && peek()!.v === v;
  const isName = (v: string): boolean => peek()?.t === 'name' && peek()!.v === v;
  const expect = (v: string): void => {
    if (!isOp(v)) throw new LslQueryError(`expected '${v}' at token ${p} of ${JSON.stringify(query)}`);
    p++;
  };
  const orExpr = (): Value => {
    let l = andExpr();
    while (isName('or')) {
      p++;
      const r = andExpr();
      l = { kind: 'boolean', v: booleanOf(l) || booleanOf(r) };
    }
    return l;
  };
  const andExpr = (): Value => {
    let l = eqExpr();
    while (isName('and')) {
      p++;
      const r = eqExpr();
      l = { kind: 'boolean', v: booleanOf(l) && booleanOf(r) };
    }
    return l;
  };
  const eqExpr = (): Value => {
    let l = relExpr();
    while (isOp('=') || isOp('!=')) {
      const op = toks[p++]!.v as string;
      const r = relExpr();
      l = { kind: 'boolean', v: compare(op, l, r) };
    }
    return l;
  };
  const relExpr = (): Value => {
    let l = unary();
    while (isOp('<') || isOp('<=') || isOp('>') || isOp('>=')) {
      const op = toks[p++]!.v as string;
      const r = unary();
      l = { kind: 'boolean', v: compare(op, l, r) };
    }
    return l;
  };
  const unary = (): Value => {
    if (isOp('-')) {
      p++;
      return { kind: 'number', v: -numberOf(unary()) };
    }
    return primary();
  };
  const primary = (): Value => {
    const tok = peek();
    if (!tok) throw new LslQueryError(`query ended early: ${JSON.stringify(query)}`);
    if (tok.t === 'str') {
      p++;
      return { kind: 'string', v: tok.v };
    }
    if (tok.t === 'num') {
      p++;
      return { kind: 'number', v: tok.v };
    }
    if (tok.t === 'op' && tok.v === '(') {
      p++;
      const v = orExpr();
      expect(')');
      return v;
    }
    if (tok.t === 'name') {
      p++;
      if (isOp('(')) {
        p++;
        const args: Value[] = [];
        if (!isOp(')')) {
          args.push(orExpr());
          while (isOp(',')) {
            p++;
            args.push(orExpr());
          }
        }
        expect(')');
        return callFunction(tok.v, args);
      }
      let nodes = info.children.filter((c) => c.name === tok.v);
      while (isOp('/')) {
        p++;
        const step = peek();
        if (step?.t !== 'name') throw new LslQueryError(`expected an element name after '/' in ${JSON.stringify(query)}`);
        p++;
        nodes = nodes.flatMap((n) => n.children.filter((c) => c.name === step.v));
      }
      return { kind: 'nodes', nodes };
    }
    throw new LslQueryError(`unexpected '${tok.v}' in ${JSON.stringify(query)}`);
  };
  const callFunction = (name: string, args: Value[]): Value => {
    const need = (k: number): void => {
      if (args.length !== k) throw new LslQueryError(`${name}() takes ${k} argument(s), got ${args.length}`);
    };
    switch (name) {
      case 'not':
        need(1);
        return { kind: 'boolean', v: !booleanOf(args[0]!) };
      case 'true':
        need(0);
        return { kind: 'boolean', v: true };
      case 'false':
        need(0);
        return { kind: 'boolean', v: false };
      case 'starts-with':
        need(2);
        return { kind: 'boolean', v: stringOf(args[0]!).startsWith(stringOf(args[1]!)) };
      case 'contains':
        need(2);
        return { kind: 'boolean', v: stringOf(args[0]!).includes(stringOf(args[1]!)) };
      case 'count':
        need(1);
        if (args[0]!.kind !== 'nodes') throw new LslQueryError('count() needs a path');
        return { kind: 'number', v: args[0]!.nodes.length };
      case 'string':
        need(1);
        return { kind: 'string', v: stringOf(args[0]!) };
      case 'number':
        need(1);
        return { kind: 'number', v: numberOf(args[0]!) };
      default:
        throw new LslQueryError(`unsupported XPath function ${name}()`);
    }
  };
  const v = orExpr();
  if (p !== toks.length) throw new LslQueryError(`unexpected tokens after position ${p} in ${JSON.stringify(query)}`);
  return booleanOf(v);
}

/** Like evaluateQuery, but an invalid expression is "no match" (as a liblsl outlet treats it). */
export function queryMatches(query: string, info: XmlElement): boolean {
  try {
    return evaluateQuery(query, info);
  } catch {
    return false;
  }
}
