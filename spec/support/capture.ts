/** Loopback packet capture with tshark around an action: the capture file's bytes, for "never on the wire" checks. */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { stopChild, tempDir } from './interop.js';

/** Captures loopback traffic on `port` while `during` runs; returns the capture file's bytes. */
export async function capture(tshark: string, port: number, during: () => Promise<void>): Promise<Buffer> {
  const tmp = tempDir('sockskit-pcap-');
  const file = path.join(tmp.dir, 'cap.pcapng');
  const child = spawn(tshark, ['-i', 'lo', '-f', `tcp port ${port}`, '-w', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    let err = '';
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`tshark did not start capturing: ${err}`)), 10000);
      child.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        // "Capturing on" comes before dumpcap really captures; "Capture started" after.
        if (/Capture started/i.test(err)) { clearTimeout(t); resolve(); }
        else if (/Capturing on/i.test(err)) setTimeout(() => { clearTimeout(t); resolve(); }, 1500);
      });
      child.once('exit', (code) => { clearTimeout(t); reject(new Error(`tshark exited (${code}): ${err}`)); });
    });
    await during();
    await new Promise((r) => setTimeout(r, 300)); // let the last packets reach the capture
    await new Promise<void>((resolve) => {
      const hard = setTimeout(() => { child.kill('SIGKILL'); resolve(); }, 5000);
      child.once('exit', () => { clearTimeout(hard); resolve(); });
      child.kill('SIGINT');
    });
    return readFileSync(file);
  } finally {
    await stopChild(child);
    tmp.cleanup();
  }
}
