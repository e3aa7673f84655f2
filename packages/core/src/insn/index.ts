export * from './decoded.ts';
export { Insns } from './insns.ts';
export * from './opcodes.ts';
