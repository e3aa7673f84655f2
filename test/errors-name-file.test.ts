// Errors found long after decoding (the C printer, relocation) name the damaged file and the
// offset of the record at fault. The damaged inputs are fuzz cases (test/fuzz: seed 15), so
// the bytes are the same on every run.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { btfkit, expectCleanError } from './fixtures/cli.ts';
import { buildLoader, loadPrograms } from './fixtures/compat/support.ts';
import { makeCase } from './fuzz/cases.ts';
import { CORPUS, loadInputs } from './fuzz/inputs.ts';

const inputs = loadInputs();
const dir = mkdtempSync(join(tmpdir(), 'btfkit-errfile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function caseFile(index: number): string {
  const c = makeCase(inputs, 15, index);
  const path = join(dir, c.file);
  writeFileSync(path, c.bytes);
  return path;
}

describe('dump --format c names the file and the record', () => {
  it('a type that contains itself by value', () => {
    const file = caseFile(2427);
    const r = btfkit(['dump', '--format', 'c', file]);
    expectCleanError(r);
    expect(r.stderr).toBe(
      `btfkit dump: ${file} at offset 288 (0x120): type [20] contains itself by value: it has no C declaration\n`,
    );
  });

  it('a struct needing more explicit padding than the printer emits', () => {
    const file = caseFile(2235);
    const r = btfkit(['dump', '--format', 'c', file]);
    expectCleanError(r);
    expect(r.stderr).toBe(
      `btfkit dump: ${file} at offset 2016 (0x7e0): type [85] needs 4294967295 bits of explicit padding (more than the C printer emits)\n`,
    );
  });
});

describe('a bad access string offset in .BTF.ext', () => {
  it('relocate and compat agree: libbpf refuses the object, naming the relocation', () => {
    const bytes = new Uint8Array(inputs.objects.find((o) => o.name === 'biopattern.bpf.o')?.bytes ?? []);
    // The first CO-RE relocation record's access_str_off (file offset 3448; was 460).
    const view = new DataView(bytes.buffer);
    expect(view.getUint32(3448, true)).toBe(460);
    view.setUint32(3448, 0x7fffff00, true);
    const file = join(dir, 'badstr.bpf.o');
    writeFileSync(file, bytes);
    const kernel = join(CORPUS, 'kernels/debian/12/x86_64/6.1.0-47-amd64.btf.tar.xz');
    const why =
      'cannot parse access string "" of struct trace_event_raw_block_rq_completion___x: access string offset is invalid';
    const rel = btfkit(['relocate', file, kernel]);
    expect(rel.status).toBe(1);
    expect(rel.stdout).toContain(`ERROR ${why}`);
    const compat = btfkit(['compat', '--json', '--kernels', kernel, file]);
    const cell = JSON.parse(compat.stdout).cells[0];
    expect(cell.verdict).toBe('error');
    expect(cell.message).toContain(why);
  });
});

describe('a func_info / line_info section whose name is no string', () => {
  it('libbpf loads the object; relocate and compat accept it too', () => {
    // Fuzz case 29532 (seed 15): a word of runqlat's .BTF.ext set to 32767.
    const c = makeCase(inputs, 15, 29532);
    const file = join(dir, 'runqlat-badsec.bpf.o');
    writeFileSync(file, c.bytes);
    const loads = loadPrograms(buildLoader(dir), file, '/sys/kernel/btf/vmlinux');
    expect(loads.size).toBe(6);
    expect([...loads.values()].every((l) => l.status === 'ok')).toBe(true);
    const kernel = join(CORPUS, 'kernels/debian/12/x86_64/6.1.0-47-amd64.btf.tar.xz');
    const rel = btfkit(['relocate', file, kernel]);
    expect(rel.stderr).toBe('');
    expect(rel.status).toBe(0);
    const compat = btfkit(['compat', '--json', '--kernels', kernel, file]);
    expect(compat.stderr).toBe('');
    const cells = JSON.parse(compat.stdout).cells as { verdict: string }[];
    expect(cells.map((x) => x.verdict)).not.toContain('error');
    expect(cells.length).toBe(6);
  });
});

describe('compat on a code section that is no whole number of instructions', () => {
  // Found by the full `pnpm fuzz` run (seed 15, case 98424): compat's decoder said where, not
  // in which file.
  it('names the object and the offset where the section ends', () => {
    const file = caseFile(98424);
    const kernel = join(CORPUS, 'kernels/debian/12/x86_64/6.1.0-47-amd64.btf.tar.xz');
    const r = btfkit(['compat', file, '--kernels', kernel]);
    expectCleanError(r);
    expect(r.stderr).toBe(
      `btfkit compat: ${file} at offset 848 (0x350): expected whole 8-byte BPF instructions, section is 787 bytes\n`,
    );
  });

  // With two kernels or more, another thread decodes the objects' code and judges
  // (BTFKIT_COMPAT_THREAD=1 makes it so on one core too): its error crosses over as it was,
  // and comes before that of a damaged kernel, as it does when one thread does everything.
  it.each(['1', '0'])('the same with the judging thread (BTFKIT_COMPAT_THREAD=%s) and a bad kernel', (t) => {
    const file = caseFile(98424);
    const kernel = join(CORPUS, 'kernels/debian/12/x86_64/6.1.0-47-amd64.btf.tar.xz');
    const bad = join(dir, 'not-btf.btf');
    writeFileSync(bad, 'not a kernel BTF\n');
    for (const kernels of [
      [kernel, kernel],
      [bad, kernel],
    ]) {
      const r = btfkit(['compat', file, '--kernels', ...kernels], {
        env: { ...process.env, BTFKIT_COMPAT_THREAD: t },
      });
      expectCleanError(r);
      expect(r.stderr).toBe(
        `btfkit compat: ${file} at offset 848 (0x350): expected whole 8-byte BPF instructions, section is 787 bytes\n`,
      );
    }
  });
});
