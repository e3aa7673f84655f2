/**
 * Holding back the profiler's signal while the verifier runs.
 *
 * The verifier checks for pending signals as it walks a program and gives up with EAGAIN when
 * one is pending. libbpf answers by trying the load again, five times, without a pause; so
 * does progLoad(). That covers a stray signal, but not a periodic one: V8's CPU profiler
 * (`node --cpu-prof`, the inspector's profiler, clinic, 0x) sends the thread SIGPROF every
 * sampling interval (1 ms by default, 250 µs asked for often), and a program whose
 * verification takes longer than that is interrupted on every attempt: execsnoop.bpf.o failed
 * all five under `--cpu-prof-interval 250` here. With SIGPROF blocked on this thread for the
 * duration of the call, the kernel does not count it as pending for this task; the profiler's
 * sample is delivered when the mask is restored (one sample late, not lost), and every other
 * signal (Ctrl-C included) still cuts in as before and is retried.
 */
import { koffi } from './libc.ts';
import { NativeBuffer } from './native.ts';

const lib = koffi.load('libc.so.6');
const sigemptyset = lib.func('int sigemptyset(uint64_t set)') as unknown as (set: bigint) => number;
const sigaddset = lib.func('int sigaddset(uint64_t set, int signo)') as unknown as (
  set: bigint,
  signo: number,
) => number;
const pthreadSigmask = lib.func('int pthread_sigmask(int how, uint64_t set, uint64_t oldset)') as unknown as (
  how: number,
  set: bigint,
  oldset: bigint,
) => number;

/** <signal.h>: SIG_BLOCK and SIG_SETMASK, the same on every Linux ABI glibc supports. */
const SIG_BLOCK = 0;
const SIG_SETMASK = 2;
/** SIGPROF: 27 on every architecture libc.ts supports (MIPS and alpha, which it does not, differ). */
const SIGPROF = 27;
/** glibc's sigset_t is 1024 bits; sigemptyset/sigaddset fill it, so its layout stays libc's business. */
const SIGSET_BYTES = 128;

let profSet: NativeBuffer | undefined;
let saved: NativeBuffer | undefined;

/**
 * Runs `fn` with SIGPROF blocked on the calling thread, then restores the thread's mask as it
 * was (a caller that had blocked it keeps it blocked). Not reentrant: `fn` is one syscall.
 */
export function withoutProfilerSignal<T>(fn: () => T): T {
  if (!profSet || !saved) {
    profSet = new NativeBuffer(SIGSET_BYTES);
    saved = new NativeBuffer(SIGSET_BYTES);
    sigemptyset(profSet.address);
    sigaddset(profSet.address, SIGPROF);
  }
  // pthread_sigmask fails only for a bad `how`; if it ever did, the load runs unprotected.
  const blocked = pthreadSigmask(SIG_BLOCK, profSet.address, saved.address) === 0;
  try {
    return fn();
  } finally {
    if (blocked) pthreadSigmask(SIG_SETMASK, saved.address, 0n);
  }
}
