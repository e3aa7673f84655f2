import { DEFAULT_LIBBPF, isLibbpfVersion, LIBBPF_VERSIONS, type LibbpfVersion } from '../core/profile.ts';
import { errors } from '../errors/index.ts';

/** `--libbpf 1.1|1.7`, one spelling for every command that decides as libbpf/bpftool does. */
export const libbpfOption = { libbpf: { type: 'string' } } as const;

/** The option's help lines, its text starting at column `column` as the command's others do. */
export function libbpfUsage(column: number): string {
  const pad = ' '.repeat(column);
  return `${'  --libbpf VER'.padEnd(column)}decide as libbpf VER does: 1.1 (Debian 12's libbpf 1.1.2 and
${pad}bpftool 7.1.0, the default) or 1.7 (libbpf 1.7.0, bpftool 7.7.0)`;
}

/** The version named by `--libbpf`, or the default; anything else is a usage error. */
export function libbpfVersionOf(value: string | undefined): LibbpfVersion {
  if (value === undefined) return DEFAULT_LIBBPF;
  if (isLibbpfVersion(value)) return value;
  throw errors.badOption(`unknown --libbpf '${value}' (${LIBBPF_VERSIONS.join(' or ')})`);
}
