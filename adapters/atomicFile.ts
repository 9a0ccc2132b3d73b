/**
 * Writing a file so that readers see either the old file or the whole new one, never a torn write,
 * even after a crash or power loss: write a temporary file beside it, fsync it, rename it over the
 * target, then fsync the folder so the rename itself is durable. Every cache, checkpoint and result
 * file of lockstep is written through here.
 *
 * Owns: the write-temp/fsync/rename sequence. Must not: know any file format.
 */
import fs from 'node:fs';
import path from 'node:path';

let counter = 0;

/**
 * @param file the target path
 * @param content bytes or text, or a function that writes through the open descriptor (large or
 *   streamed content); whatever it throws removes the temporary file and propagates
 * @example writeFileAtomic('result.json', JSON.stringify(r));
 * @example writeFileAtomic('big.npy', (fd) => { fs.writeSync(fd, header); fs.writeSync(fd, body); });
 */
export function writeFileAtomic(file: string, content: Uint8Array | string | ((fd: number) => void)): void {
  const tmp = `${file}.tmp-${process.pid}-${++counter}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    if (typeof content === 'function') content(fd);
    else fs.writeFileSync(fd, content);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  syncFolder(path.dirname(file));
}

/** Makes a rename in `dir` durable (best effort: some file systems refuse fsync on folders). */
function syncFolder(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Not supported here (e.g. some network file systems): the rename is still atomic.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
