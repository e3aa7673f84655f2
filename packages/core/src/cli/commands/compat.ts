import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { CompatAnalysis } from '../../compat/analyze.ts';
import { renderReport } from '../../compat/html-report.ts';
import { startJudgeThread } from '../../compat/judge-pool.ts';
import { runningKernelConfig } from '../../compat/kconfig.ts';
import { nextTurn, prefetchKernels } from '../../compat/kernel-stream.ts';
import type { CompatCell, CompatResult, Verdict } from '../../compat/model.ts';
import { findingLines, GLYPH } from '../../compat/terminal-text.ts';
import { builtWithoutBtf } from '../../compat/without-btf.ts';
import type { LibbpfVersion } from '../../core/profile.ts';
import { type BpfObject, parseBpfObject } from '../../elf/object.ts';
import { errors } from '../../errors/index.ts';
import { readInput } from '../../io/input.ts';
import { listKernels } from '../../kernels/index.ts';
import { writeFileAtomic } from '../../minimize/files.ts';
import { minimizeBtf } from '../../minimize/minimize.ts';
import { bpfObjectsAmong, splitKernelArgs } from '../kernel-args.ts';
import { libbpfOption, libbpfVersionOf } from '../libbpf-option.ts';
import { writeStdoutSync } from '../stdout-sync.ts';
import type { Command } from './types.ts';

const USAGE = `usage: btfkit compat [options] --kernels DIR|GLOB|FILE... OBJECT...
(kernel arguments end at the next option or at the first name ending in .o)

For every program of the objects and every kernel, says whether the program loads there as far
as CO-RE goes: ok, guarded (unresolved relocations only in code the verifier prunes as dead),
fails (the verifier reaches a poisoned instruction), needs-kernel-btf, or error (libbpf refuses
the object). Failures are named in C terms with their source lines.

options:
  --kernels ...         btfhub-archive trees, globs or files (raw BTF, vmlinux, .btf.tar.xz,
                        /sys/kernel/btf/vmlinux)
  --without-btf PAT     mark kernels whose release or path contains PAT as built without BTF
                        (repeatable; 'all' for every kernel, as for a btfhub archive, which only
                        carries such kernels): fentry/fexit/tp_btf/lsm/struct_ops/iter programs
                        get needs-kernel-btf, and so does every program of an object with kfunc
                        or typed-ksym externs (libbpf loads kernel BTF for the whole object)
  --rodata unknown      treat .rodata constants as unknown (default: the object's initial values,
                        as loading it unchanged does)
  --libbpf VER          decide as libbpf VER does: 1.1 (Debian 12's, the default) or 1.7
                        (1.6+ patches direct loads of moved array members 1.1 poisons)
  --json                print the result as JSON
  --html FILE           write the HTML report to FILE (includes minimized BTF sizes)
  --sizes               also minimize the BTF per kernel to show sizes and shared files
  -q, --quiet           print only the problems
Exit status: 0 when every program is ok or guarded everywhere, 1 otherwise.
`;

async function run(argv: string[]): Promise<number> {
  // Kernels run up to the next option or the first BPF object (a name ending in .o).
  const { rest, kernels: kernelArgs } = splitKernelArgs(argv, (a) => a.startsWith('-') || a.endsWith('.o'));
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      'without-btf': { type: 'string', multiple: true },
      rodata: { type: 'string' },
      ...libbpfOption,
      json: { type: 'boolean' },
      html: { type: 'string' },
      sizes: { type: 'boolean' },
      quiet: { type: 'boolean', short: 'q' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (kernelArgs.length === 0) throw errors.badOption('compat needs --kernels DIR|GLOB|FILE...');
  // An object not named *.o is taken into the kernel list; say which file that was.
  const swallowed = bpfObjectsAmong(kernelArgs);
  if (swallowed.length > 0) {
    const names = swallowed.join(', ');
    throw errors.badOption(
      `${names}: a BPF object among the --kernels arguments (they run up to the next option or a name ending in .o)${positionals.length === 0 ? '; compat needs at least one OBJECT' : ''}: put OBJECT before --kernels, or after '--'`,
    );
  }
  if (positionals.length === 0) {
    throw errors.badOption(
      `compat needs at least one OBJECT (the --kernels arguments took ${kernelArgs.join(' ')}; they run up to the next option or a name ending in .o)`,
    );
  }
  if (values.rodata !== undefined && values.rodata !== 'unknown' && values.rodata !== 'initial') {
    throw errors.badOption(`--rodata takes 'unknown' or 'initial', not '${values.rodata}'`);
  }
  const libbpf = libbpfVersionOf(values.libbpf);
  const without = values['without-btf'] ?? [];
  const entries = listKernels(kernelArgs);
  if (entries.length === 0) throw errors.badOption(`no kernel BTF found in ${kernelArgs.join(', ')}`);
  // The first archives start inflating in xz(1) children now; the objects are parsed one
  // turn of the event loop apart, so each archive read that finishes meanwhile gets its child.
  const btfs = prefetchKernels(entries.map((e) => e.path));
  const files: { file: string; bytes: Uint8Array }[] = [];
  const objects: BpfObject[] = [];
  for (const file of positionals) {
    await nextTurn();
    const bytes = readInput(file, 'BPF object');
    objects.push(parseBpfObject(bytes, file));
    files.push({ file, bytes });
  }
  const rodata = values.rodata === 'unknown' ? 'unknown' : 'initial';
  // With more than one kernel and cores to spare, another thread judges (judge-pool.ts says why).
  const judging =
    entries.length > 1 && judgeInThread() ? startJudgeThread({ objects: files, rodata }) : undefined;
  const analysis = new CompatAnalysis(objects, { libbpf, rodata, judgedElsewhere: judging !== undefined });
  const sizes = values.sizes === true || values.html !== undefined;
  const judged: Promise<void>[] = [];
  try {
    for (const e of entries) {
      const { value: btf } = await btfs.next();
      if (btf === undefined) throw new Error(`compat: no BTF read for ${e.path}`);
      const builtinBtf = !builtWithoutBtf(without, e);
      const minimized = sizes ? tryMinimize(btf, objects, e.release, libbpf) : undefined;
      const decided = analysis.decide(
        {
          btf,
          release: e.release,
          distro: e.distro,
          version: e.version,
          arch: e.arch,
          path: e.path,
          builtinBtf,
          // The running kernel's own config decides its CONFIG_* externs (other kernels': unknown).
          config: e.path === RUNNING_BTF ? runningKernelConfig() : undefined,
        },
        minimized,
      );
      if (judging === undefined) analysis.record(decided.index, analysis.judge(decided));
      else {
        const done = judging.judge(decided).then((cells) => analysis.record(decided.index, cells));
        done.catch(() => {});
        judged.push(done);
      }
    }
    if (judging !== undefined) {
      analysis.useObjectInfo(await judging.objects);
      await Promise.all(judged);
    }
  } catch (e) {
    // An object compat cannot read is the first error, as it is when this thread judges.
    if (judging !== undefined) await judging.objects;
    throw e;
  } finally {
    await judging?.close();
  }
  const result = analysis.result();
  if (values.html !== undefined) writeFileAtomic(values.html, new TextEncoder().encode(renderReport(result)));
  if (values.json) writeStdoutSync(`${JSON.stringify(result, bigints, 2)}\n`);
  else writeStdoutSync(formatTable(result, values.quiet === true));
  const bad: Verdict[] = ['fails', 'error', 'needs-kernel-btf'];
  return result.cells.some((c) => bad.includes(c.verdict)) ? 1 : 0;
}

const RUNNING_BTF = '/sys/kernel/btf/vmlinux';

/**
 * Whether to judge in a thread of its own: with 4 cores or more, as the batch gives half the
 * cores to its runners. On 2-3 cores xz(1) and this thread already keep them busy, and a
 * second thread only adds its start and its own parse of the objects (2 cores, 41 objects ×
 * 7 kernels, 5 rounds: 1,017 vs 1,011 ms wall, 1,793 vs 1,735 ms CPU). BTFKIT_COMPAT_THREAD
 * decides instead: 0 (one thread) or 1 (a judging thread whatever the cores).
 */
function judgeInThread(): boolean {
  const forced = process.env.BTFKIT_COMPAT_THREAD;
  if (forced === '0' || forced === '1') return forced === '1';
  return availableParallelism() >= 4;
}

/** Sizes are a bonus in the report: a kernel the minimizer refuses simply shows none. */
function tryMinimize(
  btf: Parameters<typeof minimizeBtf>[0],
  objects: Parameters<typeof minimizeBtf>[1],
  release: string,
  libbpf: LibbpfVersion,
) {
  try {
    return minimizeBtf(btf, objects, { release, libbpf });
  } catch {
    return undefined;
  }
}

const bigints = (_k: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v);

/** The terminal view: a glyph matrix per object, then every problem spelled out. */
export function formatTable(result: CompatResult, quiet: boolean): string {
  const out: string[] = [];
  const ks = result.kernels;
  if (!quiet) {
    out.push('kernels:');
    ks.forEach((k, i) => {
      const where = [k.distro, k.version, k.arch].filter(Boolean).join(' ');
      out.push(
        `  [${i + 1}] ${k.release}${where ? `  (${where})` : ''}${k.builtinBtf ? '' : '  without built-in BTF'}`,
      );
    });
    const width = Math.max(20, ...result.objects.flatMap((o) => o.programs.map((p) => p.name.length + 2)));
    out.push('');
    out.push(`${''.padEnd(width)} ${ks.map((_, i) => String(i + 1).padStart(2)).join(' ')}`);
    const byKey = new Map(result.cells.map((c) => [`${c.object}\u0000${c.program}\u0000${c.kernel}`, c]));
    for (const o of result.objects) {
      out.push(o.name);
      for (const p of o.programs) {
        const row = ks.map((k) => byKey.get(`${o.name}\u0000${p.name}\u0000${k.id}`)?.verdict);
        out.push(
          `  ${p.name.padEnd(width - 2)} ${row.map((v) => (v ? GLYPH[v] : '·').padStart(2)).join(' ')}`,
        );
      }
    }
    out.push('');
    out.push(
      `legend: ${GLYPH.ok} ok  ${GLYPH.guarded} guarded  ${GLYPH.fails} fails  ${GLYPH['needs-kernel-btf']} needs kernel BTF  ${GLYPH.error} error`,
    );
  }
  const problems = result.cells.filter((c) => c.verdict !== 'ok' && c.verdict !== 'guarded');
  // One entry per program and problem, listing the kernels it happens on.
  const grouped = new Map<string, { cell: CompatCell; kernels: string[] }>();
  for (const c of problems) {
    const key = `${c.object}/${c.program}\u0000${c.verdict}\u0000${c.message ?? ''}\u0000${problemText(c)}`;
    const g = grouped.get(key) ?? { cell: c, kernels: [] };
    g.kernels.push(c.kernel);
    grouped.set(key, g);
  }
  if (grouped.size > 0) {
    out.push(quiet ? '' : '\nproblems:');
    for (const { cell, kernels } of grouped.values()) {
      out.push(`${cell.object}/${cell.program}: ${cell.verdict} on ${kernels.join(', ')}`);
      if (cell.message) out.push(`  ${cell.message}`);
      // What the verdict assumed any value of, for want of the kernel's config.
      if (cell.dependsOn) out.push(`  depends on ${cell.dependsOn.join(', ')}`);
      for (const f of cell.findings.filter((x) => x.reached)) {
        for (const line of findingLines(f)) out.push(`  ${line}`);
        if (f.reason) out.push(`    ${f.reason}`);
      }
    }
  }
  const s = result.summary;
  out.push(
    `\n${result.cells.length} program × kernel pairs: ${s.ok} ok, ${s.guarded} guarded, ${s.fails} fail, ${s['needs-kernel-btf']} need kernel BTF, ${s.error} refused`,
  );
  return `${out.join('\n').replace(/^\n+/, '')}\n`;
}

function problemText(c: CompatCell): string {
  return c.findings
    .filter((f) => f.reached)
    .map((f) => `${f.cPath}@${f.function}:${f.insn}`)
    .join(';');
}

export const compat: Command = {
  name: 'compat',
  summary: 'which program fails on which kernel, and why (CO-RE at build time)',
  usage: USAGE,
  run,
};
