/**
 * BPF iterators (`iter/task`, `iter/bpf_map`, …): an iterator link, and BPF_ITER_CREATE for
 * each pass over it; the program's bpf_seq_printf() output is what reading the pass gives.
 */
import { readSync } from 'node:fs';
import { AttachType } from '../loader/sections.ts';
import { closeFd, iterCreate, linkCreate } from '../sys/bpf.ts';
import { kernelError } from '../sys/errors.ts';
import { Link } from './attach.ts';

/** What an iterator walks, when it takes a parameter (struct bpf_iter_link_info). */
export interface IterTarget {
  /** iter/bpf_map_elem, iter/bpf_sk_storage_map: the map (fd) whose elements are walked. */
  mapFd?: number;
  /** iter/task, iter/task_file, iter/task_vma: only this thread… */
  tid?: number;
  /** …or only this process's threads. */
  pid?: number;
}

/** struct bpf_iter_link_info: union { map { u32 map_fd }; task { u32 tid, pid, pid_fd } } (16 bytes with cgroup). */
function linkInfo(t: IterTarget): Uint8Array | undefined {
  if (t.mapFd === undefined && t.tid === undefined && t.pid === undefined) return undefined;
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  const le = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  if (t.mapFd !== undefined) v.setUint32(0, t.mapFd, le);
  if (t.tid !== undefined) v.setUint32(0, t.tid, le);
  if (t.pid !== undefined) v.setUint32(4, t.pid, le);
  return b;
}

export class IterLink extends Link {
  /** One full pass of the iterator: its output bytes. */
  read(): Uint8Array {
    const fd = iterCreate(this.fd, this.target);
    try {
      const chunks: Uint8Array[] = [];
      let total = 0;
      for (;;) {
        const buf = new Uint8Array(64 * 1024);
        let n: number;
        try {
          n = readSync(fd, buf, 0, buf.length, null);
        } catch (e) {
          const errno = -((e as { errno?: number }).errno ?? 0);
          throw kernelError(`read iterator ${this.target}`, errno > 0 ? errno : 5);
        }
        if (n === 0) break;
        chunks.push(buf.subarray(0, n));
        total += n;
      }
      const out = new Uint8Array(total);
      let off = 0;
      for (const c of chunks) {
        out.set(c, off);
        off += c.length;
      }
      return out;
    } finally {
      closeFd(fd);
    }
  }

  /** One full pass of the iterator as text. */
  text(): string {
    return new TextDecoder().decode(this.read());
  }
}

export function iterLink(name: string, progFd: number, target: string, t: IterTarget = {}): IterLink {
  const fd = linkCreate(
    { progFd, attachType: AttachType.TRACE_ITER, iterInfo: linkInfo(t) },
    `iter/${target}`,
  );
  return new IterLink(name, 'iter', target, [fd]);
}
