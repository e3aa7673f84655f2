/**
 * `--kernels a b c`: the values after --kernels (or each `--kernels=X`), taken out of the
 * arguments before parseArgs sees them, since parseArgs gives an option one value only.
 * Values run up to the first argument `endsKernels` accepts (by default, the next option).
 */
export function splitKernelArgs(
  args: string[],
  endsKernels: (arg: string) => boolean = (a) => a.startsWith('-'),
): { rest: string[]; kernels: string[] } {
  const rest: string[] = [];
  const kernels: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--kernels') {
      while (i + 1 < args.length && !endsKernels(args[i + 1] as string)) kernels.push(args[++i] as string);
      continue;
    }
    if (a.startsWith('--kernels=')) {
      kernels.push(a.slice('--kernels='.length));
      continue;
    }
    rest.push(a);
  }
  return { rest, kernels };
}
