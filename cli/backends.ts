/** `lockstep backends`: which linear-algebra backends load on this machine, and why the others do not. */
import type { Command } from 'commander';
import { describeAvailability } from '../src/linalg/select.js';

export function registerBackendsCommand(program: Command): void {
  program
    .command('backends')
    .description('Show which linear-algebra backends load on this machine, and why the others do not.')
    .option('--json', 'print one JSON object')
    .action(async (o) => {
      const info = await describeAvailability();
      if (o.json) {
        process.stdout.write(`${JSON.stringify(info)}\n`);
        return;
      }
      process.stdout.write(`${formatAvailability(info)}\n`);
    });
}

/** One line per backend: name, whether it loads, and what it runs on (or why it does not load). */
function formatAvailability(info: Awaited<ReturnType<typeof describeAvailability>>): string {
  const width = Math.max(...info.map((b) => b.name.length));
  return info.map((b) => `${b.name.padEnd(width)}  ${b.available ? 'yes' : 'no '}  ${b.detail}`).join('\n');
}
