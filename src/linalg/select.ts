/**
 * Backend selection for `--backend auto|reference|ort|blas|tfjs`: loads the requested backend or,
 * for `auto`, the fastest one that works here (blas, then ort, then reference).
 *
 * Owns: the fallback order and the user-facing "why not / what to do" messages. Must not: import
 * optional native packages at module load (every backend module is imported on demand).
 */
import { errorText } from '../errorText.js';
import type { BackendName, LinalgBackend } from './backend.js';
import { BACKEND_NAMES } from './backend.js';
import { ReferenceBackend } from './reference.js';

/** Tries one backend; the message in `error` says why it cannot load and how to fix that. */
async function tryLoad(name: BackendName): Promise<LinalgBackend | { error: string }> {
  try {
    switch (name) {
      case 'reference':
        return new ReferenceBackend();
      case 'blas':
        return (await import('./blas.js')).loadBlas();
      case 'ort':
        return await (await import('./ort.js')).loadOrt();
      case 'tfjs':
        return await (await import('./tfjs.js')).loadTfjs();
    }
  } catch (e) {
    // The loaders report their own failures; this only catches a broken module graph.
    return { error: errorText(e) };
  }
}

function isBackend(x: LinalgBackend | { error: string }): x is LinalgBackend {
  return !('error' in x);
}

/**
 * Creates the named backend. `auto` picks blas if OpenBLAS/LAPACK loads, else ort, else the
 * reference loops (which always load). An explicitly named backend that cannot load throws an
 * Error saying why and what to install, rather than silently computing elsewhere.
 */
export async function createBackend(name: 'auto' | BackendName): Promise<LinalgBackend> {
  if (name === 'auto') {
    for (const candidate of ['blas', 'ort'] as const) {
      const got = await tryLoad(candidate);
      if (isBackend(got)) return got;
    }
    return new ReferenceBackend();
  }
  if (!BACKEND_NAMES.includes(name)) {
    throw new Error(`unknown backend "${String(name)}": expected auto or one of ${BACKEND_NAMES.join(', ')}`);
  }
  const got = await tryLoad(name);
  if (isBackend(got)) return got;
  throw new Error(`backend "${name}" is not available: ${got.error}`);
}

/** Whether one backend loads here: its `detail` when it does, the reason (with a fix) when not. */
export interface BackendAvailability {
  name: BackendName;
  available: boolean;
  /** The backend's `detail` line, or why it failed to load. */
  detail: string;
}

/** Loads (and disposes) every backend once, for `lockstep doctor`-style reports and benchmarks. */
export async function describeAvailability(): Promise<BackendAvailability[]> {
  const out: BackendAvailability[] = [];
  for (const name of BACKEND_NAMES) {
    const got = await tryLoad(name);
    if (isBackend(got)) {
      out.push({ name, available: true, detail: got.detail });
      await got.dispose();
    } else {
      out.push({ name, available: false, detail: got.error });
    }
  }
  return out;
}
