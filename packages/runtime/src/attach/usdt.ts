/**
 * USDT probes (systemtap's <sys/sdt.h> `.note.stapsdt` notes) the way libbpf attaches them for
 * usdt.bpf.h: each note of the wanted provider:name becomes one argument spec in the object's
 * `__bpf_usdt_specs` map, and a uprobe at the note's file offset whose attach cookie is that
 * spec's id (usdt.bpf.h reads it with bpf_get_attach_cookie when LINUX_HAS_BPF_COOKIE). A
 * note's semaphore, if any, is the uprobe's reference counter (ref_ctr_offset), which the
 * kernel raises while the probe is attached.
 */
import { readFileSync } from 'node:fs';
import { arch } from 'node:os';
import { errors, inFile, parseElf } from '../deps.ts';
import { hasBpfCookie } from '../loader/kernel-features.ts';
import { mapUpdate } from '../sys/bpf.ts';
import { NativeBuffer } from '../sys/native.ts';
import { type Link, uprobeLink } from './attach.ts';
import { resolveBinaryPath } from './binary-path.ts';

export interface UsdtNote {
  provider: string;
  name: string;
  /** The probe's address after prelink adjustment (.stapsdt.base), and its file offset. */
  ip: number;
  fileOffset: number;
  /** The semaphore's file offset (0: none). */
  semaphoreOffset: number;
  /** The argument text, e.g. "-4@%edi 8@-16(%rbp) 4@$3". */
  args: string;
}

const NT_STAPSDT = 3;
const PT_LOAD = 1;
const PF_X = 1;

interface Segment {
  vaddr: number;
  memsz: number;
  offset: number;
  exec: boolean;
}

/** PT_LOAD program headers of a 64-bit ELF (e_phoff @32, e_phentsize @54, e_phnum @56). */
function loadSegments(bytes: Uint8Array, le: boolean): Segment[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 64 || bytes[4] !== 2) throw errors.badElf(4, 'USDT probes need a 64-bit ELF file');
  const phoff = Number(v.getBigUint64(32, le));
  const entsize = v.getUint16(54, le);
  const count = v.getUint16(56, le);
  if (entsize < 56 || phoff + entsize * count > bytes.length)
    throw errors.badElf(
      32,
      `program headers (${count} of ${entsize} bytes at ${phoff}) run past the file's end`,
    );
  const out: Segment[] = [];
  for (let i = 0; i < count; i++) {
    const o = phoff + i * entsize;
    if (v.getUint32(o, le) !== PT_LOAD) continue;
    out.push({
      exec: (v.getUint32(o + 4, le) & PF_X) !== 0,
      offset: Number(v.getBigUint64(o + 8, le)),
      vaddr: Number(v.getBigUint64(o + 16, le)),
      memsz: Number(v.getBigUint64(o + 40, le)),
    });
  }
  return out;
}

function toFileOffset(segs: Segment[], addr: number, exec: boolean, what: string): number {
  const s = segs.find((g) => (!exec || g.exec) && addr >= g.vaddr && addr < g.vaddr + g.memsz);
  if (!s)
    throw errors.badElf(
      0,
      `${what} at 0x${addr.toString(16)} is in no loadable${exec ? ' executable' : ''} segment`,
    );
  return addr - s.vaddr + s.offset;
}

/** Every USDT note of the ELF file at `path`. */
export function readUsdtNotes(path: string): UsdtNote[] {
  const bytes = new Uint8Array(readFileSync(path));
  return inFile(path, () => {
    const elf = parseElf(bytes, path);
    const le = elf.littleEndian;
    const sec = elf.section('.note.stapsdt');
    if (!sec) return [];
    const base = elf.section('.stapsdt.base');
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const baseAddr = base ? Number(v.getBigUint64(base.headerOffset + 16, le)) : 0; // sh_addr
    const segs = loadSegments(bytes, le);
    const d = sec.data;
    const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
    const align4 = (n: number) => (n + 3) & ~3;
    const out: UsdtNote[] = [];
    for (let off = 0; off + 12 <= d.length; ) {
      const namesz = dv.getUint32(off, le);
      const descsz = dv.getUint32(off + 4, le);
      const type = dv.getUint32(off + 8, le);
      const descOff = off + 12 + align4(namesz);
      const next = descOff + align4(descsz);
      if (next > d.length)
        throw errors.badElf(sec.offset + off, 'a .note.stapsdt note runs past its section');
      const owner = new TextDecoder().decode(d.subarray(off + 12, off + 12 + namesz)).replace(/\0+$/, '');
      if (type === NT_STAPSDT && owner === 'stapsdt') {
        if (descsz < 24)
          throw errors.badElf(sec.offset + descOff, `a stapsdt note's description is ${descsz} bytes`);
        const pc = Number(dv.getBigUint64(descOff, le));
        const noteBase = Number(dv.getBigUint64(descOff + 8, le));
        const sema = Number(dv.getBigUint64(descOff + 16, le));
        const [provider = '', name = '', args = ''] = new TextDecoder()
          .decode(d.subarray(descOff + 24, descOff + descsz))
          .split('\0');
        const ip = baseAddr && noteBase ? pc + baseAddr - noteBase : pc;
        out.push({
          provider,
          name,
          ip,
          fileOffset: toFileOffset(segs, ip, true, `USDT ${provider}:${name}`),
          semaphoreOffset: sema ? toFileOffset(segs, sema, false, `the semaphore of ${provider}:${name}`) : 0,
          args,
        });
      }
      off = next;
    }
    return out;
  });
}

/** enum __bpf_usdt_arg_type (usdt.bpf.h). */
export const UsdtArgType = { CONST: 0, REG: 1, REG_DEREF: 2 } as const;

export interface UsdtArg {
  type: number;
  /** CONST: the value; REG_DEREF: the offset from the register. */
  valOff: bigint;
  /** offsetof(struct pt_regs, reg). */
  regOff: number;
  signed: boolean;
  bitshift: number;
}

/** x86-64 `struct pt_regs` (arch/x86/include/asm/ptrace.h): 8-byte slots in this order. */
const X64_REGS = [
  'r15',
  'r14',
  'r13',
  'r12',
  'bp',
  'bx',
  'r11',
  'r10',
  'r9',
  'r8',
  'ax',
  'cx',
  'dx',
  'si',
  'di',
  'orig_ax',
  'ip',
  'cs',
  'flags',
  'sp',
  'ss',
];

/** The pt_regs slot of an x86-64 register name in any of its widths (rax, eax, ax, al; r8d…). */
function x64RegOffset(reg: string, spec: string): number {
  let slot = reg;
  const m = /^r(\d+)[dwb]?$/.exec(reg);
  if (m) slot = `r${m[1]}`;
  else {
    const legacy: Record<string, string> = {
      rip: 'ip',
      eip: 'ip',
      rax: 'ax',
      eax: 'ax',
      ax: 'ax',
      al: 'ax',
      rbx: 'bx',
      ebx: 'bx',
      bx: 'bx',
      bl: 'bx',
      rcx: 'cx',
      ecx: 'cx',
      cx: 'cx',
      cl: 'cx',
      rdx: 'dx',
      edx: 'dx',
      dx: 'dx',
      dl: 'dx',
      rsi: 'si',
      esi: 'si',
      si: 'si',
      sil: 'si',
      rdi: 'di',
      edi: 'di',
      di: 'di',
      dil: 'di',
      rbp: 'bp',
      ebp: 'bp',
      bp: 'bp',
      bpl: 'bp',
      rsp: 'sp',
      esp: 'sp',
      sp: 'sp',
      spl: 'sp',
    };
    slot = legacy[reg] ?? '';
  }
  const i = X64_REGS.indexOf(slot);
  if (i < 0) throw errors.unsupported(`USDT argument '${spec}': unknown register %${reg}`);
  return i * 8;
}

/** Parses a note's argument text into libbpf's arg specs (x86-64 syntax). */
export function parseUsdtArgs(text: string): UsdtArg[] {
  const specs = text.trim() === '' ? [] : text.trim().split(/\s+/);
  if (specs.length > 12) throw errors.unsupported(`USDT has ${specs.length} arguments; usdt.bpf.h takes 12`);
  if (specs.length > 0 && arch() !== 'x64')
    throw errors.unsupported(`USDT arguments are parsed for x86-64 only, not ${arch()}`);
  return specs.map((spec) => {
    const m = /^(-?\d+)@(.+)$/.exec(spec);
    if (!m) throw errors.unsupported(`USDT argument '${spec}' is not SIZE@LOCATION`);
    const size = Number(m[1]);
    const loc = m[2] as string;
    if (![1, 2, 4, 8].includes(Math.abs(size)))
      throw errors.unsupported(`USDT argument '${spec}': size ${size}`);
    const common = { signed: size < 0, bitshift: 64 - Math.abs(size) * 8 };
    let r: RegExpExecArray | null = /^\$(-?\d+)$/.exec(loc);
    if (r) return { type: UsdtArgType.CONST, valOff: BigInt(r[1] as string), regOff: 0, ...common };
    r = /^%(\w+)$/.exec(loc);
    if (r)
      return { type: UsdtArgType.REG, valOff: 0n, regOff: x64RegOffset(r[1] as string, spec), ...common };
    r = /^(-?\d+)?\(%(\w+)\)$/.exec(loc);
    if (r) {
      const off = BigInt(r[1] ?? '0');
      return {
        type: UsdtArgType.REG_DEREF,
        valOff: off,
        regOff: x64RegOffset(r[2] as string, spec),
        ...common,
      };
    }
    throw errors.unsupported(`USDT argument '${spec}': location '${loc}' is not supported`);
  });
}

/** struct __bpf_usdt_spec (usdt.bpf.h): 12 arg specs of 16 bytes, u64 usdt_cookie, short arg_cnt. */
export const USDT_SPEC_SIZE = 208;

export function encodeUsdtSpec(args: UsdtArg[], cookie: bigint): Uint8Array {
  const out = new Uint8Array(USDT_SPEC_SIZE);
  const v = new DataView(out.buffer);
  args.forEach((a, i) => {
    const o = i * 16;
    v.setBigUint64(o, BigInt.asUintN(64, a.valOff), true);
    v.setUint32(o + 8, a.type, true);
    v.setInt16(o + 12, a.regOff, true);
    v.setUint8(o + 14, a.signed ? 1 : 0);
    v.setInt8(o + 15, a.bitshift);
  });
  v.setBigUint64(192, BigInt.asUintN(64, cookie), true);
  v.setInt16(200, args.length, true);
  return out;
}

/** Where each spec goes: the object's `__bpf_usdt_specs` map, and its next free id. */
export interface UsdtSpecTable {
  fd: number;
  capacity: number;
  next: number;
}

/**
 * Attaches program `name` to every note `provider:probe` of `binary` (a `binary:provider:probe`
 * target, as libbpf's SEC("usdt/…") writes it): one spec and one uprobe link per note.
 */
export function attachUsdt(
  name: string,
  progFd: number,
  target: string,
  opts: { pid?: number; cookie?: bigint | number },
  specs: UsdtSpecTable | undefined,
): Link[] {
  const parts = target.split(':');
  if (parts.length < 3)
    throw errors.badOption(`program '${name}': USDT target '${target}' must be binary:provider:name`);
  const probe = parts.pop() as string;
  const provider = parts.pop() as string;
  const binary = resolveBinaryPath(parts.join(':'));
  if (!specs)
    throw errors.badOption(
      `program '${name}': the object has no __bpf_usdt_specs map (include <bpf/usdt.bpf.h>)`,
    );
  if (!hasBpfCookie())
    throw errors.unsupported(
      `program '${name}': this kernel has no BPF cookies; USDT through the ip-to-spec-id map is not supported`,
    );
  const notes = readUsdtNotes(binary).filter((n) => n.provider === provider && n.name === probe);
  if (notes.length === 0)
    throw errors.notFound(binary, `no USDT probe ${provider}:${probe} in its .note.stapsdt`);
  const links: Link[] = [];
  try {
    for (const note of notes) {
      if (specs.next >= specs.capacity)
        throw errors.unsupported(`more than ${specs.capacity} USDT attachments (BPF_USDT_MAX_SPEC_CNT)`);
      const id = specs.next++;
      const key = new NativeBuffer(4);
      const value = NativeBuffer.from(encodeUsdtSpec(parseUsdtArgs(note.args), BigInt(opts.cookie ?? 0)));
      try {
        key.view.setUint32(0, id, true);
        mapUpdate(specs.fd, key.address, value.address);
      } finally {
        key.free();
        value.free();
      }
      links.push(
        uprobeLink(name, 'usdt', `${binary}:${provider}:${probe}`, progFd, {
          path: binary,
          offset: note.fileOffset,
          refCtrOffset: note.semaphoreOffset,
          pid: opts.pid,
          cookie: BigInt(id),
        }),
      );
    }
  } catch (e) {
    for (const l of links) l.destroy();
    throw e;
  }
  return links;
}
