/**
 * What this process may do, as the kernel sees it: the effective capability set
 * (/proc/self/status CapEff) and kernel lockdown (/sys/kernel/security/lockdown). An EPERM is
 * worded from these: a missing capability when one is missing, else whatever else refuses.
 */
import { readFileSync } from 'node:fs';

export const Cap = { SYS_ADMIN: 21, PERFMON: 38, BPF: 39 } as const;

/** The effective capability mask of this process (undefined when /proc cannot tell). */
export function effectiveCaps(status = readOrEmpty('/proc/self/status')): bigint | undefined {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  return m ? BigInt(`0x${m[1]}`) : undefined;
}

export function hasCap(mask: bigint, cap: number): boolean {
  return ((mask >> BigInt(cap)) & 1n) === 1n;
}

/** The kernel's lockdown mode (`none`, `integrity`, `confidentiality`), or undefined if the LSM is absent. */
export function lockdownMode(text = readOrEmpty('/sys/kernel/security/lockdown')): string | undefined {
  return /\[(\w+)\]/.exec(text)?.[1];
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/**
 * Why the kernel answered EPERM to `op`: the capabilities it wants that the process lacks,
 * or, when the process has them, lockdown or the kernel's own refusal.
 */
export function explainEperm(
  op: string,
  caps = effectiveCaps(),
  lockdown = lockdownMode(),
): { missing: boolean; text: string } {
  const perf = op.startsWith('perf_event_open');
  const wanted = perf ? [Cap.PERFMON] : [Cap.BPF, Cap.PERFMON];
  const names: Record<number, string> = { 21: 'CAP_SYS_ADMIN', 38: 'CAP_PERFMON', 39: 'CAP_BPF' };
  if (caps === undefined) {
    return {
      missing: true,
      text: perf
        ? 'needs CAP_PERFMON (or CAP_SYS_ADMIN), or a lower kernel.perf_event_paranoid'
        : 'needs CAP_BPF (with CAP_PERFMON for tracing programs) or CAP_SYS_ADMIN; run as root or grant the capabilities',
    };
  }
  const admin = hasCap(caps, Cap.SYS_ADMIN);
  const lacking = wanted.filter((c) => !hasCap(caps, c));
  if (!admin && lacking.length > 0) {
    return {
      missing: true,
      text: `the process lacks ${lacking.map((c) => names[c]).join(' and ')} (CapEff ${caps.toString(16)}; CAP_SYS_ADMIN would do too)${perf ? ', or lower kernel.perf_event_paranoid' : ''}`,
    };
  }
  const held = [Cap.BPF, Cap.PERFMON, Cap.SYS_ADMIN].filter((c) => hasCap(caps, c)).map((c) => names[c]);
  const why =
    lockdown && lockdown !== 'none'
      ? `kernel lockdown is in '${lockdown}' mode (/sys/kernel/security/lockdown), which forbids it`
      : `the kernel itself refuses it (no lockdown is in force${lockdown ? '' : ': /sys/kernel/security/lockdown is absent'}; a kernel restriction or an LSM, e.g. a kernel that does not allow fentry/fexit programs)`;
  return { missing: false, text: `refused although the process has ${held.join(', ')}: ${why}` };
}
