/**
 * The few rtnetlink requests that attach a BPF program to an interface the traditional tc way
 * (what libbpf's bpf_tc_hook_create / bpf_tc_attach / bpf_tc_detach send): a clsact qdisc, and
 * a `bpf` classifier in direct-action mode on its ingress or egress hook. Unlike links, such
 * filters outlive the process; whoever attached them must delete them.
 *
 * Wire format (uapi linux/netlink.h, rtnetlink.h, pkt_sched.h, pkt_cls.h), host-endian:
 *   struct nlmsghdr { u32 len; u16 type; u16 flags; u32 seq; u32 pid; }      16 bytes
 *   struct tcmsg    { u8 family, pad1; u16 pad2; s32 ifindex; u32 handle, parent, info; } 20
 *   struct rtattr   { u16 len; u16 type; } then the payload, padded to 4 bytes
 */
import { kernelError } from './errors.ts';
import { libc } from './libc.ts';
import { NativeBuffer } from './native.ts';

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;

const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const RTM = { NEWQDISC: 36, DELQDISC: 37, NEWTFILTER: 44, DELTFILTER: 45 } as const;
const NLM_F = { REQUEST: 1, ACK: 4, ECHO: 8, EXCL: 0x200, CREATE: 0x400 } as const;

const TCA_KIND = 1;
const TCA_OPTIONS = 2;
const TCA_BPF = { FD: 6, NAME: 7, FLAGS: 8 } as const;
const TCA_BPF_FLAG_ACT_DIRECT = 1;

/** TC_H_CLSACT and its two minor hooks; the clsact qdisc's own handle is ffff:0. */
const TC_H_CLSACT = 0xfffffff1;
const CLSACT_HANDLE = 0xffff0000;
export const TcHook = { ingress: 0xfffffff2, egress: 0xfffffff3 } as const;
const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** ETH_P_ALL (3) in network byte order, as the low 16 bits of tcm_info (htons). */
const ETH_P_ALL_BE = LE ? 0x0300 : 0x0003;
const EEXIST = 17;

/** One request's bytes: header, tcmsg, attributes. */
class Message {
  private readonly parts: Uint8Array[] = [];
  constructor(
    private readonly type: number,
    private readonly flags: number,
    tc: { ifindex: number; handle: number; parent: number; info: number },
  ) {
    const t = new Uint8Array(20);
    const v = new DataView(t.buffer);
    v.setInt32(4, tc.ifindex, LE);
    v.setUint32(8, tc.handle >>> 0, LE);
    v.setUint32(12, tc.parent >>> 0, LE);
    v.setUint32(16, tc.info >>> 0, LE);
    this.parts.push(t);
  }
  static attr(type: number, payload: Uint8Array): Uint8Array {
    const len = 4 + payload.length;
    const a = new Uint8Array((len + 3) & ~3);
    const v = new DataView(a.buffer);
    v.setUint16(0, len, LE);
    v.setUint16(2, type, LE);
    a.set(payload, 4);
    return a;
  }
  add(a: Uint8Array): this {
    this.parts.push(a);
    return this;
  }
  bytes(seq: number): Uint8Array {
    const out = concat([new Uint8Array(16), ...this.parts]);
    const v = new DataView(out.buffer);
    v.setUint32(0, out.length, LE);
    v.setUint16(4, this.type, LE);
    v.setUint16(6, this.flags, LE);
    v.setUint32(8, seq, LE);
    return out;
  }
}

const cstr = (s: string): Uint8Array => new TextEncoder().encode(`${s}\0`);
const u32 = (n: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, LE);
  return b;
};

let seqNo = 1;

/**
 * Sends one request and reads until its acknowledgement. Returns the tcmsg of an echoed
 * message, if the kernel sent one; a negative errno in the acknowledgement is thrown.
 */
function request(m: Message, what: string): { handle: number; info: number } | undefined {
  const fd = libc.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) throw kernelError(`socket(AF_NETLINK) for ${what}`, libc.errno());
  const seq = seqNo++;
  const out = NativeBuffer.from(m.bytes(seq));
  const buf = new NativeBuffer(64 * 1024);
  try {
    if (libc.send(fd, out.address, out.size, 0) < 0) throw kernelError(what, libc.errno());
    let echoed: { handle: number; info: number } | undefined;
    for (;;) {
      const n = libc.recv(fd, buf.address, buf.size, 0);
      if (n < 0) throw kernelError(what, libc.errno());
      const v = buf.view;
      for (let off = 0; off + 16 <= n; ) {
        const len = v.getUint32(off, LE);
        const type = v.getUint16(off + 4, LE);
        if (len < 16) return echoed; // malformed: stop rather than loop
        if (v.getUint32(off + 8, LE) === seq) {
          if (type === NLMSG_ERROR) {
            const err = v.getInt32(off + 16, LE);
            if (err < 0) throw kernelError(what, -err);
            return echoed;
          }
          if (type === NLMSG_DONE) return echoed;
          if (type === RTM.NEWTFILTER && len >= 36)
            echoed = { handle: v.getUint32(off + 24, LE), info: v.getUint32(off + 32, LE) };
        }
        off += (len + 3) & ~3;
      }
    }
  } finally {
    out.free();
    buf.free();
    libc.close(fd);
  }
}

/** Adds a clsact qdisc to the interface; false when one is there already (not ours to remove). */
export function addClsact(ifindex: number, dev: string): boolean {
  const m = new Message(RTM.NEWQDISC, NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL, {
    ifindex,
    handle: CLSACT_HANDLE,
    parent: TC_H_CLSACT,
    info: 0,
  }).add(Message.attr(TCA_KIND, cstr('clsact')));
  try {
    request(m, `RTM_NEWQDISC clsact ${dev}`);
    return true;
  } catch (e) {
    if ((e as { errno?: number }).errno === EEXIST) return false;
    throw e;
  }
}

export function deleteClsact(ifindex: number, dev: string): void {
  const m = new Message(RTM.DELQDISC, NLM_F.REQUEST | NLM_F.ACK, {
    ifindex,
    handle: CLSACT_HANDLE,
    parent: TC_H_CLSACT,
    info: 0,
  });
  request(m, `RTM_DELQDISC clsact ${dev}`);
}

export interface TcFilter {
  ifindex: number;
  parent: number;
  handle: number;
  priority: number;
}

/**
 * A direct-action `bpf` filter running `progFd` on the hook; the kernel picks handle and
 * priority (0 asks it to) and echoes them back, which is how the filter is deleted later.
 */
export function addBpfFilter(
  ifindex: number,
  dev: string,
  hook: 'ingress' | 'egress',
  progFd: number,
  name: string,
  opts: { handle?: number; priority?: number } = {},
): TcFilter {
  const parent = TcHook[hook];
  const priority = opts.priority ?? 0;
  const options = Message.attr(
    TCA_OPTIONS,
    concat([
      Message.attr(TCA_BPF.FD, u32(progFd)),
      Message.attr(TCA_BPF.NAME, cstr(name)),
      Message.attr(TCA_BPF.FLAGS, u32(TCA_BPF_FLAG_ACT_DIRECT)),
    ]),
  );
  const m = new Message(RTM.NEWTFILTER, NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL | NLM_F.ECHO, {
    ifindex,
    handle: opts.handle ?? 0,
    parent,
    info: ((priority << 16) | ETH_P_ALL_BE) >>> 0,
  })
    .add(Message.attr(TCA_KIND, cstr('bpf')))
    .add(options);
  const echoed = request(m, `RTM_NEWTFILTER bpf ${dev} ${hook}`);
  return {
    ifindex,
    parent,
    handle: echoed?.handle ?? opts.handle ?? 0,
    priority: echoed ? echoed.info >>> 16 : priority,
  };
}

export function deleteBpfFilter(f: TcFilter, dev: string): void {
  const m = new Message(RTM.DELTFILTER, NLM_F.REQUEST | NLM_F.ACK, {
    ifindex: f.ifindex,
    handle: f.handle,
    parent: f.parent,
    info: ((f.priority << 16) | ETH_P_ALL_BE) >>> 0,
  }).add(Message.attr(TCA_KIND, cstr('bpf')));
  request(m, `RTM_DELTFILTER bpf ${dev}`);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
