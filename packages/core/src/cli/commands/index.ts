import { compat } from './compat.ts';
import { dump } from './dump.ts';
import { minCoreBtf } from './min-core-btf.ts';
import { relocate } from './relocate.ts';
import type { Command } from './types.ts';

/** Registered subcommands, in the order `btfkit --help` lists them. */
export const commands: Command[] = [dump, minCoreBtf, relocate, compat];
