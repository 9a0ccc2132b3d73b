/**
 * BIDS tab-separated tables: header row, one record per line, `n/a` for missing. Values stay
 * strings (as pandas with `dtype=str` would keep them); callers convert per column.
 *
 * Tolerates what real datasets contain: a UTF-8 byte-order mark (every ds000248 TSV), CRLF line
 * ends (ds000246 participants.tsv), trailing blank lines. Rows whose field count differs from the
 * header are an error naming the file and line, or — for tables known to carry malformed rows
 * (the Armeni scans.tsv files) — are skipped with a warning when the caller asks for `lenient`.
 *
 * Owns: splitting text into records. Must not: interpret columns, touch the file system.
 */

/** A TSV value that BIDS marks as missing. */
export const NA = 'n/a';

export class BidsFormatError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | null,
    what: string,
    hint = 'fix the row (tab-separated, as many fields as the header) or remove it',
  ) {
    super(`${file}${line === null ? '' : `:${line}`}: ${what} (${hint})`);
    this.name = 'BidsFormatError';
  }
}

export interface TsvTable {
  file: string;
  columns: string[];
  /** One array of strings per record, in file order, as many fields as `columns`. */
  rows: string[][];
  /** 1-based line number of each record in the file (the header is line 1). */
  lines: number[];
  /** Whether the text started with a UTF-8 byte-order mark. */
  utf8Bom: boolean;
  /** Whether lines ended with CRLF. */
  crlf: boolean;
  /** Skipped malformed rows (lenient mode only), "file:line: why". */
  warnings: string[];
}

export interface TsvOptions {
  /** Skip rows with the wrong number of fields (with a warning) instead of throwing. */
  lenient?: boolean;
}

/** Strips a UTF-8 byte-order mark (U+FEFF once decoded). */
export function stripBom(text: string): { text: string; bom: boolean } {
  return text.charCodeAt(0) === 0xfeff ? { text: text.slice(1), bom: true } : { text, bom: false };
}

/**
 * Parses a BIDS TSV.
 * @example parseTsv('onset\tduration\n1.5\t0\n', 'events.tsv').rows // [['1.5', '0']]
 */
export function parseTsv(raw: string, file: string, o: TsvOptions = {}): TsvTable {
  const { text, bom } = stripBom(raw);
  const crlf = /\r\n/.test(text);
  const physical = text.split(/\r?\n/);
  // A file ends with a newline: the last split piece is empty. Blank lines elsewhere are skipped too.
  const headerIdx = physical.findIndex((l) => l.trim() !== '');
  if (headerIdx < 0) throw new BidsFormatError(file, null, 'empty table: no header row', 'a BIDS TSV starts with a header row of column names');
  const columns = physical[headerIdx].replace(/\r$/, '').split('\t');
  if (columns.some((c) => c === '')) throw new BidsFormatError(file, headerIdx + 1, `empty column name in header ${JSON.stringify(columns)}`, 'the header must name every tab-separated column');
  const rows: string[][] = [];
  const lines: number[] = [];
  const warnings: string[] = [];
  for (let i = headerIdx + 1; i < physical.length; i++) {
    const line = physical[i].replace(/\r$/, '');
    if (line.trim() === '') continue;
    const fields = line.split('\t');
    if (fields.length !== columns.length) {
      const what = `row has ${fields.length} field${fields.length === 1 ? '' : 's'}, the header has ${columns.length} (${JSON.stringify(line.slice(0, 80))})`;
      if (o.lenient) {
        warnings.push(`${file}:${i + 1}: ${what}; row skipped`);
        continue;
      }
      throw new BidsFormatError(file, i + 1, what);
    }
    rows.push(fields);
    lines.push(i + 1);
  }
  return { file, columns, rows, lines, utf8Bom: bom, crlf, warnings };
}

/** Index of a column, or -1. */
export function columnIndex(t: TsvTable, name: string): number {
  return t.columns.indexOf(name);
}

/** Index of a column that must exist; throws naming the file and the columns it has. */
export function requireColumn(t: TsvTable, name: string): number {
  const i = t.columns.indexOf(name);
  if (i < 0) throw new BidsFormatError(t.file, 1, `no "${name}" column (columns: ${t.columns.join(', ')})`, 'this table needs that column by the BIDS specification');
  return i;
}

/** The records as objects keyed by column name. */
export function records(t: TsvTable): Record<string, string>[] {
  return t.rows.map((r) => Object.fromEntries(t.columns.map((c, j) => [c, r[j]])));
}

/** A numeric cell: a finite number, null for `n/a` or empty, or an error naming file, line and column. */
export function numberCell(t: TsvTable, row: number, col: number): number | null {
  const s = t.rows[row][col].trim();
  if (s === NA || s === '') return null;
  const v = Number(s);
  if (!Number.isFinite(v)) throw new BidsFormatError(t.file, t.lines[row], `column "${t.columns[col]}" holds "${s}", not a number`);
  return v;
}
