// cgroup programs on the running kernel, through BPF links on a cgroup v2 directory made
// here: test/fixtures/runtime-attach/cgroup.bpf.c. A python3 child moves itself into the
// directory and exercises sockets; the same script run outside the cgroup is the control.
// What the programs do must show in the child's results (connects redirected or refused, a
// socket refused, a socket option answered or refused) and in their counters.
import { execFileSync, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BpfMap, type LoadedObject, loadObject } from '../packages/runtime/src/index.ts';
import { compileBpf } from './fixtures/clang.ts';

const work = mkdtempSync(join(tmpdir(), 'btfkit-cgroup-'));
const SLOT = { EGRESS: 0, INGRESS: 1, SOCKETS: 2, CONNECTS: 3 };
const DATAGRAMS = 7;

type Programs =
  | 'skb_egress'
  | 'skb_ingress'
  | 'sock_create'
  | 'connect4'
  | 'connect6'
  | 'getsockopt'
  | 'setsockopt';
let obj: LoadedObject<Record<string, BpfMap>, Programs>;
let root = '';
let mountedHere = false;
let cgroup = '';
const servers: Server[] = [];
let serverPort = 0;
let udpPort = 0;

/** The cgroup v2 hierarchy: where the system mounts it (unified or hybrid), else mounted here. */
function cgroup2Root(): string {
  for (const line of readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
    const [, dir, type] = line.split(' ');
    if (type === 'cgroup2' && dir) return dir;
  }
  const dir = join(work, 'cgroup2');
  mkdirSync(dir);
  execFileSync('mount', ['-t', 'cgroup2', 'none', dir]);
  mountedHere = true;
  return dir;
}

// Each step prints a result; errors print their errno name.
const SCRIPT = `
import errno, json, socket, sys
server_port, udp_port, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
r = {}
def attempt(key, fn):
    try:
        r[key] = fn()
    except OSError as e:
        r[key] = errno.errorcode.get(e.errno, str(e.errno)) if e.errno else type(e).__name__
def talk(family, addr):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(1.5)
    s.connect(addr)
    s.sendall(b'hi')
    data = s.recv(64).decode()
    s.close()
    return data
attempt('v4', lambda: talk(socket.AF_INET, ('198.51.100.7', 9)))
attempt('v6', lambda: talk(socket.AF_INET6, ('2001:db8::7', 9)))
attempt('refused', lambda: talk(socket.AF_INET, ('198.51.100.7', 1)))
attempt('udp6', lambda: socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) and 'created')
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
attempt('priority', lambda: s.getsockopt(socket.SOL_SOCKET, socket.SO_PRIORITY))
attempt('mark', lambda: s.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, 5) or 'set')
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(('127.0.0.1', udp_port))
u.settimeout(2)
for _ in range(n):
    u.sendto(b'x', ('127.0.0.1', udp_port))
got = 0
for _ in range(n):
    u.recv(16)
    got += 1
r['looped'] = got
print(json.dumps(r))
`;

/** Runs the script, inside `dir`'s cgroup when given; its JSON result. */
function exercise(dir?: string): Promise<Record<string, unknown>> {
  const args = [String(serverPort), String(udpPort), String(DATAGRAMS)];
  // The shell moves itself into the cgroup, then becomes python3: every socket is made inside.
  const cmd = dir
    ? `echo $$ > ${dir}/cgroup.procs && exec python3 -c "$0" "$@"`
    : 'exec python3 -c "$0" "$@"';
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', cmd, SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`exercise exited ${code}: ${err}`));
      else resolve(JSON.parse(out) as Record<string, unknown>);
    });
  });
}

/** An echo server on `host`, answering "ok:" and what it got. */
function listen(host: string, port: number): Promise<number> {
  const srv = createServer((c) => c.on('data', (d) => c.end(`ok:${d}`)));
  servers.push(srv);
  return new Promise((res, rej) => {
    srv.once('error', rej);
    srv.listen(port, host, () => res((srv.address() as { port: number }).port));
  });
}

/** A UDP port free right now on 127.0.0.1. */
function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  return new Promise((res) =>
    s.bind(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => res(p));
    }),
  );
}

const count = (slot: number): number => Number(obj.maps.counts?.lookup(slot) ?? -1);

beforeAll(async () => {
  root = cgroup2Root();
  cgroup = join(root, `btfkit-test-${process.pid}`);
  mkdirSync(cgroup);
  serverPort = await listen('127.0.0.1', 0);
  await listen('::1', serverPort);
  udpPort = await freeUdpPort();
  const o = compileBpf(
    join(import.meta.dirname, 'fixtures/runtime-attach/cgroup.bpf.c'),
    join(work, 'cgroup.bpf.o'),
  );
  obj = (await loadObject(new Uint8Array(readFileSync(o)), {
    file: 'cgroup.bpf.o',
    globals: { rodata: { udp_port: udpPort, server_port: serverPort } },
  })) as typeof obj;
});

afterAll(async () => {
  await obj?.close();
  for (const s of servers) s.close();
  // The cgroup empties once its processes are reaped; removal can lag them by a moment.
  for (let i = 0; i < 50 && cgroup; i++) {
    try {
      rmdirSync(cgroup);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  if (mountedHere) execFileSync('umount', [join(work, 'cgroup2')]);
  rmSync(work, { recursive: true, force: true });
});

describe('cgroup programs through links on a cgroup v2 directory', () => {
  let control: Record<string, unknown>;

  it('control: without the programs, the script sees the plain kernel', async () => {
    control = await exercise(cgroup);
    for (const key of ['v4', 'v6', 'refused']) expect(control[key]).not.toMatch(/^ok:|^EPERM$/);
    expect(control.udp6).toBe('created');
    expect(control.priority).toBe(0);
    expect(control.mark).toBe('set');
    expect(control.looped).toBe(DATAGRAMS);
  });

  it('attaches every program to the directory; bpftool lists each link on that cgroup', async () => {
    const on = { target: cgroup };
    const made = await obj.attach({
      programs: {
        skb_egress: on,
        skb_ingress: on,
        sock_create: on,
        connect4: on,
        connect6: on,
        getsockopt: on,
        setsockopt: on,
      },
    });
    expect(made.map((l) => l.kind).sort()).toEqual(
      [
        'cgroup/connect4',
        'cgroup/connect6',
        'cgroup/getsockopt',
        'cgroup/setsockopt',
        'cgroup/sock_create',
        'cgroup_skb/egress',
        'cgroup_skb/ingress',
      ].sort(),
    );
    const listed = JSON.parse(
      execFileSync('bpftool', ['-j', 'cgroup', 'show', cgroup], { encoding: 'utf8' }),
    ) as {
      id: number;
      attach_type: string;
    }[];
    const ids = Object.values(obj.programs).map((p) => p.id);
    expect(listed.map((l) => l.id).sort()).toEqual([...ids].sort());
    expect(listed.map((l) => l.attach_type).sort()).toEqual(
      [
        'cgroup_getsockopt',
        'cgroup_inet4_connect',
        'cgroup_inet6_connect',
        'cgroup_inet_egress',
        'cgroup_inet_ingress',
        'cgroup_inet_sock_create',
        'cgroup_setsockopt',
      ].sort(),
    );
  });

  it('changes what the processes in the cgroup see, and counts their traffic', async () => {
    const r = await exercise(cgroup);
    expect(r.v4).toBe('ok:hi'); // 198.51.100.7:9 went to our server on 127.0.0.1
    expect(r.v6).toBe('ok:hi'); // [2001:db8::7]:9 went to our server on ::1
    expect(r.refused).toBe('EPERM');
    expect(r.udp6).toBe('EPERM');
    expect(r.priority).toBe(42);
    expect(r.mark).toBe('EPERM');
    expect(r.looped).toBe(DATAGRAMS);
    expect(count(SLOT.EGRESS)).toBe(DATAGRAMS);
    expect(count(SLOT.INGRESS)).toBe(DATAGRAMS);
    // TCP v4, TCP v6, TCP v4, the refused UDP v6, the option socket, the UDP socket.
    expect(count(SLOT.SOCKETS)).toBe(6);
    expect(count(SLOT.CONNECTS)).toBe(2);
  });

  it('leaves processes outside the cgroup alone', async () => {
    const before = [count(SLOT.EGRESS), count(SLOT.SOCKETS)];
    const r = await exercise();
    // Where the unroutable documentation addresses lead outside (a timeout, EHOSTUNREACH)
    // depends on the host's routes; that they do not reach our server does not.
    for (const key of ['v4', 'v6', 'refused']) expect(r[key]).not.toMatch(/^ok:|^EPERM$/);
    const { v4: _a, v6: _b, refused: _c, ...rest } = r;
    const { v4: _d, v6: _e, refused: _f, ...controlRest } = control;
    expect(rest).toEqual(controlRest);
    expect(rest).toEqual({ udp6: 'created', priority: 0, mark: 'set', looped: DATAGRAMS });
    expect([count(SLOT.EGRESS), count(SLOT.SOCKETS)]).toEqual(before);
  });

  it('says what is wrong with a missing directory', async () => {
    await expect(
      obj.attach({ programs: { connect4: { target: join(root, 'btfkit-no-such-cgroup') } } }),
    ).rejects.toThrow(
      /btfkit-no-such-cgroup.*program 'connect4' \(SEC\("cgroup\/connect4"\)\): cannot open the cgroup: ENOENT/,
    );
  });

  it('detaches on close: bpftool lists nothing on the directory', async () => {
    await obj.close();
    const listed = JSON.parse(
      execFileSync('bpftool', ['-j', 'cgroup', 'show', cgroup], { encoding: 'utf8' }).trim() || '[]',
    );
    expect(listed).toEqual([]);
  });
});
