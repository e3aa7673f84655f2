/**
 * Which kernels were built without in-kernel BTF (`CONFIG_DEBUG_INFO_BTF=n`), as the user
 * says with `btfkit compat --without-btf PAT` or the plugin's `withoutBtf`: a kernel matches
 * when its release or its path contains a pattern; `all` matches every kernel (the case of a
 * btfhub archive, which only carries such kernels).
 */
export function builtWithoutBtf(
  patterns: readonly string[],
  kernel: { release: string; path: string },
): boolean {
  return patterns.some((p) => p === 'all' || kernel.release.includes(p) || kernel.path.includes(p));
}
