/**
 * `lockstep lsl push` → `lockstep lsl pull --json` as two real processes over loopback: the pull
 * summary's counting check finds no lost samples, values follow channel × 1000 + index, and
 * `lsl list` sees the stream. Bad arguments exit with status 2. Processes run concurrently
 * because each CLI start costs seconds on a loaded machine.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { CLI } from './helpers/paths.js';

const env = { ...process.env, LOCKSTEP_LSL_LOOPBACK_ONLY: '1', LOCKSTEP_LSL_MULTICAST: '' };

function lockstep(args: string[]) {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  /** Resolves once stderr matches (the push announces itself when its sockets are bound). */
  const stderrMatches = (re: RegExp, timeoutMs: number) =>
    new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no ${re} on stderr within ${timeoutMs} ms: ${stderr}`)), timeoutMs);
      const check = () => {
        if (re.test(stderr)) {
          clearTimeout(t);
          resolve();
        }
      };
      child.stderr.on('data', check);
      check();
    });
  return { child, done, stderrMatches };
}

describe('lockstep lsl (command line)', () => {
  it('push int16 → pull --json and list --json in other processes: counting signal, no lost samples, no gaps', async () => {
    const name = `CliCount-${process.pid}`;
    const push = lockstep(['lsl', 'push', '--name', name, '--channels', '3', '--rate', '250', '--format', 'int16', '--source-id', 'cli-src', '--type', 'Test', '--json']);
    try {
      await push.stderrMatches(/lsl push: ".*" 3 × int16 at 250 Hz/, 20_000);
      const [pull, list] = await Promise.all([lockstep(['lsl', 'pull', '--name', name, '--seconds', '1.5', '--timeout', '5', '--json', '--quiet']).done, lockstep(['lsl', 'list', '--json', '--timeout', '0.7']).done]);
      assert.equal(pull.code, 0, pull.stderr);
      const s = JSON.parse(pull.stdout);
      assert.equal(s.channelFormat, 'int16');
      assert.equal(s.stream.channelCount, 3);
      assert.equal(s.stream.sourceId, 'cli-src');
      assert.ok(s.count >= 250 && s.count <= 450, `count ${s.count}`);
      assert.deepEqual(s.gaps, []);
      assert.equal(s.counting.isCountingSignal, true);
      assert.equal(s.counting.lost, 0);
      const idx = s.counting.firstIndex;
      // int16 wraps like a C cast.
      const want = (i: number) => [0, 1, 2].map((k) => ((k * 1000 + i + 32768) % 65536) - 32768);
      assert.deepEqual(s.first.values, want(idx));
      assert.deepEqual(s.last.values, want(idx + s.count - 1));
      assert.ok(Math.abs(s.last.timestamp - s.first.timestamp - (s.count - 1) / 250) < 1e-6, 'timestamps 1/rate apart');
      assert.equal(typeof s.timeCorrection, 'number');
      assert.ok(Math.abs(s.timeCorrection) < 0.01);
      assert.deepEqual(
        s.states.map((x: { state: string }) => x.state),
        ['live'],
      );
      assert.equal(list.code, 0, list.stderr);
      const me = JSON.parse(list.stdout).streams.find((x: { name: string }) => x.name === name);
      assert.ok(me, 'the pushed stream is listed');
      assert.deepEqual([me.type, me.channelCount, me.channelFormat, me.nominalSrate, me.address], ['Test', 3, 'int16', 250, '127.0.0.1']);
    } finally {
      push.child.kill('SIGTERM');
      const res = await push.done;
      assert.equal(res.code, 0, res.stderr);
      const p = JSON.parse(res.stdout);
      assert.ok(p.pushed > 0 && p.cpuUserSec >= 0);
    }
  });

  it('bad arguments exit with status 2; a missing stream says what to do', async () => {
    const [bad, missing] = await Promise.all([lockstep(['lsl', 'push', '--name', 'x', '--channels', '0', '--rate', '10']).done, lockstep(['lsl', 'pull', '--name', `nobody-${process.pid}`, '--timeout', '0.3']).done]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--channels.*positive integer/);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /no stream named "nobody-\d+" answered within 0.3 s \(run "lockstep lsl list"/);
  });
});
