import { readFileSync } from 'node:fs';
import { errors } from '../errors/index.ts';

/**
 * Reads a BPF object named on a command line: a missing file is NOT_FOUND ("no such BPF object
 * file"), any other failure IO, both naming the file, so every command words it the same way.
 */
export function readObjectFile(file: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw errors.notFound(file, 'no such BPF object file');
    throw errors.io(file, `cannot read the BPF object: ${(e as Error).message}`);
  }
}
