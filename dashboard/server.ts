/**
 * The live dashboard server: one Node http server for the page and uPlot, and a WebSocket endpoint
 * (/ws) that pushes the latest snapshot, stream health, words and (several subjects) the group to every client, with per-client
 * backpressure (see coalescingSender.ts) so that a slow or stalled browser never blocks the
 * pipeline nor grows memory. New clients get the latest of each message at once.
 * Owns the sockets and the latest published state; must not compute scores (it forwards what the
 * pipeline publishes, serialized once per message for all clients).
 *
 * @example
 * const dash = await startDashboard({ port: 8080 });
 * console.log(`dashboard at ${dash.url}`);
 * snapshots$.subscribe((s) => dash.publishSnapshot(s));
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { SNAPSHOT_SCHEMA, type ScoreSnapshot } from '../src/snapshot.js';
import { checkAccess, chooseProtocol, generateToken, isLoopbackHost, tokenCookie, tokenCookieName, type AccessPolicy } from './access.js';
import { CoalescingSender, type SendCounters } from './coalescingSender.js';
import { emptyHistory, recordHistory } from './emergenceHistory.js';
import { MESSAGE_TYPES, type ClosedLoopPanel, type DashboardMessage, type DashboardMessageType, type GroupUpdate, type StreamHealth, type WordsUpdate } from './messages.js';
import { serveStatic, staticRoutes } from './staticFiles.js';

export type { ClosedLoopPanel, DashboardMessage, GroupUpdate, ScoreHistory, StreamHealth, SubjectSummary, WordsUpdate } from './messages.js';

export interface DashboardOptions {
  /**
   * Address to listen on; default 127.0.0.1. Beyond loopback (e.g. 0.0.0.0) a token is set
   * (generated when not given) and every client must present it, loopback clients included.
   */
  host?: string;
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** Access token every request must carry (?token=, then the cookie it sets; the WebSocket also as Sec-WebSocket-Protocol). */
  token?: string;
  /** A client's socket may hold this many unsent bytes before its messages wait (coalescing); default 1 MiB. */
  maxBufferedBytes?: number;
  /** Ping interval; a client that has not answered the previous ping is dropped. Default 30 000 ms, 0 = off. */
  heartbeatMs?: number;
}

export interface DashboardStats {
  clients: number;
  sent: number;
  coalesced: number;
  bufferedBytesMax: number;
}

export interface Dashboard {
  /** e.g. http://127.0.0.1:8080/ (with ?token=… when a token is set) */
  url: string;
  token: string | undefined;
  publishSnapshot(s: ScoreSnapshot): void;
  publishHealth(h: StreamHealth): void;
  publishWords(w: WordsUpdate): void;
  /** A closed-loop session's panel (policy, decisions, per-condition scores); the page shows the card once one arrives. */
  publishClosedLoop(p: ClosedLoopPanel): void;
  /** Several subjects: those done, their group summary and those to come. */
  publishGroup(g: GroupUpdate): void;
  clientCount(): number;
  stats(): DashboardStats;
  close(): Promise<void>;
}

const DEFAULT_MAX_BUFFERED = 1 << 20;
/** How often clients with pending messages are retried when no write callback comes (stalled sockets). */
const RETRY_MS = 100;
/** Clients that do not finish the close handshake within this are cut. */
const CLOSE_GRACE_MS = 500;

interface Client {
  ws: WebSocket;
  sender: CoalescingSender;
  alive: boolean;
}

/** The latest message of one type: the value as published, serialized lazily (no clients, no cost). */
interface Latest {
  message: DashboardMessage;
  wire: Buffer | null;
}

function wireOf(latest: Latest): Buffer {
  latest.wire ??= Buffer.from(JSON.stringify(latest.message));
  return latest.wire;
}

function rejectUpgrade(socket: Duplex, status: number, reason: string): void {
  const text = status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : 'Not Found';
  const body = `${reason}\n`;
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

function urlHost(host: string, port: number): string {
  const shown = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return shown.includes(':') ? `[${shown}]:${port}` : `${shown}:${port}`;
}

/**
 * Starts the dashboard and resolves once it listens.
 * @param opts host (default 127.0.0.1), port (default 8080, 0 = ephemeral), token
 * @return the running dashboard: its URL, publish functions, counters and close()
 */
export async function startDashboard(opts: DashboardOptions = {}): Promise<Dashboard> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? 8080;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`dashboard: port must be an integer 0…65535, got ${port}`);
  if (opts.token !== undefined && opts.token.length === 0) throw new RangeError('dashboard: token must be a non-empty string (or left out)');
  const loopback = isLoopbackHost(host);
  const token = opts.token ?? (loopback ? undefined : generateToken());
  // The cookie name needs the bound port; it is set once the server listens, before any request.
  const policy: AccessPolicy = { token, loopbackOnly: loopback, cookieName: '' };
  const maxBuffered = opts.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED;
  const heartbeatMs = opts.heartbeatMs ?? 30_000;

  const routes = staticRoutes();
  const counters: SendCounters = { sent: 0, coalesced: 0, bufferedBytesMax: 0 };
  const latest = new Map<DashboardMessageType, Latest>();
  const clients = new Set<Client>();

  const server = http.createServer((req, res) => {
    const access = checkAccess(req, policy);
    if (!access.ok) {
      res.writeHead(access.status, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`${access.reason}\n`);
      return;
    }
    serveStatic(routes, req, res, access.setCookie ? { 'Set-Cookie': tokenCookie(policy) } : {});
  });
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 4096, handleProtocols: chooseProtocol });

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    if (new URL(req.url ?? '/', 'http://localhost').pathname !== '/ws') {
      rejectUpgrade(socket, 404, 'the WebSocket endpoint is /ws');
      return;
    }
    const access = checkAccess(req, policy);
    if (!access.ok) {
      rejectUpgrade(socket, access.status, access.reason);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  wss.on('connection', (ws: WebSocket) => {
    const client: Client = { ws, sender: new CoalescingSender(ws, maxBuffered, counters), alive: true };
    clients.add(client);
    ws.on('pong', () => (client.alive = true));
    ws.on('error', () => ws.terminate());
    ws.on('close', () => {
      client.sender.clear();
      clients.delete(client);
    });
    // Clients have nothing to say; incoming messages are ignored.
    for (const type of MESSAGE_TYPES) {
      if (type === 'history') {
        if (history.sourceTimeSec.length > 0) client.sender.offer('history', Buffer.from(JSON.stringify({ type: 'history', history })));
        continue;
      }
      const l = latest.get(type);
      if (l) client.sender.offer(type, wireOf(l));
    }
  });

  const history = emptyHistory();

  function publish(message: DashboardMessage): void {
    const l: Latest = { message, wire: null };
    latest.set(message.type, l);
    if (clients.size === 0) return;
    const wire = wireOf(l);
    for (const c of clients) c.sender.offer(message.type, wire);
  }

  const retry = setInterval(() => {
    for (const c of clients) if (c.sender.hasPending) c.sender.flush();
  }, RETRY_MS);
  retry.unref();
  const heartbeat =
    heartbeatMs > 0
      ? setInterval(() => {
          for (const c of clients) {
            if (!c.alive) {
              c.ws.terminate();
              continue;
            }
            c.alive = false;
            c.ws.ping();
          }
        }, heartbeatMs)
      : null;
  heartbeat?.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  policy.cookieName = tokenCookieName(bound);
  const url = `http://${urlHost(host, bound)}/${token !== undefined ? `?token=${encodeURIComponent(token)}` : ''}`;

  let closing: Promise<void> | null = null;
  async function close(): Promise<void> {
    clearInterval(retry);
    if (heartbeat) clearInterval(heartbeat);
    const closed = [...clients].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.ws.readyState === WebSocket.CLOSED) return resolve();
          const cut = setTimeout(() => c.ws.terminate(), CLOSE_GRACE_MS);
          c.ws.once('close', () => {
            clearTimeout(cut);
            resolve();
          });
          c.ws.close(1001, 'dashboard server shutting down');
        }),
    );
    await Promise.all(closed);
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  return {
    url,
    token,
    publishSnapshot(s) {
      if (s?.schema !== SNAPSHOT_SCHEMA) throw new TypeError(`dashboard: expected a '${SNAPSHOT_SCHEMA}' snapshot, got schema '${String(s?.schema)}'`);
      recordHistory(history, s);
      publish({ type: 'snapshot', snapshot: s });
    },
    publishHealth(h) {
      publish({ type: 'health', health: h });
    },
    publishWords(w) {
      publish({ type: 'words', words: w });
    },
    publishClosedLoop(p) {
      publish({ type: 'closedLoop', closedLoop: p });
    },
    publishGroup(g) {
      publish({ type: 'group', group: g });
    },
    clientCount: () => clients.size,
    stats: () => ({ clients: clients.size, sent: counters.sent, coalesced: counters.coalesced, bufferedBytesMax: counters.bufferedBytesMax }),
    close() {
      closing ??= close();
      return closing;
    },
  };
}
