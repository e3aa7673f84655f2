import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseBpfObject } from '../packages/core/src/elf/object.ts';
import { readBtfSourceSync } from '../packages/core/src/kernels/index.ts';
import { markObjects } from '../packages/core/src/minimize/minimize.ts';
import { formatUnsatisfied } from '../packages/core/src/minimize/text-report.ts';
import { CORPUS, extractKernels, kernelArchives, objectFiles, releaseOf } from './fixtures/btf/corpus.ts';
import { cliArgs } from './fixtures/minimize/build.ts';

/**
 * What a kernel lacks is reported, per object, program and relocation, in C terms: the
 * relocations listed are exactly those libbpf 1.1 poisons against that kernel
 * (expected/relocs, 205 poison lines over the corpus), each naming the field and the kernel.
 */

const objects = objectFiles().map((p) => parseBpfObject(new Uint8Array(readFileSync(p)), p));
const LINE = /^ {2}(\S+)\.bpf\.o: program '([^']+)' \(([^)]+)\), relocation #(\d+) (\w+) (\S+): (.+)$/;

/** libbpf's poisoned relocations against `release`, as "object program #relo". */
function libbpfPoisoned(release: string): Set<string> {
  const out = new Set<string>();
  for (const obj of objects) {
    const name = basename(obj.file ?? '', '.bpf.o');
    const text = readFileSync(join(CORPUS, 'expected/relocs', release, `${name}.jsonl`), 'utf8');
    for (const l of text.split('\n').filter((x) => x.includes('"poison": true'))) {
      const j = JSON.parse(l) as { prog: string; relo: number };
      out.add(`${name} ${j.prog} #${j.relo}`);
    }
  }
  return out;
}

function reported(lines: string[]): Set<string> {
  return new Set(
    lines.flatMap((l) => {
      const m = LINE.exec(l);
      return m ? [`${m[1]} ${m[2]} #${m[4]}`] : [];
    }),
  );
}

describe('unsatisfied relocations are reported as libbpf poisons them', () => {
  let total = 0;
  for (const archive of kernelArchives()) {
    const release = releaseOf(archive);
    it(release, () => {
      const kernel = readBtfSourceSync(archive).btf;
      const { unsatisfied } = markObjects(kernel, objects, { release });
      const lines = formatUnsatisfied(release, unsatisfied);
      const expected = libbpfPoisoned(release);
      expect(reported(lines)).toEqual(expected);
      if (expected.size > 0) {
        expect(lines[0]).toBe(
          `kernel ${release}: ${lines.length - 1} relocation${lines.length === 2 ? '' : 's'} not satisfied (poisoned; the verifier rejects them if reached):`,
        );
      }
      // Every line says what is missing, in C terms, on which kernel.
      for (const l of lines.slice(1)) {
        expect(l).toMatch(LINE);
        expect(l).toContain(release);
      }
      total += expected.size;
    });
  }
  it('covered every libbpf poison of the corpus', () => {
    expect(total).toBe(205);
  });
});

describe('the CLI prints the report, and --strict writes nothing', () => {
  const kernels = extractKernels();
  const tmp = mkdtempSync(join(tmpdir(), 'btfkit-min-report-'));
  afterAll(() => {
    kernels.cleanup();
    rmSync(tmp, { recursive: true, force: true });
  });
  const run = (args: string[]) => {
    const [cmd, argv] = cliArgs(['min-core-btf', ...args]);
    return spawnSync(cmd, argv, { encoding: 'utf8' });
  };

  it('5.10: biosnoop and cpudist lack fields there', () => {
    const raw = kernels.raw.get('5.10.0-32-amd64') as string;
    const objs = ['biosnoop', 'cpudist'].map((n) => join(CORPUS, 'objects', `${n}.bpf.o`));
    const out = join(tmp, 'out.btf');
    const r = run([raw, out, ...objs]);
    expect(r.status).toBe(0);
    const lines = r.stderr.trimEnd().split('\n');
    const want = [...libbpfPoisoned('5.10.0-32-amd64')].filter((k) => /^(biosnoop|cpudist) /.test(k));
    expect(reported(lines)).toEqual(new Set(want));
    expect(r.stderr).toContain('field `disk` of `struct request_queue` does not exist in 5.10.0-32-amd64');
    // Reported, and still written: the same bytes as bpftool's.
    const ref = join(tmp, 'ref.btf');
    spawnSync('bpftool', ['gen', 'min_core_btf', raw, ref, ...objs]);
    expect(readFileSync(out)).toEqual(readFileSync(ref));

    const strictOut = join(tmp, 'strict.btf');
    const s = run(['--strict', '-q', raw, strictOut, ...objs]);
    expect(s.status).toBe(1);
    expect(s.stderr).toContain(`--strict: ${strictOut} not written`);
    expect(existsSync(strictOut)).toBe(false);
  });
});
