import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { errors } from '../errors/index.ts';
import { removeTemp, tempNameFor } from './files.ts';

/**
 * One batch at a time per output directory. Two batches interleaving their publish steps
 * could leave one's manifest over the other's tree links, and a batch's pruning removes store
 * files the other still names. So a batch holds OUT/.lock (created with O_EXCL, holding its
 * pid) from its first write to its last; a second batch on the same OUT stops with an error
 * naming the holder. A lock whose process is gone (kill -9, power loss) is taken over.
 * The lock is linked into place from a temp file already holding the pid, so no reader ever
 * sees it empty; a dead holder's lock is renamed away (only one taker's rename succeeds).
 */
export const LOCK_NAME = '.lock';

export interface OutLock {
  release(): void;
}

export function lockOutDir(outDir: string): OutLock {
  const path = join(outDir, LOCK_NAME);
  try {
    mkdirSync(outDir, { recursive: true });
  } catch (e) {
    throw errors.io(outDir, `cannot create the output directory: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  const tmp = tempNameFor(path);
  try {
    writeFileSync(tmp, `${process.pid}\n`);
    // Two attempts: the second after moving a dead holder's lock away.
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        linkSync(tmp, path);
        return {
          release: () => {
            if (holderPid(path) === process.pid) rmSync(path, { force: true });
          },
        };
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'EEXIST') throw errors.io(path, `cannot create the batch lock: ${code ?? e}`);
      }
      const holder = holderPid(path);
      if (holder !== undefined && alive(holder))
        throw errors.io(
          outDir,
          `another btfkit batch (pid ${holder}) is writing this directory; wait for it to finish (its lock is ${path})`,
        );
      const stale = tempNameFor(path);
      try {
        renameSync(path, stale);
      } catch {
        continue; // another taker moved it first
      }
      const moved = holderPid(stale);
      if (moved !== holder && moved !== undefined && alive(moved)) {
        // Another taker's fresh lock, not the dead one: put it back and stand aside.
        try {
          linkSync(stale, path);
        } catch {}
        rmSync(stale, { force: true });
        throw errors.io(outDir, `another btfkit batch (pid ${moved}) is writing this directory`);
      }
      rmSync(stale, { force: true });
    }
    throw errors.io(path, 'cannot take the batch lock: another batch took it at the same time');
  } finally {
    removeTemp(tmp);
  }
}

function holderPid(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether a process with this pid runs (EPERM: it does, owned by someone else). A zombie
 * (killed, not yet reaped by its parent) holds nothing any more.
 */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // /proc/<pid>/stat: "pid (comm) S ...", the state after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}
