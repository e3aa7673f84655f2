import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBtfSource } from '@btfkit/core';
import { describe, expect, it } from 'vitest';
import { BUNDLERS, watchBuild } from './plugin-harness.ts';

// Each bundler's own watch mode: after the first build, a kernel file and then the object are
// replaced (written beside and renamed over, as editors save), and each change must give a
// rebuild whose output serves the new bytes: bpftool 7.1.0's min_core_btf output (expected/min)
// for the new kernel, then for the new object.

const ROOT = join(import.meta.dirname, '..');
const CORPUS = join(ROOT, 'test/corpus');
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const expectedMin = (release: string, obj: string) =>
  sha(readFileSync(join(CORPUS, 'expected/min', release, `${obj}.btf`)));
const K61 = 'debian/12/x86_64/6.1.0-47-cloud-amd64.btf.tar.xz';
const K510 = 'debian/11/x86_64/5.10.0-32-cloud-amd64.btf.tar.xz';

/** Replaces `dst` the way editors save: a new file beside it, renamed over it. */
function replaceFile(src: string, dst: string): void {
  const tmp = `${dst}.tmp-${process.pid}`;
  copyFileSync(src, tmp);
  renameSync(tmp, dst);
}

// The raw BTF inside two corpus kernels' btfhub archives.
const raw61 = (await readBtfSource(join(CORPUS, 'kernels', K61))).bytes;
const raw510 = (await readBtfSource(join(CORPUS, 'kernels', K510))).bytes;

for (const bundler of BUNDLERS) {
  describe(`${bundler} watch mode`, () => {
    it('rebuilds with new BTF when a kernel changes, and when the object changes', async () => {
      const dir = mkdtempSync(join(tmpdir(), `btfkit-watch-${bundler}-`));
      const object = join(dir, 'probe.bpf.o');
      copyFileSync(join(CORPUS, 'objects/execsnoop.bpf.o'), object);
      // A raw BTF kernel file (btfhub's extracted <release>.btf) keeps its name, and so its
      // release; its content becomes another kernel's.
      const kdir = join(dir, 'kernels/debian/12/x86_64');
      mkdirSync(kdir, { recursive: true });
      const kfile = join(kdir, '6.1.0-47-cloud-amd64.btf');
      writeFileSync(kfile, raw61);
      const raw510File = join(dir, '5.10.btf');
      writeFileSync(raw510File, raw510);
      const entry = join(dir, 'main.js');
      writeFileSync(
        entry,
        [
          "import probe from './probe.bpf.o';",
          "import { createHash } from 'node:crypto';",
          "const h = (b) => createHash('sha256').update(b).digest('hex');",
          'const r = await probe.btfFor(probe.kernels[0]);',
          'console.log(JSON.stringify({ object: h(await probe.object()), btf: r.bytes ? h(r.bytes) : r.reason }));',
          '',
        ].join('\n'),
      );
      const out = join(dir, 'dist');
      const run = () =>
        JSON.parse(execFileSync(process.execPath, [join(out, 'main.js')], { encoding: 'utf8' }).trim());
      const w = await watchBuild(bundler, entry, out, { kernels: [join(dir, 'kernels')], cacheDir: false });
      // Waits for a successful build whose output satisfies `ok`; builds seen in between (a
      // watcher may fire twice for one save) do not count. A bounded number of builds.
      const until = async (step: string, ok: (r: { object: string; btf: string }) => boolean) => {
        for (let i = 0; i < 6; i++) {
          const b = await Promise.race([
            w.next(),
            new Promise<never>((_, reject) =>
              setTimeout(() => reject(new Error(`${step}: no rebuild within 30 s`)), 30_000),
            ),
          ]);
          if (!b.ok) continue;
          const r = run();
          if (ok(r)) return r;
        }
        throw new Error(`${step}: no rebuild produced the expected output`);
      };
      try {
        const first = await until('first build', () => true);
        expect(first.btf).toBe(expectedMin('6.1.0-47-cloud-amd64', 'execsnoop'));
        expect(first.object).toBe(sha(readFileSync(join(CORPUS, 'objects/execsnoop.bpf.o'))));
        // Let the watchers settle on the first build's inputs before changing them.
        await new Promise((r) => setTimeout(r, 300));

        replaceFile(raw510File, kfile);
        const h510 = expectedMin('5.10.0-32-cloud-amd64', 'execsnoop');
        expect(h510).not.toBe(first.btf);
        const second = await until('kernel change', (r) => r.btf !== first.btf);
        expect(second.btf).toBe(h510);
        await new Promise((r) => setTimeout(r, 300));

        replaceFile(join(CORPUS, 'objects/opensnoop.bpf.o'), object);
        const third = await until('object change', (r) => r.object !== first.object);
        expect(third.object).toBe(sha(readFileSync(join(CORPUS, 'objects/opensnoop.bpf.o'))));
        expect(third.btf).toBe(expectedMin('5.10.0-32-cloud-amd64', 'opensnoop'));
      } finally {
        await w.close();
      }
    });
  });
}
