// An instruction naming a register past r10 (the nibble allows r11–r15): the running kernel's
// verifier refuses it ("R15 is invalid"), so compat must say that program fails, why and where,
// through the CLI and through the plugin, instead of crashing in its value tracking.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeCompat } from '../packages/core/src/compat/analyze.ts';
import { parseBpfObject } from '../packages/core/src/elf/object.ts';
import { readBtfSource } from '../packages/core/src/kernels/source.ts';
import { btfkit } from './fixtures/cli.ts';
import { buildLoader, CORPUS, loadPrograms } from './fixtures/compat/support.ts';
import { build } from './plugin-harness.ts';

const KERNEL = join(CORPUS, 'kernels/debian/12/x86_64/6.1.0-47-amd64.btf.tar.xz');
const PROGRAM = 'handle__block_rq_complete';
let dir: string;
let tampered: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'btfkit-badreg-'));
  const bytes = readFileSync(join(CORPUS, 'objects/biopattern.bpf.o'));
  // The program's first instruction, `r6 = r1` (0xbf, regs 0x16), at file offset 64.
  expect([...bytes.subarray(64, 66)]).toEqual([0xbf, 0x16]);
  bytes[65] = 0xff; // r15 = r15
  tampered = join(dir, 'biopattern.bpf.o');
  writeFileSync(tampered, bytes);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('compat on an instruction naming r15', () => {
  it('the running kernel’s verifier refuses the program: R15 is invalid', () => {
    const loads = loadPrograms(buildLoader(dir), tampered, '/sys/kernel/btf/vmlinux');
    expect(loads.get(PROGRAM)?.status).toBe('other');
    // bpftool prints the whole verifier log: the refusal is at instruction 0. Nothing is
    // pinned, as the load fails.
    const r = spawnSync(
      'bpftool',
      ['-d', 'prog', 'loadall', tampered, join('/sys/fs/bpf', `btfkit-badreg-${process.pid}`)],
      {
        encoding: 'utf8',
      },
    );
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/0: \(bf\) r15 = r15\nR15 is invalid\n/);
  });

  it('in-process: fails, naming the register, the function and the instruction', async () => {
    const obj = parseBpfObject(readFileSync(tampered), tampered);
    const btf = (await readBtfSource(KERNEL)).btf;
    const result = analyzeCompat([obj], [{ btf, release: '6.1.0-47-amd64' }]);
    const cell = result.cells.find((c) => c.program === PROGRAM);
    expect(cell?.verdict).toBe('fails');
    expect(cell?.findings[0]).toMatchObject({
      kind: 'invalid-register',
      cPath: 'r15 = r15',
      function: PROGRAM,
      insn: 0,
      reached: true,
    });
    expect(cell?.findings[0]?.reason).toContain('R15 is invalid');
  });

  it('CLI: exit 1 (a program fails), the problem says why and where', () => {
    const r = btfkit(['compat', tampered, '--kernels', KERNEL]);
    expect(r.stderr).not.toMatch(/internal error|TypeError/);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/biopattern\/handle__block_rq_complete: fails on 6\.1\.0-47-amd64/);
    expect(r.stdout).toMatch(/r15 = r15 \(invalid-register\) at .*biopattern\.bpf\.c:21/);
    expect(r.stdout).toContain('"R15 is invalid"');
  });

  it("plugin with compat: 'warn': a warning naming the file, the program and the register", async () => {
    const app = mkdtempSync(join(dir, 'app-'));
    copyFileSync(tampered, join(app, 'biopattern.bpf.o'));
    writeFileSync(join(app, 'main.js'), "import b from './biopattern.bpf.o';\nconsole.log(b.name);\n");
    const { warnings } = await build('rollup', join(app, 'main.js'), join(app, 'dist'), {
      kernels: [KERNEL],
      compat: 'warn',
      cacheDir: join(app, 'cache'),
    });
    const line = warnings.find((w) => w.includes(PROGRAM));
    expect(line).toMatch(
      /^(\[plugin unplugin-btfkit\] )?biopattern\.bpf\.o: program 'handle__block_rq_complete' fails on debian\/12\/x86_64\/6\.1\.0-47-amd64: invalid-register r15 = r15 \(handle__block_rq_complete insn 0\): .*R15 is invalid/,
    );
  });
});
