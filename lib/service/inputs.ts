/**
 * The files a configuration is built from, as one build read them. With
 * --workers the primary builds first (at start and on each SIGHUP) and hands
 * the contents it read to its workers, which build from those and not from
 * the disk: a worker started after a failed reload (the files now broken)
 * runs the configuration the primary runs instead of failing in a loop, and
 * a reload cannot give workers files that changed after the primary's check.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** File contents by absolute path (base64, for IPC). */
export type Inputs = Record<string, string>;

let recording: Inputs | undefined;
let pinned: Inputs | undefined;

/** Reads a configuration file: the pinned contents when there are some for it, else the disk (recorded while recording). */
export function readInput(file: string): Buffer {
  const key = path.resolve(file);
  const kept = pinned?.[key];
  if (kept !== undefined) return Buffer.from(kept, 'base64');
  const data = readFileSync(file);
  if (recording) recording[key] = data.toString('base64');
  return data;
}

/** Runs a (synchronous) build and returns what it built with the files it read. */
export function recordInputs<T>(build: () => T): { value: T; inputs: Inputs } {
  const inputs: Inputs = {};
  recording = inputs;
  try {
    return { value: build(), inputs };
  } finally {
    recording = undefined;
  }
}

/** Builds from these contents from now on (a worker, with what the primary read). */
export function pinInputs(inputs: Inputs): void {
  pinned = inputs;
}
