import { type BpfObject, parseBpfObject } from '../elf/object.ts';
import { errors } from '../errors/index.ts';
import { readInput } from '../io/input.ts';

// The BPF objects a minimization is for, read and checked once per command or batch worker.

/** Reads object files, turning a missing or unreadable file into an error naming it. */
export function readObjectFiles(paths: readonly string[]): { file: string; bytes: Uint8Array }[] {
  return paths.map((file) => ({ file, bytes: readInput(file, 'BPF object') }));
}

/**
 * Parses the objects; like bpftool, an object without .BTF.ext is an error (there is
 * nothing to minimize for and it is most likely the wrong file).
 */
export function parseObjects(files: readonly { file: string; bytes: Uint8Array }[]): BpfObject[] {
  return files.map(({ file, bytes }) => {
    const obj = parseBpfObject(bytes, file);
    if (obj.ext === undefined) {
      throw errors.notFound(
        file,
        'expected a .BTF.ext section (CO-RE relocation records): compile with clang -g',
      );
    }
    return obj;
  });
}
