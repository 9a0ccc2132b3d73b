/**
 * Field patterns over the sensor layout: the smooth dipolar shapes through which the simulator's
 * latent sources (evoked responses, 1/f background, alpha) reach the sensors.
 *
 * Owns: the pattern geometry. Must not: hold amplitudes or time courses (each generator scales
 * its own patterns).
 */
import type { SensorPosition } from '../meg/ctf/ctf275.js';

/**
 * A smooth dipolar field pattern over the layout: a positive and a negative Gaussian lobe either
 * side of a centre, the shape a current dipole gives at an axial gradiometer array. Unit RMS,
 * [channel].
 */
export function dipolarPattern(pos: readonly SensorPosition[], cx: number, cy: number, angle: number, separation: number, width: number): Float64Array {
  const dx = 0.5 * separation * Math.cos(angle);
  const dy = 0.5 * separation * Math.sin(angle);
  const p = new Float64Array(pos.length);
  let ss = 0;
  for (let c = 0; c < pos.length; c++) {
    const { x, y } = pos[c];
    const a = ((x - cx - dx) ** 2 + (y - cy - dy) ** 2) / (2 * width * width);
    const b = ((x - cx + dx) ** 2 + (y - cy + dy) ** 2) / (2 * width * width);
    p[c] = Math.exp(-a) - Math.exp(-b);
    ss += p[c] * p[c];
  }
  const s = 1 / Math.sqrt(ss / pos.length);
  for (let c = 0; c < pos.length; c++) p[c] *= s;
  return p;
}

/**
 * A random dipolar pattern with its centre inside radius `maxRadius` of the layout (four draws
 * from rng: radius, azimuth, orientation, lobe separation 0.3–0.5).
 */
export function randomDipolarPattern(pos: readonly SensorPosition[], rng: () => number, maxRadius: number, width: number): Float64Array {
  const r = maxRadius * Math.sqrt(rng());
  const phi = 2 * Math.PI * rng();
  return dipolarPattern(pos, r * Math.cos(phi), r * Math.sin(phi), 2 * Math.PI * rng(), 0.3 + 0.2 * rng(), width);
}
