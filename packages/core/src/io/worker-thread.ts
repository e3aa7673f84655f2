import { Worker } from 'node:worker_threads';

/**
 * A worker thread running the module `name` that sits beside the caller (`callerUrl`, its
 * import.meta.url): `name`.js from built JavaScript, and from the CLI bundle, whose worker
 * files lie beside main.cjs; `name`.ts from TypeScript sources (tsx, vitest), where a new
 * thread, which does not inherit tsx's loader, first registers it, then imports the module.
 */
export function startModuleWorker(callerUrl: string, name: string, workerData: unknown): Worker {
  const fromSources = callerUrl.endsWith('.ts');
  const url = new URL(`./${name}${fromSources ? '.ts' : '.js'}`, callerUrl);
  if (!fromSources) return new Worker(url, { workerData });
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(boot, { workerData, eval: true });
}
