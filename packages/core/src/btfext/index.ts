export * from './btfext.ts';
