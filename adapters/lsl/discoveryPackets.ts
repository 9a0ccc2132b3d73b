/**
 * Discovery datagrams (doc §3): the `LSL:shortinfo` query (three CRLF lines: method, query,
 * `<return-port> <query-id>`) and its reply (`<query-id>\r\n<shortinfo XML>`).
 *
 * Owns: the bytes. Must not: open sockets or decide where packets go (config.ts, resolver.ts).
 */

export interface ShortinfoQuery {
  query: string;
  returnPort: number;
  queryId: string;
}

export function encodeShortinfoQuery(q: ShortinfoQuery): Buffer {
  return Buffer.from(`LSL:shortinfo\r\n${q.query}\r\n${q.returnPort} ${q.queryId}\r\n`, 'utf8');
}

/** liblsl's responder parsing: method line, trimmed query line, then whitespace-separated port and id. Null if malformed. */
export function parseShortinfoQuery(buf: Buffer): ShortinfoQuery | null {
  const text = buf.toString('utf8');
  const lines = text.split('\n');
  if (lines.length < 3 || lines[0]!.trim() !== 'LSL:shortinfo') return null;
  const query = lines[1]!.trim();
  const tokens = lines.slice(2).join(' ').trim().split(/\s+/);
  const returnPort = Number(tokens[0]);
  const queryId = tokens[1];
  if (!Number.isInteger(returnPort) || returnPort < 1 || returnPort > 65535 || !queryId) return null;
  return { query, returnPort, queryId };
}

export function encodeShortinfoReply(queryId: string, shortinfoXml: string): Buffer {
  return Buffer.from(`${queryId}\r\n${shortinfoXml}`, 'utf8');
}

/** Splits a reply into id (up to the first `\n`, trimmed) and XML; null if there is no newline. */
export function parseShortinfoReply(buf: Buffer): { queryId: string; xml: string } | null {
  const nl = buf.indexOf(0x0a);
  if (nl < 0) return null;
  return { queryId: buf.toString('utf8', 0, nl).trim(), xml: buf.toString('utf8', nl + 1) };
}

/** The first line of a UDP packet sent to a service port (`LSL:shortinfo` or `LSL:timedata`). */
export function packetMethod(buf: Buffer): string {
  const nl = buf.indexOf(0x0a);
  return buf.toString('latin1', 0, nl < 0 ? Math.min(buf.length, 64) : nl).trim();
}
