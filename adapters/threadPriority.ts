/**
 * The OS scheduling priority of the calling thread. Linux schedules threads as tasks with their own
 * nice value, and `setpriority` on a thread id changes that thread only, so a worker thread can
 * step back (e.g. refits at nice 10) while the threads that serve a live session keep theirs.
 *
 * Owns: finding the calling thread's id (/proc/thread-self) and setting its nice value. Must not:
 * fail: on other systems, or without permission, it reports that nothing changed.
 */
import fs from 'node:fs';
import os from 'node:os';

/**
 * Lowers (or, with privileges, raises) the calling thread's priority to nice `nice` (−20…19).
 * Returns the nice value now in effect, or null when the thread's priority cannot be set here.
 */
export function setCurrentThreadNice(nice: number): number | null {
  let tid: number;
  try {
    // "/proc/<pid>/task/<tid>" on Linux ≥ 3.17.
    tid = Number(fs.readlinkSync('/proc/thread-self').split('/').at(-1));
  } catch {
    return null;
  }
  if (!Number.isInteger(tid) || tid <= 0) return null;
  try {
    os.setPriority(tid, nice);
    return os.getPriority(tid);
  } catch {
    return null;
  }
}
