/**
 * Who may talk to the dashboard: loopback detection, the access token (generated when the server
 * listens beyond loopback without one), and the checks every HTTP request and WebSocket upgrade
 * passes: Host (loopback-only servers, against DNS rebinding), Origin (against cross-site pages)
 * and, when a token is set, the token. The rule, as Jupyter's: a server that listens beyond
 * loopback has a token and *every* client presents it, loopback clients included (on a shared
 * machine, other users' processes are loopback clients too); a loopback-only server needs none
 * unless one was given.
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

/**
 * Constant-time comparison: both sides are hashed to 32-byte digests first, so timingSafeEqual
 * compares equal lengths and the time taken says nothing about the token's length or content.
 */
export function sameSecret(offered: string, token: string): boolean {
  const a = createHash('sha256').update(offered).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b);
}

export interface AccessPolicy {
  token: string | undefined;
  /** The server listens on loopback only: Host must then name a loopback address. */
  loopbackOnly: boolean;
  /**
   * Name of the cookie that carries the token after the page was opened with `?token=` (so that
   * the page's scripts and styles load without it in their URLs). Per port: cookies do not
   * distinguish ports, and two dashboards on one host must not overwrite each other's.
   */
  cookieName: string;
}

/** The cookie name for a dashboard on `port`. */
export function tokenCookieName(port: number): string {
  return `lockstep-token-${port}`;
}

/** `Set-Cookie` value that lets the page's further requests (scripts, styles, WebSocket) carry the token. */
export function tokenCookie(policy: AccessPolicy): string {
  return `${policy.cookieName}=${encodeURIComponent(policy.token ?? '')}; Path=/; HttpOnly; SameSite=Strict`;
}

function cookieValue(req: IncomingMessage, name: string): string | null {
  const header = req.headers.cookie;
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return null;
      }
    }
  }
  return null;
}

/** Tokens a request offers besides `?token=`: the cookie and Sec-WebSocket-Protocol entries (bare or prefixed). */
function otherOfferedTokens(req: IncomingMessage, policy: AccessPolicy): string[] {
  const out: string[] = [];
  const cookie = cookieValue(req, policy.cookieName);
  if (cookie) out.push(cookie);
  const protocols = req.headers['sec-websocket-protocol'];
  if (protocols) {
    for (const p of protocols.split(',').map((s) => s.trim()).filter(Boolean)) {
      if (p === PROTOCOL) continue;
      out.push(p.startsWith(TOKEN_PROTOCOL_PREFIX) ? p.slice(TOKEN_PROTOCOL_PREFIX.length) : p);
    }
  }
  return out;
}

export type AccessDecision =
  /** `setCookie`: the token came in the URL; answer with the cookie so the page's own requests carry it. */
  | { ok: true; setCookie: boolean }
  | { ok: false; status: 401 | 403; reason: string };

/**
 * The checks every request and WebSocket upgrade passes: Host (when loopback-only), Origin (when
 * present), and the token (when one is set), from `?token=`, the cookie or a subprotocol entry.
 */
export function checkAccess(req: IncomingMessage, policy: AccessPolicy): AccessDecision {
  const host = req.headers.host;
  if (policy.loopbackOnly) {
    let hostname = '';
    try {
      hostname = host ? new URL(`http://${host}`).hostname : '';
    } catch {
      hostname = '';
    }
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
  const token = policy.token;
  if (token === undefined) return { ok: true, setCookie: false };
  const query = new URL(req.url ?? '/', 'http://localhost').searchParams.get('token');
  const queryMatches = query !== null && sameSecret(query, token);
  // Every offered value is compared (no early exit on a match): the time taken depends on how
  // many values were offered, never on which one matched.
  let match = queryMatches;
  for (const t of otherOfferedTokens(req, policy)) match = sameSecret(t, token) || match;
  if (!match) return { ok: false, status: 401, reason: 'missing or wrong token: open the dashboard URL printed at start-up (it carries ?token=…)' };
  return { ok: true, setCookie: queryMatches };
}

/** The subprotocol the server answers with: ours when offered, else the client's first (a client that offers protocols must get one back). */
export function chooseProtocol(protocols: Set<string>): string | false {
  if (protocols.has(PROTOCOL)) return PROTOCOL;
  for (const p of protocols) return p;
  return false;
}
