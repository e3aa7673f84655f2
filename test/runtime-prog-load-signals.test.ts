// The verifier gives up with EAGAIN whenever a signal is pending, and a profiled Node process
// gets one every sampling interval: V8's CPU profiler sends its thread SIGPROF. libbpf's answer,
// five attempts without a pause, does not get a big program through that (shown here with
// libbpf itself and a thread sending SIGPROF the way V8 does); loadObject() in a child under
// `node --cpu-prof --cpu-prof-interval 100` must load the same objects.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'btfkit-prog-load-signals-'));
const sampler = join(work, 'prog-load-sampler');
const profiles = join(work, 'profiles');
/** Corpus objects whose verification takes tens of ms here, many sampling intervals. */
const OBJECTS = ['execsnoop', 'runqlat', 'tcplife'];
const object = (name: string) => join(ROOT, 'test/corpus/objects', `${name}.bpf.o`);
const INTERVAL_US = 100;

beforeAll(() => {
  execFileSync('gcc', [
    '-O1',
    '-pthread',
    '-o',
    sampler,
    join(ROOT, 'test/fixtures/runtime-libbpf/prog-load-sampler.c'),
    '-l:libbpf.a',
    '-lelf',
    '-lz',
  ]);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

it('libbpf, retrying EAGAIN five times, fails to load execsnoop.bpf.o under a 100 µs SIGPROF', () => {
  // The condition the next test puts our loader in is real: the kernel's verifier gives up on
  // the pending signal and libbpf's retries do not outlast it. One failed load in five runs
  // suffices (the sampler thread needs a free CPU to keep its pace on a busy machine).
  const runs: string[] = [];
  for (let i = 0; i < 5 && !runs.some((r) => r.startsWith('-11 ')); i++)
    runs.push(execFileSync(sampler, [object('execsnoop'), String(INTERVAL_US)], { encoding: 'utf8' }).trim());
  expect(
    runs.find((r) => r.startsWith('-11 ')),
    runs.join('; '),
  ).toBeDefined();
});

it('loadObject() loads big programs in a process under node --cpu-prof --cpu-prof-interval 100', () => {
  const child = join(work, 'load.mts');
  writeFileSync(
    child,
    `import { readFileSync } from 'node:fs';
import { loadObject } from ${JSON.stringify(join(ROOT, 'packages/runtime/src/index.ts'))};
const out = [];
for (const path of ${JSON.stringify(OBJECTS.map(object))}) {
  try {
    const obj = await loadObject(new Uint8Array(readFileSync(path)), { file: path });
    out.push(Object.keys(obj.programs).length > 0 ? 'loaded' : 'no programs');
    await obj.close();
  } catch (e) {
    out.push(String(e.message));
  }
}
console.log(JSON.stringify(out));
`,
  );
  const r = spawnSync(
    process.execPath,
    [
      '--cpu-prof',
      '--cpu-prof-dir',
      profiles,
      '--cpu-prof-interval',
      String(INTERVAL_US),
      // The runtime's sources and core's, as every other test runs them: a fresh clone has no dist/.
      '--conditions=@btfkit/source',
      '--import',
      'tsx',
      child,
    ],
    { cwd: ROOT, encoding: 'utf8', timeout: 120_000 },
  );
  expect(r.status, r.stderr).toBe(0);
  expect(JSON.parse(r.stdout.trim().split('\n').at(-1) as string)).toEqual(OBJECTS.map(() => 'loaded'));
  // The profiler ran and sampled at the interval asked for (V8 writes one profile per thread
  // at exit: the main one, and tsx's module-hooks thread): the main thread's has the most.
  type Profile = { samples: number[]; startTime: number; endTime: number };
  const main = readdirSync(profiles)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => JSON.parse(readFileSync(join(profiles, f), 'utf8')) as Profile)
    .reduce((a, b) => (b.samples.length > a.samples.length ? b : a));
  const spanUs = main.endTime - main.startTime;
  expect(main.samples.length).toBeGreaterThan(spanUs / INTERVAL_US / 10);
});
