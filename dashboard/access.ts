/**
 * Who may talk to the dashboard: loopback detection, the access token (generated when the server
 * listens beyond loopback without one), and the checks every HTTP request and WebSocket upgrade
 * passes (Host and Origin against DNS rebinding and cross-site pages, token on the upgrade).
 * Owns these decisions; must not touch sockets or messages.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import net from 'node:net';

/** Subprotocol the page asks for; the token may ride along as `lockstep.token.<token>`. */
export const PROTOCOL = 'lockstep.v1';
export const TOKEN_PROTOCOL_PREFIX = 'lockstep.token.';

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (net.isIPv4(h)) return h.startsWith('127.');
  if (net.isIPv6(h)) return h === '::1' || /^::ffff:127\./.test(h);
  return false;
}

/** A fresh URL- and subprotocol-safe token (192 random bits). */
export function generateToken(): string {
  return randomBytes(24).toString('base64url');
}

function sameSecret(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/** Tokens a request offers: `?token=` and Sec-WebSocket-Protocol entries (bare or prefixed). */
function offeredTokens(req: IncomingMessage): string[] {
  const out: string[] = [];
  const q = new URL(req.url ?? '/', 'http://localhost').searchParams.get('token');
  if (q) out.push(q);
  const protocols = req.headers['sec-websocket-protocol'];
  if (protocols) {
    for (const p of protocols.split(',').map((s) => s.trim()).filter(Boolean)) {
      if (p === PROTOCOL) continue;
      out.push(p.startsWith(TOKEN_PROTOCOL_PREFIX) ? p.slice(TOKEN_PROTOCOL_PREFIX.length) : p);
    }
  }
  return out;
}

export type AccessDecision = { ok: true } | { ok: false; status: 401 | 403; reason: string };

export interface AccessPolicy {
  token: string | undefined;
  /** The server listens on loopback only: Host must then name a loopback address. */
  loopbackOnly: boolean;
}

/** Checks that apply to every request: Host (when loopback-only) and, when present, Origin. */
export function checkRequest(req: IncomingMessage, policy: AccessPolicy): AccessDecision {
  const host = req.headers.host;
  if (policy.loopbackOnly) {
    const hostname = host ? new URL(`http://${host}`).hostname : '';
    if (!isLoopbackHost(hostname)) return { ok: false, status: 403, reason: `Host '${host ?? ''}' is not a loopback name; the dashboard listens on loopback only` };
  }
  const origin = req.headers.origin;
  if (origin !== undefined) {
    let originHost: string | null = null;
    try {
      originHost = new URL(origin).host;
    } catch {
      originHost = null;
    }
    if (originHost === null || originHost !== host) return { ok: false, status: 403, reason: `cross-origin request from '${origin}' refused` };
  }
  return { ok: true };
}

/** Checks for a WebSocket upgrade: the request checks plus the token, when one is set. */
export function checkUpgrade(req: IncomingMessage, policy: AccessPolicy): AccessDecision {
  const basic = checkRequest(req, policy);
  if (!basic.ok) return basic;
  if (policy.token !== undefined) {
    const token = policy.token;
    if (!offeredTokens(req).some((t) => sameSecret(t, token))) {
      return { ok: false, status: 401, reason: 'missing or wrong token: open the dashboard URL printed at start-up (it carries ?token=…)' };
    }
  }
  return { ok: true };
}

/** The subprotocol the server answers with: ours when offered, else the client's first (a client that offers protocols must get one back). */
export function chooseProtocol(protocols: Set<string>): string | false {
  if (protocols.has(PROTOCOL)) return PROTOCOL;
  for (const p of protocols) return p;
  return false;
}
