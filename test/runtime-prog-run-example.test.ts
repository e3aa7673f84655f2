// packages/runtime/README.md's prog.run() example, as written there (only the object comes
// from clang-19 here instead of a build step), so the documented test is one that passes.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type BpfMap, type LoadedObject, loadObject } from '../packages/runtime/src/index.ts';
import { compileBpf } from './fixtures/clang.ts';

const work = mkdtempSync(join(tmpdir(), 'btfkit-readme-'));
const built = compileBpf(
  join(import.meta.dirname, 'fixtures/runtime-attach/firewall.bpf.c'),
  join(work, 'firewall.bpf.o'),
);
afterAll(() => rmSync(work, { recursive: true, force: true }));

// --- README example starts here (the path of the object aside) ---
const XDP_DROP = 1;
const XDP_PASS = 2;
let obj: LoadedObject<Record<string, BpfMap>, 'xdp_firewall'>;

/** An Ethernet + IPv4 + UDP frame to `port` (checksums are not looked at). */
function udp(port: number): Uint8Array {
  const f = new Uint8Array(42);
  const v = new DataView(f.buffer);
  v.setUint16(12, 0x0800); // IPv4
  f[14] = 0x45; // version 4, 20-byte header
  f[23] = 17; // UDP
  v.setUint16(36, port);
  return f;
}

beforeAll(async () => {
  obj = (await loadObject(readFileSync(built), { file: 'firewall.bpf.o' })) as typeof obj;
});
afterAll(() => obj.close());

it('drops UDP to 7001 and passes the rest', () => {
  const prog = obj.programs.xdp_firewall;
  expect(prog.run(udp(7001)).retval).toBe(XDP_DROP);
  const r = prog.run(udp(53));
  expect(r.retval).toBe(XDP_PASS);
  expect(r.dataOut).toEqual(udp(53)); // left untouched
});
// --- README example ends here ---

it('is the example the README shows', () => {
  const readme = readFileSync(join(import.meta.dirname, '../packages/runtime/README.md'), 'utf8');
  const me = readFileSync(import.meta.filename, 'utf8');
  const example = (
    me.split('// --- README example starts here (the path of the object aside) ---\n')[1] ?? ''
  )
    .split('// --- README example ends here ---')[0]
    ?.replace('readFileSync(built)', "readFileSync('build/firewall.bpf.o')");
  expect(example && readme.includes(example.trim())).toBe(true);
});
