import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CORPUS } from './fixtures/btf/corpus.ts';
import { normalize, parseExact } from './fixtures/core/oracle.ts';

const ROOT = join(import.meta.dirname, '..');
const KERNEL = join(CORPUS, 'kernels/debian/11/x86_64/5.10.0-32-amd64.btf.tar.xz');

function btfkit(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'packages/core/src/cli/main.ts', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
  });
}

describe('btfkit relocate', () => {
  it('--json prints core-oracle lines, byte for byte, for a corpus object', () => {
    const r = btfkit(['relocate', '--json', join(CORPUS, 'objects/biosnoop.bpf.o'), KERNEL]);
    expect(r.status).toBe(0);
    const expected = readFileSync(join(CORPUS, 'expected/relocs/5.10.0-32-amd64/biosnoop.jsonl'), 'utf8');
    expect(r.stdout).toBe(expected);
  });

  it('prints a table naming poisoned fields and the kernel', () => {
    const r = btfkit(['relocate', join(CORPUS, 'objects/biosnoop.bpf.o'), KERNEL]);
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^PROG\s+INSN\s+KIND\s+C PATH\s+RESULT$/);
    const expected = normalize(
      parseExact(readFileSync(join(CORPUS, 'expected/relocs/5.10.0-32-amd64/biosnoop.jsonl'), 'utf8')),
    );
    expect(lines.length - 1).toBe(expected.length);
    // The kernel lacks request_queue.disk (it arrived in 5.15): libbpf poisons those loads.
    const poisoned = lines.filter((l) => l.includes('POISON'));
    expect(poisoned.length).toBe(expected.filter((l) => l.poison === true).length);
    expect(poisoned[0]).toContain('field `disk` of `struct request_queue` does not exist in 5.10.0-32-amd64');
  });

  it('reports a missing object as not found, naming it, as the other commands do', () => {
    const r = btfkit(['relocate', '--json', '/nonexistent.bpf.o', KERNEL]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('btfkit relocate: /nonexistent.bpf.o: BPF object not found\n');
  });

  it('reports an object it cannot read (a directory) as an IO error naming it', () => {
    const r = btfkit(['relocate', '--json', CORPUS, KERNEL]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^btfkit relocate: ${CORPUS}: cannot read BPF object: EISDIR\\b`));
  });
});
