/**
 * Progress lines for long work, on stderr so stdout stays clean for --json. On a terminal the line
 * is rewritten in place; otherwise at most one line every 2 s.
 */
export interface Progress {
  update(message: string, fraction?: number): void;
  done(): void;
}

export function progressReporter(stream: NodeJS.WriteStream | null, label: string): Progress {
  if (!stream) return { update() {}, done() {} };
  const start = performance.now();
  let last = 0;
  let wrote = false;
  return {
    update(message, fraction) {
      const now = performance.now();
      const tty = stream.isTTY === true;
      if (now - last < (tty ? 100 : 2000) && fraction !== 1) return;
      last = now;
      const elapsed = (now - start) / 1000;
      const eta = fraction && fraction > 0 && fraction < 1 ? `, ETA ${Math.round((elapsed * (1 - fraction)) / fraction)} s` : '';
      const line = `${label}: ${message} (${elapsed.toFixed(1)} s${eta})`;
      stream.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
      wrote = true;
    },
    done() {
      if (wrote && stream.isTTY) stream.write('\n');
    },
  };
}
