/**
 * Which devices language-model extraction can run on here: onnxruntime-node's CPU provider
 * (always), its CUDA execution provider (needs the provider library, which npm does not bundle,
 * and an NVIDIA GPU with its driver), and TensorFlow.js's CUDA build for the linear-algebra
 * backend. Found by looking (files, /proc, nvidia-smi), never by loading a model, so `lockstep
 * backends` answers in a moment on any machine.
 *
 * Owns: finding devices and resolving `--device`. Must not: open sessions for extraction
 * (batchRunner.ts does).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { ExtractionDevice } from './batchRunner.js';

export type DeviceChoice = ExtractionDevice | 'auto';
export const DEVICE_CHOICES: readonly DeviceChoice[] = ['cpu', 'cuda', 'auto'];

export interface DeviceAvailability {
  /** `onnxruntime cpu`, `onnxruntime cuda`, `tfjs cuda`. */
  name: string;
  available: boolean;
  /** What it runs on, or why it is not usable and what to do. */
  detail: string;
}

const require = createRequire(import.meta.url);

/** NVIDIA GPUs the driver reports (/proc/driver/nvidia, else `nvidia-smi -L`); empty when none. */
export function nvidiaGpus(): string[] {
  const procDir = '/proc/driver/nvidia/gpus';
  try {
    const found = fs.readdirSync(procDir).map((bus) => {
      const info = fs.readFileSync(path.join(procDir, bus, 'information'), 'utf8');
      return /^Model:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? `GPU at ${bus}`;
    });
    if (found.length > 0) return found;
  } catch {
    /* no NVIDIA driver in /proc: ask nvidia-smi, if installed */
  }
  const smi = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8', timeout: 3000 });
  if (smi.status !== 0 || typeof smi.stdout !== 'string') return [];
  return smi.stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('GPU '));
}

/** The folder of onnxruntime-node's native binding for this platform. */
function ortBinFolder(): string | null {
  try {
    const pkg = path.dirname(require.resolve('onnxruntime-node/package.json'));
    return path.join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    return null;
  }
}

/** The CUDA provider library next to onnxruntime-node's binding, or null. */
function ortCudaLibrary(): string | null {
  const bin = ortBinFolder();
  if (!bin || !fs.existsSync(bin)) return null;
  const lib = fs.readdirSync(bin).find((f) => /onnxruntime_providers_cuda\.(so|dll)$/.test(f));
  return lib ? path.join(bin, lib) : null;
}

function resolvable(pkg: string): boolean {
  try {
    require.resolve(`${pkg}/package.json`);
    return true;
  } catch {
    return false;
  }
}

/** Every device extraction and the linear algebra could use, and why not where they cannot. */
export function describeDevices(): DeviceAvailability[] {
  const gpus = nvidiaGpus();
  const cudaLib = ortCudaLibrary();
  const noGpu = 'no NVIDIA GPU found (no /proc/driver/nvidia/gpus, no nvidia-smi)';
  const cpus = os.cpus();
  const ortCuda: DeviceAvailability = cudaLib && gpus.length > 0
    ? { name: 'onnxruntime cuda', available: true, detail: `${gpus.join('; ')} through ${path.basename(cudaLib)} (lockstep extract --device cuda)` }
    : {
        name: 'onnxruntime cuda',
        available: false,
        detail: [
          gpus.length === 0 ? noGpu : `${gpus.join('; ')} found`,
          cudaLib ? null : "onnxruntime-node's CUDA provider library is not installed (npm bundles only the CPU one): on a CUDA 12 machine with network access, allow its install script (npm install-scripts approve onnxruntime-node) and reinstall it with ONNXRUNTIME_NODE_INSTALL=cuda12 npm install onnxruntime-node",
        ].filter(Boolean).join('; '),
      };
  const tfjsGpu = resolvable('@tensorflow/tfjs-node-gpu');
  return [
    { name: 'onnxruntime cpu', available: true, detail: `${cpus.length} core(s)${cpus[0] ? ` (${cpus[0].model.trim()})` : ''}, the tested default of extraction` },
    ortCuda,
    {
      name: 'tfjs cuda',
      available: tfjsGpu && gpus.length > 0,
      detail: tfjsGpu ? (gpus.length > 0 ? `@tensorflow/tfjs-node-gpu installed, ${gpus.join('; ')} (--backend tfjs)` : `@tensorflow/tfjs-node-gpu installed; ${noGpu}`) : '@tensorflow/tfjs-node-gpu is not installed (optional: npm install @tensorflow/tfjs-node-gpu on a CUDA machine with network access, then --backend tfjs)',
    },
  ];
}

/**
 * The device for `--device`: `cpu`; `cuda` when onnxruntime's CUDA provider can be used here
 * (else an Error saying what is missing); `auto`: cuda when usable, else cpu.
 */
export async function resolveDevice(choice: DeviceChoice): Promise<ExtractionDevice> {
  if (choice === 'cpu') return 'cpu';
  if (!DEVICE_CHOICES.includes(choice)) throw new RangeError(`device ${String(choice)}: expected ${DEVICE_CHOICES.join(', ')}`);
  const cuda = describeDevices().find((d) => d.name === 'onnxruntime cuda')!;
  if (cuda.available) return 'cuda';
  if (choice === 'auto') return 'cpu';
  throw new Error(`--device cuda: ${cuda.detail}`);
}
