// The real inputs the fuzz suite mutates, read once: corpus objects (with the byte ranges of
// their sections, so mutations can aim at headers, .BTF, .BTF.ext, code and relocations),
// small kernel BTFs (the corpus's minimized ones, which relocate the corpus objects as the
// whole kernels do), split module BTFs over their kernel, and .btf.tar.xz archives of them.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Btf } from '../../packages/core/src/btf/btf.ts';
import { decodeBtf } from '../../packages/core/src/btf/decode.ts';
import { parseElf } from '../../packages/core/src/elf/elf.ts';

export const ROOT = join(import.meta.dirname, '../..');
export const CORPUS = join(ROOT, 'test/corpus');
export const MODULES_KERNEL = '6.1.0-47-cloud-amd64';

export interface Region {
  name: string;
  start: number;
  end: number;
}

export interface ObjectInput {
  name: string;
  bytes: Uint8Array;
  /** Section contents and the headers: where mutations aim. */
  regions: Region[];
  /** Executable sections (instruction tampering). */
  code: Region[];
}

export interface Inputs {
  objects: ObjectInput[];
  /** Raw kernel BTFs (small: the minimized BTF of every corpus object). */
  kernels: { name: string; bytes: Uint8Array; btf: Btf }[];
  /** Module BTFs and the kernel they are split over. */
  modules: { name: string; bytes: Uint8Array }[];
  moduleBase: Btf;
  /** .btf.tar.xz archives (xz(1) -9 of a tar of one kernel BTF). */
  archives: { name: string; bytes: Uint8Array }[];
  largest: number;
}

const OBJECTS = ['biopattern', 'bindsnoop', 'execsnoop', 'tcpconnect', 'klockstat', 'runqlat', 'opensnoop'];
const KERNELS = ['5.10.0-32-amd64', '6.1.0-47-cloud-arm64', '6.12.111+deb12-cloud-amd64'];

export function loadInputs(): Inputs {
  const objects = OBJECTS.filter((n) => readdirSync(join(CORPUS, 'objects')).includes(`${n}.bpf.o`)).map(
    (n): ObjectInput => {
      const path = join(CORPUS, 'objects', `${n}.bpf.o`);
      const bytes = new Uint8Array(readFileSync(path));
      const elf = parseElf(bytes, path);
      const regions: Region[] = [{ name: 'ELF header', start: 0, end: 64 }];
      const code: Region[] = [];
      for (const s of elf.sections) {
        if (s.type === 8 /* NOBITS */ || s.size === 0) continue;
        const r = { name: s.name, start: s.offset, end: s.offset + s.size };
        regions.push(r);
        if ((s.flags & 0x4) !== 0) code.push(r);
      }
      return { name: `${n}.bpf.o`, bytes, regions, code };
    },
  );
  const kernels = KERNELS.map((release) => {
    const bytes = new Uint8Array(readFileSync(join(CORPUS, 'expected/min', release, '_all.btf')));
    return { name: `${release}.btf`, bytes, btf: decodeBtf(bytes, { file: release }) };
  });
  const archive = join(CORPUS, `kernels/debian/12/x86_64/${MODULES_KERNEL}.btf.tar.xz`);
  const tmp = mkdtempSync(join(tmpdir(), 'btfkit-fuzz-inputs-'));
  let moduleBase: Btf;
  const archives: Inputs['archives'] = [];
  try {
    execFileSync('tar', ['-xJf', archive, '-C', tmp]);
    moduleBase = decodeBtf(new Uint8Array(readFileSync(join(tmp, `${MODULES_KERNEL}.btf`))), {
      file: MODULES_KERNEL,
    });
    for (const k of kernels) {
      writeFileSync(join(tmp, k.name), k.bytes);
      execFileSync('tar', ['-cf', join(tmp, `${k.name}.tar`), '-C', tmp, k.name]);
      execFileSync('xz', ['-9', '-k', '-f', join(tmp, `${k.name}.tar`)]);
      const release = k.name.replace(/\.btf$/, '');
      archives.push({
        name: `${release}.btf.tar.xz`,
        bytes: new Uint8Array(readFileSync(join(tmp, `${k.name}.tar.xz`))),
      });
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const modules = readdirSync(join(CORPUS, 'modules', MODULES_KERNEL))
    .filter((f) => f.endsWith('.btf') && f !== 'xfs.btf')
    .sort()
    .map((f) => ({
      name: f,
      bytes: new Uint8Array(readFileSync(join(CORPUS, 'modules', MODULES_KERNEL, f))),
    }));
  const largest = Math.max(...[...objects, ...kernels, ...modules, ...archives].map((x) => x.bytes.length));
  return { objects, kernels, modules, moduleBase, archives, largest };
}
