/**
 * libbpf reports CO-RE failures as negative errno values and core-oracle prints them; the
 * engine keeps the same numbers so its error lines read like libbpf's.
 */
export const Errno = {
  E2BIG: -7,
  EINVAL: -22,
  ERANGE: -34,
  EOPNOTSUPP: -95,
  /** libbpf's internal "poison this instruction" request, never reported as an error. */
  EUCLEAN: -117,
} as const;
export type Errno = (typeof Errno)[keyof typeof Errno];
