/**
 * A small XML element tree for LSL stream info: parse what liblsl (pugixml) writes, and write it
 * back the way pugixml does (`<?xml version="1.0"?>`, LF, one TAB per level, text-only elements
 * on one line, empty elements as `<desc />`).
 *
 * Owns: elements, text, entity escaping. Must not: know any LSL field (streamInfo.ts does).
 * Attributes are parsed and written but LSL does not use them; comments, processing instructions
 * and CDATA are read and dropped (CDATA kept as text).
 */

export interface XmlElement {
  name: string;
  /** Concatenated text directly inside the element (pugixml's child_value()). */
  text: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  /** Holds a (possibly empty) text node: pugixml writes `<a></a>` for it, `<a />` without. */
  pcdata?: boolean;
}

export class XmlParseError extends Error {
  constructor(what: string, message: string, offset: number) {
    super(`${what}: ${message} at character ${offset}; the stream info XML is malformed (is the peer an LSL outlet?)`);
  }
}

export function element(name: string, text = '', children: XmlElement[] = []): XmlElement {
  return { name, text, attributes: {}, children };
}

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function escapeText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function unescapeXml(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_, e: string) => {
    if (e === 'amp') return '&';
    if (e === 'lt') return '<';
    if (e === 'gt') return '>';
    if (e === 'quot') return '"';
    if (e === 'apos') return "'";
    return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
  });
}

/** Parses a document and returns its root element. `what` names the source in errors. */
export function parseXml(text: string, what = 'XML'): XmlElement {
  let i = 0;
  const n = text.length;
  const skipMisc = (): void => {
    for (;;) {
      while (i < n && /\s/.test(text[i]!)) i++;
      if (text.startsWith('<?', i)) {
        const end = text.indexOf('?>', i);
        if (end < 0) throw new XmlParseError(what, 'unterminated <?…?>', i);
        i = end + 2;
      } else if (text.startsWith('<!--', i)) {
        const end = text.indexOf('-->', i);
        if (end < 0) throw new XmlParseError(what, 'unterminated comment', i);
        i = end + 3;
      } else if (text.startsWith('<!DOCTYPE', i)) {
        const end = text.indexOf('>', i);
        if (end < 0) throw new XmlParseError(what, 'unterminated DOCTYPE', i);
        i = end + 1;
      } else return;
    }
  };
  const readName = (): string => {
    const m = /^[A-Za-z_:][-A-Za-z0-9_:.]*/.exec(text.slice(i, i + 256));
    if (!m) throw new XmlParseError(what, `expected an element name, found ${JSON.stringify(text.slice(i, i + 10))}`, i);
    i += m[0].length;
    return m[0];
  };
  const parseElement = (depth: number): XmlElement => {
    if (depth > 256) throw new XmlParseError(what, 'elements nested deeper than 256', i);
    if (text[i] !== '<') throw new XmlParseError(what, `expected '<', found ${JSON.stringify(text.slice(i, i + 10))}`, i);
    i++;
    const el = element(readName());
    for (;;) {
      while (i < n && /\s/.test(text[i]!)) i++;
      if (text.startsWith('/>', i)) {
        i += 2;
        return el;
      }
      if (text[i] === '>') {
        i++;
        break;
      }
      if (i >= n) throw new XmlParseError(what, `unterminated start tag <${el.name}>`, i);
      const attr = readName();
      while (i < n && /\s/.test(text[i]!)) i++;
      if (text[i] !== '=') throw new XmlParseError(what, `expected '=' after attribute ${attr}`, i);
      i++;
      while (i < n && /\s/.test(text[i]!)) i++;
      const q = text[i];
      if (q !== '"' && q !== "'") throw new XmlParseError(what, `expected a quoted value for attribute ${attr}`, i);
      const end = text.indexOf(q, i + 1);
      if (end < 0) throw new XmlParseError(what, `unterminated attribute ${attr}`, i);
      el.attributes[attr] = unescapeXml(text.slice(i + 1, end));
      i = end + 1;
    }
    let textParts = '';
    for (;;) {
      if (i >= n) throw new XmlParseError(what, `missing </${el.name}>`, i);
      if (text.startsWith('</', i)) {
        i += 2;
        const close = readName();
        if (close !== el.name) throw new XmlParseError(what, `</${close}> closes <${el.name}>`, i);
        while (i < n && /\s/.test(text[i]!)) i++;
        if (text[i] !== '>') throw new XmlParseError(what, `expected '>' after </${close}`, i);
        i++;
        el.text = textParts;
        return el;
      }
      if (text.startsWith('<!--', i)) {
        const end = text.indexOf('-->', i);
        if (end < 0) throw new XmlParseError(what, 'unterminated comment', i);
        i = end + 3;
      } else if (text.startsWith('<![CDATA[', i)) {
        const end = text.indexOf(']]>', i);
        if (end < 0) throw new XmlParseError(what, 'unterminated CDATA', i);
        textParts += text.slice(i + 9, end);
        i = end + 3;
      } else if (text.startsWith('<?', i)) {
        const end = text.indexOf('?>', i);
        if (end < 0) throw new XmlParseError(what, 'unterminated <?…?>', i);
        i = end + 2;
      } else if (text[i] === '<') {
        el.children.push(parseElement(depth + 1));
      } else {
        const end = text.indexOf('<', i);
        const raw = text.slice(i, end < 0 ? n : end);
        // pugixml's child_value() is the first PCDATA; whitespace-only runs between children are formatting.
        if (raw.trim().length > 0 || el.children.length === 0) textParts += unescapeXml(raw);
        i = end < 0 ? n : end;
      }
    }
  };
  skipMisc();
  if (i >= n) throw new XmlParseError(what, 'empty document', i);
  const root = parseElement(0);
  skipMisc();
  if (i < n) throw new XmlParseError(what, 'content after the root element', i);
  trimFormatting(root);
  return root;
}

/** Text of elements that have children is formatting whitespace in pugixml's layout. */
function trimFormatting(el: XmlElement): void {
  if (el.children.length > 0 && el.text.trim() === '') el.text = '';
  for (const c of el.children) trimFormatting(c);
}

/** Writes a document as pugixml's default `save()` does. */
export function writeXml(root: XmlElement): string {
  const lines: string[] = ['<?xml version="1.0"?>'];
  const write = (el: XmlElement, depth: number): void => {
    const pad = '\t'.repeat(depth);
    const attrs = Object.entries(el.attributes)
      .map(([k, v]) => ` ${k}="${escapeXml(v)}"`)
      .join('');
    if (el.children.length === 0) {
      lines.push(el.text === '' && !el.pcdata ? `${pad}<${el.name}${attrs} />` : `${pad}<${el.name}${attrs}>${escapeText(el.text)}</${el.name}>`);
      return;
    }
    lines.push(el.text === '' ? `${pad}<${el.name}${attrs}>` : `${pad}<${el.name}${attrs}>${escapeText(el.text)}`);
    for (const c of el.children) write(c, depth + 1);
    lines.push(`${pad}</${el.name}>`);
  };
  write(root, 0);
  return `${lines.join('\n')}\n`;
}

export function childNamed(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c) => c.name === name);
}

export function cloneElement(el: XmlElement): XmlElement {
  return { name: el.name, text: el.text, attributes: { ...el.attributes }, children: el.children.map(cloneElement), ...(el.pcdata ? { pcdata: true } : {}) };
}
