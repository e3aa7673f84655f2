import { readFileSync } from 'node:fs';

/** Where an import is written: the importing file, 1-based line, 0-based column (esbuild's convention). */
export interface ImportSite {
  file: string;
  line: number;
  column: number;
}

/**
 * The first place `importer` writes `specifier` as a quoted string, for hosts (esbuild) whose
 * load step knows nothing of the importer: an error then points at the import, as Rollup's do.
 * Undefined when the file cannot be read or does not spell the specifier literally.
 */
export function importSite(importer: string, specifier: string): ImportSite | undefined {
  let text: string;
  try {
    text = readFileSync(importer, 'utf8');
  } catch {
    return undefined;
  }
  let at = -1;
  for (const quote of ["'", '"', '`']) {
    const i = text.indexOf(`${quote}${specifier}${quote}`);
    if (i >= 0 && (at < 0 || i < at)) at = i;
  }
  if (at < 0) return undefined;
  const before = text.slice(0, at);
  const lineStart = before.lastIndexOf('\n') + 1;
  return { file: importer, line: before.split('\n').length, column: at - lineStart };
}
