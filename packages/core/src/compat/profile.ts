/**
 * What the verifier of one kernel version tracks, for the rules where versions differ. Each
 * flag names the kernel release that brought the behaviour (from the kernel's history of
 * kernel/bpf/verifier.c); a kernel whose release cannot be parsed gets the oldest behaviour,
 * which makes the analysis know less, never more, than the verifier.
 */
export interface VerifierProfile {
  /** `major.minor` of the kernel, or undefined when its release is not known. */
  version?: [number, number];
  /** 5.16: a 1/2/4-byte spill of a scalar to the start of a slot is restored by a fill of that size. */
  narrowSpill: boolean;
  /** 6.3: BPF_ST_MEM (store immediate) to the stack records the constant, like a spill. */
  storeImm: boolean;
  /** 6.8: a narrower fill of a spilled scalar gives its low bytes (coerced to the fill size). */
  narrowFill: boolean;
  /** 6.8: `!=` against a constant moves an end of the compared register's range. */
  neNarrowsEnds: boolean;
  /**
   * Before 6.8 every global (non-static) subprogram of the program is verified on its own,
   * whether its call is reachable or not; since then only those whose call is reached.
   */
  eagerGlobals: boolean;
  /** NEG and BPF_END (byte swaps) of a known constant give that constant's result. */
  foldNegEnd: boolean;
}

/** `major.minor` from a release string ("6.1.0-47-amd64", "5.10.0-32-cloud-amd64"). */
export function parseRelease(release: string): [number, number, number] | undefined {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release);
  if (!m) return undefined;
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
}

const atLeast = (v: [number, number] | undefined, major: number, minor: number): boolean =>
  v !== undefined && (v[0] > major || (v[0] === major && v[1] >= minor));

export function verifierProfile(release: string | undefined): VerifierProfile {
  const r = release ? parseRelease(release) : undefined;
  const version: [number, number] | undefined = r ? [r[0], r[1]] : undefined;
  return {
    version,
    narrowSpill: atLeast(version, 5, 16),
    storeImm: atLeast(version, 6, 3),
    narrowFill: atLeast(version, 6, 8),
    neNarrowsEnds: atLeast(version, 6, 8),
    eagerGlobals: !atLeast(version, 6, 8),
    // Observed on 6.18 (test/compat-rules.test.ts); no earlier kernel is claimed.
    foldNegEnd: atLeast(version, 6, 18),
  };
}

/** A short key: kernels with the same profile share reachability walks. */
export const profileKey = (p: VerifierProfile): string =>
  [p.narrowSpill, p.storeImm, p.narrowFill, p.neNarrowsEnds, p.eagerGlobals, p.foldNegEnd]
    .map((b) => (b ? 1 : 0))
    .join('');
