/**
 * A real Redis for the queue tests: Debian's `redis-server` (installed by .ci/run) started on
 * 127.0.0.1 at a free port, without persistence, in a temporary folder, and stopped afterwards.
 * No mock: BullMQ's Lua scripts need a real server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { tempDir } from './paths.js';

export interface RedisServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** A port the kernel just gave out on 127.0.0.1 (free unless something takes it in between). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/** Starts redis-server; throws (failing the test) when it is not installed or does not listen. */
export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const dir = tempDir('redis');
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--logfile', path.join(dir, 'redis.log')], { stdio: 'ignore' });
  let exited = false;
  const spawnError = new Promise<never>((_, reject) => child.once('error', (e) => reject(new Error(`redis-server did not start (${e.message}); install it: apt-get install redis-server`))));
  child.once('exit', () => (exited = true));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (await Promise.race([canConnect(port), spawnError])) break;
    if (exited) throw new Error(`redis-server exited at start; see ${path.join(dir, 'redis.log')}`);
    if (Date.now() > deadline) throw new Error(`redis-server is not listening on 127.0.0.1:${port} after 10 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      if (!exited) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await gone;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
