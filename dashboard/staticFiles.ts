/**
 * The dashboard's static routes: the page (dashboard/public/*), the compiled emergence-history
 * module it shares with the server (/emergenceHistory.js) and uPlot's dist files from
 * node_modules under /vendor/uplot/. A fixed table of routes, so no request path ever reaches the
 * file system. Owns locating and serving these files; must not know about WebSockets or scores.
 */
import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface Route {
  file: string;
  contentType: string;
}

/** dashboard/public, whether this module runs from dashboard/ or from its compiled copy in dist/dashboard/. */
function publicDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, 'public'), path.resolve(here, '../../dashboard/public')];
  const found = candidates.find((d) => fs.existsSync(path.join(d, 'index.html')));
  if (!found) throw new Error(`dashboard: page files not found; looked for index.html in ${candidates.join(' and ')}`);
  return found;
}

function uplotDistDir(): string {
  const require = createRequire(import.meta.url);
  try {
    return path.join(path.dirname(require.resolve('uplot/package.json')), 'dist');
  } catch {
    throw new Error('dashboard: the uplot package is missing; run `npm install` in the repository root');
  }
}

export function staticRoutes(): Map<string, Route> {
  const pub = publicDir();
  const uplot = uplotDistDir();
  const html = 'text/html; charset=utf-8';
  const js = 'text/javascript; charset=utf-8';
  const css = 'text/css; charset=utf-8';
  return new Map<string, Route>([
    ['/', { file: path.join(pub, 'index.html'), contentType: html }],
    ['/index.html', { file: path.join(pub, 'index.html'), contentType: html }],
    ['/app.js', { file: path.join(pub, 'app.js'), contentType: js }],
    // The emergence-history rules, shared with the server: the compiled module beside this one.
    ['/emergenceHistory.js', { file: fileURLToPath(import.meta.resolve('./emergenceHistory.js')), contentType: js }],
    ['/style.css', { file: path.join(pub, 'style.css'), contentType: css }],
    ['/vendor/uplot/uPlot.iife.min.js', { file: path.join(uplot, 'uPlot.iife.min.js'), contentType: js }],
    ['/vendor/uplot/uPlot.min.css', { file: path.join(uplot, 'uPlot.min.css'), contentType: css }],
  ]);
}

const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  // Everything the page loads comes from this server; the WebSocket is same-origin ('self').
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'",
};

/** Answers GET/HEAD for the routes in `routes` (with `headers` added); 404 for other paths, 405 for other methods. */
export function serveStatic(routes: Map<string, Route>, req: IncomingMessage, res: ServerResponse, headers: Record<string, string> = {}): void {
  const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
    return;
  }
  const route = routes.get(pathname);
  if (!route) {
    if (pathname === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS }).end(`not found: ${pathname}\n`);
    return;
  }
  fs.readFile(route.file, (err, body) => {
    if (err) {
      res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`dashboard: cannot read ${route.file}: ${err.message}\n`);
      return;
    }
    res.writeHead(200, { 'Content-Type': route.contentType, 'Content-Length': body.length, 'Cache-Control': 'no-cache', ...SECURITY_HEADERS, ...headers });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
}
