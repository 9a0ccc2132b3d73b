/**
 * How noisy each simulated sensor is: one random stream (STREAM.gain) read at index c for the
 * sensor's noise gain (0.8–1.2: sensors differ a little in noise level, ±20 %), which scales its
 * white noise and its own 1/f noise, and at index nChannels + c for its drift gain (0.5–1.5).
 *
 * Owns: that stream's layout. Must not: hold amplitudes (each generator multiplies its own).
 */
import { hashedUniform, subKey } from './hashedNoise.js';
import { STREAM } from './randomStreams.js';

export interface SensorGains {
  /** [channel]: the sensor's noise gain, 0.8–1.2. */
  noise: Float64Array;
  /** [channel]: the sensor's drift gain, 0.5–1.5. */
  drift: Float64Array;
}

export function sensorGains(seed: number, nChannels: number): SensorGains {
  const key = subKey(seed >>> 0, STREAM.gain);
  const noise = new Float64Array(nChannels);
  const drift = new Float64Array(nChannels);
  for (let c = 0; c < nChannels; c++) {
    noise[c] = 0.8 + 0.4 * hashedUniform(key, c);
    drift[c] = 0.5 + hashedUniform(key, nChannels + c);
  }
  return { noise, drift };
}
