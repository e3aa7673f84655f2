/**
 * Values for `extern ... __kconfig` variables, as libbpf supplies them: LINUX_KERNEL_VERSION
 * from uname's release (KERNEL_VERSION(a, b, min(c, 255))), CONFIG_* from the running kernel's
 * config (/proc/config.gz, else /boot/config-$(uname -r)).
 */
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';

/** KERNEL_VERSION of a release string like "6.18.44-fc-v595". */
export function kernelVersionCode(rel = release()): number {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(rel);
  if (!m) return 0;
  const [a, b, c] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
  return (a << 16) + (b << 8) + Math.min(c, 255);
}

let cachedConfig: Map<string, string> | undefined;

/** CONFIG_FOO → its value text ("y", "m", "123", "\"str\""), from the running kernel. */
export function kernelConfig(): Map<string, string> {
  if (cachedConfig) return cachedConfig;
  let text = '';
  if (existsSync('/proc/config.gz')) text = gunzipSync(readFileSync('/proc/config.gz')).toString('utf8');
  else if (existsSync(`/boot/config-${release()}`)) text = readFileSync(`/boot/config-${release()}`, 'utf8');
  const map = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (line.startsWith('CONFIG_') && eq > 0) map.set(line.slice(0, eq), line.slice(eq + 1));
  }
  cachedConfig = map;
  return map;
}
