/**
 * Programs attached to a cgroup v2 directory through BPF_LINK_CREATE (kernel 5.7+): socket
 * buffers, socket creation, socket options, connect/bind/sendmsg address hooks, sysctl,
 * devices, sock_ops. The program runs for every process in the cgroup and its descendants.
 */
import { closeSync, constants, openSync } from 'node:fs';
import { errors } from '../deps.ts';
import type { ResolvedSection } from '../loader/sections.ts';
import { linkCreate } from '../sys/bpf.ts';
import { Link } from './attach.ts';

export function cgroupLink(
  name: string,
  progFd: number,
  sec: ResolvedSection,
  path: string,
  flags = 0,
): Link {
  let dir: number;
  try {
    dir = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch (e) {
    throw errors.notFound(
      path,
      `program '${name}' (SEC("${sec.section}")): cannot open the cgroup: ${(e as Error).message}`,
    );
  }
  try {
    // The link holds its own reference to the cgroup; our directory fd is not needed after.
    const fd = linkCreate(
      { progFd, targetFd: dir, attachType: sec.expectedAttachType, flags },
      `${sec.section} ${path}`,
    );
    return new Link(name, sec.section, path, [fd]);
  } finally {
    closeSync(dir);
  }
}
