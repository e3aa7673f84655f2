import { readFileHead } from '../kernels/file-head.ts';

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

/** ELF e_machine of BPF objects. */
const EM_BPF = 247;

/**
 * The arguments that are BPF objects (ELF, e_machine EM_BPF), by their first 20 bytes: a
 * kernel list that ran over an object not named `*.o` took it for a kernel, and the user
 * should hear which file it was.
 */
export function bpfObjectsAmong(args: readonly string[]): string[] {
  return args.filter((path) => {
    const head = readFileHead(path, 20);
    if (head === undefined) return false;
    if (head.length < 20 || head[0] !== 0x7f || head[1] !== 0x45 || head[2] !== 0x4c || head[3] !== 0x46)
      return false;
    const machine =
      head[5] === 2
        ? ((head[18] as number) << 8) | (head[19] as number)
        : (head[18] as number) | ((head[19] as number) << 8);
    return machine === EM_BPF;
  });
}
