/**
 * BPF instructions for the loader: core's one instruction model (insn/), re-exported so the
 * loader's modules keep one import site.
 */
export { CALL_CODE, EXIT_CODE, INSN_SIZE, Insns, POISON_HELPER, Pseudo } from '../deps.ts';
