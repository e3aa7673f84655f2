// XDP and tcx links on the running kernel: a veth pair whose one end sits in a network
// namespace made here, the other in ours with the programs of
// test/fixtures/runtime-attach/netdev.bpf.c attached. Datagrams sent from inside the namespace
// (python3 via `ip netns exec`) must be counted by each attached program, reach our socket or
// be dropped as the program says, and stop being counted once its link is gone. bpftool
// lists the links while they exist.
import { execFileSync } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BpfMap, type Link, type LoadedObject, loadObject } from '../packages/runtime/src/index.ts';
import { kernelVersionCode } from '../packages/runtime/src/loader/kconfig.ts';
import { compileBpf } from './fixtures/clang.ts';

const work = mkdtempSync(join(tmpdir(), 'btfkit-netdev-'));
const ns = `btfkit-nd-${process.pid}`;
const host = `bkn${process.pid}a`;
const peer = `bkn${process.pid}b`;
// A /30 of 198.18.0.0/15 (RFC 2544, benchmarking) per test process: ours, so any port is free.
const subnet = ((198 << 24) | (18 << 16)) + (process.pid % 32768) * 4;
const ip = (n: number): string => [24, 16, 8, 0].map((s) => ((n >>> s) & 255).toString()).join('.');
const hostIp = ip(subnet + 1);
const peerIp = ip(subnet + 2);
const COUNT_PORT = 5555;
const DROP_PORT = 5556;
const XDP_SEEN = 0;
const TCX_SEEN = 1;

type Programs = 'xdp_count' | 'tcx_count';
let obj: LoadedObject<Record<string, BpfMap>, Programs>;
const received = new Map<number, number>();
const sockets: Socket[] = [];

const sh = (cmd: string, ...args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8' });

/** Sends `n` one-byte UDP datagrams from inside the namespace to our end, port `port`. */
function sendFromNs(port: number, n: number): void {
  sh(
    'ip',
    'netns',
    'exec',
    ns,
    'python3',
    '-c',
    'import socket, sys\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n' +
      'for _ in range(int(sys.argv[3])): s.sendto(b"x", (sys.argv[1], int(sys.argv[2])))',
    hostIp,
    String(port),
    String(n),
  );
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

const count = (slot: number): number => Number(obj.maps.counts?.lookup(slot) ?? -1);
const got = (port: number): number => received.get(port) ?? 0;

interface BpftoolLink {
  id: number;
  type: string | number;
  prog_id: number;
  ifindex?: number;
}
const links = (): BpftoolLink[] => JSON.parse(sh('bpftool', '-j', 'link', 'show')) as BpftoolLink[];

beforeAll(async () => {
  sh('ip', 'netns', 'add', ns);
  sh('ip', 'link', 'add', host, 'type', 'veth', 'peer', 'name', peer, 'netns', ns);
  sh('ip', 'addr', 'add', `${hostIp}/30`, 'dev', host);
  sh('ip', 'link', 'set', host, 'up');
  sh('ip', '-n', ns, 'addr', 'add', `${peerIp}/30`, 'dev', peer);
  sh('ip', '-n', ns, 'link', 'set', peer, 'up');
  for (const port of [COUNT_PORT, DROP_PORT]) {
    const s = createSocket('udp4');
    s.on('message', () => received.set(port, got(port) + 1));
    await new Promise<void>((res) => s.bind(port, hostIp, res));
    sockets.push(s);
  }
  const o = compileBpf(
    join(import.meta.dirname, 'fixtures/runtime-attach/netdev.bpf.c'),
    join(work, 'netdev.bpf.o'),
  );
  obj = (await loadObject(new Uint8Array(readFileSync(o)), {
    file: 'netdev.bpf.o',
    globals: { rodata: { count_port: COUNT_PORT, drop_port: DROP_PORT } },
  })) as typeof obj;
});

afterAll(async () => {
  await obj?.close();
  for (const s of sockets) s.close();
  // Deleting the namespace deletes its veth end, and with it ours.
  try {
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  } catch {
    // Never created (beforeAll failed before): nothing to remove.
  }
  rmSync(work, { recursive: true, force: true });
});

describe('XDP and tcx links on a veth in a network namespace', () => {
  let xdp: Link;
  let tcx: Link;
  /** The XDP program iproute2 sees on our end of the veth (its id), if any. */
  const xdpOnHost = (): number | undefined =>
    (
      JSON.parse(sh('ip', '-j', '-d', 'link', 'show', 'dev', host)) as { xdp?: { prog?: { id: number } } }[]
    )[0]?.xdp?.prog?.id;

  it('attaches XDP by interface name; bpftool lists the link, iproute2 the program on the interface', async () => {
    [xdp] = (await obj.attach({ programs: { xdp_count: { target: host }, tcx_count: false } })) as [Link];
    expect(xdp.kind).toBe('xdp');
    const l = links().find((k) => k.prog_id === obj.programs.xdp_count.id);
    expect(l?.type).toBe('xdp');
    expect(xdpOnHost()).toBe(obj.programs.xdp_count.id);
  });

  it('counts the datagrams that cross the interface, and drops what it says', async () => {
    sendFromNs(COUNT_PORT, 5);
    await until(() => got(COUNT_PORT) >= 5);
    expect(got(COUNT_PORT)).toBe(5);
    expect(count(XDP_SEEN)).toBe(5);
    // Dropped ones never reach the socket; a datagram sent after them shows they had their turn.
    sendFromNs(DROP_PORT, 3);
    sendFromNs(COUNT_PORT, 1);
    await until(() => got(COUNT_PORT) >= 6);
    expect(got(COUNT_PORT)).toBe(6);
    expect(got(DROP_PORT)).toBe(0);
    expect(count(XDP_SEEN)).toBe(6);
  });

  it('attaches tc through a tcx link on the same interface (kernel 6.6+; netlink before)', async () => {
    [tcx] = (await obj.attach({ programs: { xdp_count: false, tcx_count: { target: host } } })) as [Link];
    if (kernelVersionCode() < (6 << 16) + (6 << 8)) {
      // The kernel refuses the tcx attach type with EINVAL: the filter goes on clsact by netlink.
      expect(tcx.kind).toBe('tc/ingress');
      expect(sh('tc', 'filter', 'show', 'dev', host, 'ingress')).toContain(
        ` id ${obj.programs.tcx_count.id} `,
      );
    } else {
      expect(tcx.kind).toBe('tcx/ingress');
      expect(links().some((k) => k.prog_id === obj.programs.tcx_count.id)).toBe(true); // bpftool 7.1 predates tcx: the type prints as a number
    }
    sendFromNs(COUNT_PORT, 4);
    await until(() => got(COUNT_PORT) >= 10);
    expect(got(COUNT_PORT)).toBe(10);
    expect([count(XDP_SEEN), count(TCX_SEEN)]).toEqual([10, 4]);

    // Without XDP, tc alone sees (and drops) what arrives.
    xdp.destroy();
    expect(links().some((k) => k.prog_id === obj.programs.xdp_count.id)).toBe(false);
    expect(xdpOnHost()).toBeUndefined();
    sendFromNs(DROP_PORT, 2);
    sendFromNs(COUNT_PORT, 2);
    await until(() => got(COUNT_PORT) >= 12);
    expect(got(COUNT_PORT)).toBe(12);
    expect(got(DROP_PORT)).toBe(0);
    expect([count(XDP_SEEN), count(TCX_SEEN)]).toEqual([10, 6]);
  });

  it("attaches tc the netlink way, as libbpf's bpf_tc_attach: a direct-action filter on clsact", async () => {
    tcx.destroy();
    const seen = count(TCX_SEEN);
    const [tc] = (await obj.attach({
      programs: { xdp_count: false, tcx_count: { target: host, tcMode: 'netlink' } },
    })) as [Link];
    expect(tc.kind).toBe('tc/ingress');
    // iproute2's own view: the clsact qdisc and our program as a direct-action bpf filter.
    expect(sh('tc', 'qdisc', 'show', 'dev', host)).toMatch(/qdisc clsact ffff: parent ffff:fff1/);
    expect(sh('tc', 'filter', 'show', 'dev', host, 'ingress')).toMatch(
      new RegExp(
        `filter protocol all pref \\d+ bpf chain 0 handle 0x[0-9a-f]+ tcx_count direct-action .*id ${obj.programs.tcx_count.id} `,
      ),
    );
    sendFromNs(DROP_PORT, 2);
    sendFromNs(COUNT_PORT, 3);
    await until(() => got(COUNT_PORT) >= 15);
    expect(got(COUNT_PORT)).toBe(15);
    expect(got(DROP_PORT)).toBe(0);
    expect(count(TCX_SEEN)).toBe(seen + 3);
    // Destroyed: the filter and the qdisc this link made are gone, and nothing counts.
    tc.destroy();
    expect(sh('tc', 'filter', 'show', 'dev', host, 'ingress')).toBe('');
    expect(sh('tc', 'qdisc', 'show', 'dev', host)).not.toContain('clsact');
    sendFromNs(COUNT_PORT, 1);
    await until(() => got(COUNT_PORT) >= 16);
    expect(count(TCX_SEEN)).toBe(seen + 3);
  });

  it('says which interface is missing', async () => {
    await expect(
      obj.attach({ programs: { xdp_count: { target: 'btfkit-none0' }, tcx_count: false } }),
    ).rejects.toThrow(
      "program 'xdp_count': no network interface 'btfkit-none0' in this process's network namespace",
    );
  });

  it('detaches everything on close', async () => {
    const ids = [obj.programs.xdp_count.id, obj.programs.tcx_count.id];
    await obj.close();
    expect(links().filter((k) => ids.includes(k.prog_id))).toEqual([]);
    sendFromNs(COUNT_PORT, 1);
    await until(() => got(COUNT_PORT) >= 17);
    expect(got(COUNT_PORT)).toBe(17);
  });
});
