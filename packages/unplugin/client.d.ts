// Ambient types for BPF object imports. Add "unplugin-btfkit/client" to tsconfig "types"; for
// exact per-object types, turn on the plugin's `dts` option and `allowArbitraryExtensions`.
declare module '*.bpf.o' {
  const skeleton: import('unplugin-btfkit/types').Skeleton;
  export default skeleton;
}
declare module '*.bpf.c' {
  const skeleton: import('unplugin-btfkit/types').Skeleton;
  export default skeleton;
}
