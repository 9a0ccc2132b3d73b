/**
 * The import rules (.dependency-cruiser.cjs) hold for the whole repository, and they are live: the
 * same configuration flags a tree that breaks them (src/ importing streams/, a folder cycle).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT, tempDir } from './helpers/paths.js';

const DEPCRUISE = path.join(REPO_ROOT, 'node_modules/.bin/depcruise');
const CONFIG = path.join(REPO_ROOT, '.dependency-cruiser.cjs');

function cruise(cwd: string, folders: string[]): { status: number | null; out: string } {
  const r = spawnSync(DEPCRUISE, [...folders, '--config', CONFIG, '--output-type', 'err'], { cwd, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('import rules', () => {
  it('the repository breaks none of them', () => {
    const folders = ['src', 'streams', 'adapters', 'replay', 'dashboard', 'cli', 'test', 'bench'];
    const r = cruise(REPO_ROOT, folders);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /no dependency violations found/);
  });

  it('a tree that breaks them is refused, naming each rule', () => {
    const root = tempDir('imports');
    const write = (rel: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      fs.writeFileSync(path.join(root, rel), text);
    };
    write('tsconfig.json', JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext' } }));
    write('src/math.ts', "import { op } from '../streams/op.js';\nexport const x = op;\n");
    write('streams/op.ts', "export const op = 1;\n");
    write('adapters/a/one.ts', "import { two } from '../b/two.js';\nexport const one = two;\n");
    write('adapters/b/two.ts', "import { three } from '../a/three.js';\nexport const two = three;\n");
    write('adapters/a/three.ts', 'export const three = 3;\n');
    write('replay/r.ts', "import { main } from '../cli/main.js';\nexport const r = main;\n");
    write('cli/main.ts', 'export const main = 0;\n');
    const r = cruise(root, ['src', 'streams', 'adapters', 'replay', 'cli']);
    assert.notEqual(r.status, 0);
    for (const rule of ['src-is-the-bottom', 'no-folder-cycles', 'nothing-imports-cli']) assert.match(r.out, new RegExp(rule), r.out);
    // The config file itself is plain CommonJS the tool loads (no build step).
    assert.doesNotThrow(() => execFileSync(process.execPath, ['-e', `require(${JSON.stringify(CONFIG)})`]));
  });
});
