/** Where an asset's bytes are: a URL (file:, data:, http(s):) or path, or the bytes themselves. */
export type AssetRef = { url: string | (() => string) } | { bytes: Uint8Array };

export interface KernelAsset {
  distro: string;
  version: string;
  arch: string;
  release: string;
  /** Absent when no BTF could be made for this kernel; `reason` says why. */
  btf?: AssetRef;
  reason?: string;
}

export interface SkeletonIo {
  object: AssetRef;
  kernels: KernelAsset[];
  loadRuntime?: () => Promise<{ loadObject(bytes: Uint8Array, opts: Record<string, unknown>): unknown }>;
  /** The libbpf profile load() passes to loadObject unless its caller names one. */
  libbpf?: string;
}

/** The untyped skeleton; the generated module's declarations give it its precise type. */
export function createSkeleton(model: unknown, io: SkeletonIo): unknown;

/** What load() throws for a caller's mistake: the shape of core's BtfkitError. */
export class SkeletonError extends Error {
  readonly name: 'BtfkitError';
  readonly code: 'BAD_OPTION' | 'UNSUPPORTED';
  constructor(code: 'BAD_OPTION' | 'UNSUPPORTED', message: string);
}
