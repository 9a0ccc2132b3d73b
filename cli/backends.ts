/**
 * `lockstep backends`: which linear-algebra backends load on this machine and why the others do not,
 * and which devices language-model extraction could use (CPU, onnxruntime-node's CUDA provider,
 * TensorFlow.js's CUDA build).
 */
import type { Command } from 'commander';
import { describeDevices, type DeviceAvailability } from '../adapters/onnx/devices.js';
import { describeAvailability } from '../src/linalg/select.js';

export function registerBackendsCommand(program: Command): void {
  program
    .command('backends')
    .description('Show which linear-algebra backends load on this machine (and why the others do not), and which devices extraction can use.')
    .option('--json', 'print one JSON object: {backends: [...], devices: [...]}')
    .action(async (o) => {
      const backends = await describeAvailability();
      const devices = describeDevices();
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ backends, devices })}\n`);
        return;
      }
      process.stdout.write(`linear algebra:\n${formatRows(backends)}\nextraction devices:\n${formatRows(devices)}\n`);
    });
}

/** One line per entry: name, whether it is usable, and what it runs on (or why not). */
function formatRows(rows: readonly Pick<DeviceAvailability, 'name' | 'available' | 'detail'>[]): string {
  const width = Math.max(...rows.map((b) => b.name.length));
  return rows.map((b) => `  ${b.name.padEnd(width)}  ${b.available ? 'yes' : 'no '}  ${b.detail}`).join('\n');
}
