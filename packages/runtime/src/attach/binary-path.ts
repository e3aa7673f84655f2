/**
 * The file a uprobe target names, found as libbpf finds it: a path with a `/` is taken as is
 * (made absolute: the kernel resolves it once, at attach); a bare shared-library name
 * (`libc.so.6`) is looked up in LD_LIBRARY_PATH and the system library folders; any other bare
 * name is a program on PATH.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { errors } from '../deps.ts';

const LIB_DIRS = [
  '/usr/lib64',
  '/lib64',
  '/usr/lib',
  '/lib',
  '/usr/lib/x86_64-linux-gnu',
  '/lib/x86_64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
  '/lib/aarch64-linux-gnu',
];

export function resolveBinaryPath(name: string): string {
  if (name.includes('/')) {
    const abs = resolve(name);
    if (!existsSync(abs)) throw errors.notFound(abs, 'no such file to place a uprobe in');
    return abs;
  }
  const lib = name.includes('.so');
  const dirs = lib
    ? [...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), ...LIB_DIRS]
    : (process.env.PATH ?? '/usr/bin:/bin').split(':').filter(Boolean);
  for (const dir of dirs) {
    const path = resolve(dir, name);
    try {
      accessSync(path, lib ? constants.R_OK : constants.X_OK);
      return path;
    } catch {
      // not in this folder
    }
  }
  throw errors.notFound(
    name,
    `no ${lib ? 'library' : 'program'} '${name}' in ${lib ? 'the library folders' : 'PATH'}`,
  );
}
