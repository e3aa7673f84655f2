// A Node app that imports a real BPF object (libbpf-tools' opensnoop from the test corpus) through
// unplugin-btfkit and prints what the typed skeleton knows about it.
import probe from '../../test/corpus/objects/opensnoop.bpf.o';

const bigints = (_k, v) => (typeof v === 'bigint' ? `${v}n` : v);
console.log(`object ${probe.name}: ${(await probe.object()).length} bytes`);
console.log('\nprograms:');
for (const p of Object.values(probe.programs))
  console.log(`  ${p.name.padEnd(44)} ${p.type.padEnd(11)} ${p.section}`);
console.log('\nmaps:');
for (const m of Object.values(probe.maps)) {
  const value = m.value ? `value ${m.valueSize}B` : m.event ? `event ${m.event.size}B` : '';
  console.log(`  ${m.name.padEnd(12)} ${m.type.padEnd(17)} key ${m.keySize}B ${value} max ${m.maxEntries}`);
}
console.log('\nglobals (initial values from the ELF):');
for (const g of Object.values(probe.globals)) {
  console.log(
    `  ${g.section.padEnd(8)} ${g.name.padEnd(16)} = ${JSON.stringify(g.initial, bigints)} (${g.size}B)`,
  );
}
console.log('\ntypes:', Object.keys(probe.types).join(', '));
const ev = probe.types.event;
if (ev) console.log('  event layout:', ev.layout.map((f) => `${f.name}@${f.bitOffset / 8}`).join(' '));
console.log('\nkernels (minimized BTF per kernel):');
for (const k of probe.kernels) {
  const r = await probe.btfFor(k);
  console.log(
    `  ${`${k.distro}/${k.version}/${k.arch}/${k.release}`.padEnd(44)} ${r.bytes ? `${r.bytes.length} bytes` : r.reason}`,
  );
}
const running = await probe.btfForRunningKernel();
console.log(`\nrunning kernel: ${running.bytes ? `${running.bytes.length} bytes of BTF` : running.reason}`);
