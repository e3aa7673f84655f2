import type { Finding, Verdict } from '../model.ts';

/**
 * One matrix cell as the report page carries it (a JSON script element, read by page.ts):
 * short keys, as a page of thousands of cells repeats them for each.
 */
export interface ReportCell {
  /** Object name. */
  o: string;
  /** Program name. */
  p: string;
  /** Kernel id. */
  k: string;
  v: Verdict;
  /** CompatCell.message. */
  m?: string;
  f: Finding[];
  /** CompatCell.dependsOn. */
  d?: string[];
}
