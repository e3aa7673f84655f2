// Process-level behaviour of @btfkit/runtime, in child processes: what an unprivileged user is
// told, and that a process exiting without close() leaves nothing attached in the kernel.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'btfkit-rt-proc-'));
// The unprivileged child must be able to read its script.
chmodSync(work, 0o755);
afterAll(() => rmSync(work, { recursive: true, force: true }));
const bpftool = <T>(...args: string[]): T =>
  JSON.parse(execFileSync('bpftool', ['-j', ...args], { encoding: 'utf8' })) as T;

/** A child script that loads exectrace.bpf.o, attaches, prints its program ids, and exits. */
function script(body: string): string {
  const path = join(work, `child-${Math.random().toString(36).slice(2)}.mts`);
  writeFileSync(
    path,
    `import { readFileSync } from 'node:fs';
import { loadObject, KernelError } from ${JSON.stringify(join(ROOT, 'packages/runtime/src/index.ts'))};
const bytes = new Uint8Array(readFileSync(${JSON.stringify(join(ROOT, 'test/fixtures/runtime/exectrace.bpf.o'))}));
${body}
`,
  );
  return path;
}

function runNode(
  path: string,
  prefix: string[] = [],
): { status: number | null; stdout: string; stderr: string } {
  const [cmd, ...args] = [...prefix, process.execPath, '--import', 'tsx', path];
  // The child's own temp folder (tsx caches there), writable by whichever user it runs as.
  const childTmp = join(work, 'tmp');
  mkdirSync(childTmp, { recursive: true });
  chmodSync(childTmp, 0o1777);
  const env = { ...process.env, TMPDIR: childTmp };
  const r = spawnSync(cmd as string, args, { cwd: ROOT, encoding: 'utf8', timeout: 60_000, env });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('runtime in a process', () => {
  it('tells an unprivileged user which capabilities loading needs', () => {
    const path = script(`
try {
  await loadObject(bytes);
  console.log('loaded');
} catch (e) {
  console.log(JSON.stringify({ kernel: e instanceof KernelError, kind: e.kind, message: e.message }));
}`);
    const r = runNode(path, ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1) || JSON.stringify({ stderr: r.stderr }));
    expect(out).toMatchObject({ kernel: true, kind: 'PERMISSION' });
    expect(out.message).toMatch(/EPERM: needs CAP_BPF .*CAP_SYS_ADMIN/);
  });

  it('leaves no programs or links behind when the process exits without close()', async () => {
    const path = script(`
const obj = await loadObject(bytes, { globals: { rodata: { target_ppid: 1 } } });
await obj.attach({ programs: { count_uprobe: false, count_kprobe: false } });
console.log(JSON.stringify(Object.values(obj.programs).map((p) => p.id)));
process.exit(0);`);
    const r = runNode(path);
    expect(r.status).toBe(0);
    const ids = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '[]') as number[];
    expect(ids.length).toBe(5);
    let left: number[] = ids;
    for (let i = 0; i < 50 && left.length > 0; i++) {
      const progs = bpftool<{ id: number }[]>('prog', 'list').map((p) => p.id);
      const links = bpftool<{ prog_id: number }[]>('link', 'list').map((l) => l.prog_id);
      left = ids.filter((id) => progs.includes(id) || links.includes(id));
      if (left.length) await new Promise((res) => setTimeout(res, 100));
    }
    expect(left).toEqual([]);
  });
});
