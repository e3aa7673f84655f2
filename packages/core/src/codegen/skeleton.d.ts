// Generated from runtime/skeleton.ts by scripts/build-codegen-runtime.mjs: do not edit.
import { type NamedTypeDesc, type RuntimeCodec, type TypeDesc } from './codec.ts';
export interface MapModel {
    type: string;
    typeId: number;
    keySize: number;
    valueSize: number;
    maxEntries: number;
    flags: number;
    key?: TypeDesc;
    value?: TypeDesc;
    /** Ring buffer / perf event array: the record type. */
    event?: TypeDesc;
}
export interface ProgramModel {
    section: string;
    type: string;
    attach: string;
    target?: string;
}
export interface GlobalModel {
    section: string;
    offset: number;
    size: number;
    type: TypeDesc;
    /** Initial bytes, hex (zeros for .bss). */
    init: string;
}
/** Everything the generated module knows about one object. JSON-safe, deterministic. */
export interface SkeletonModel {
    name: string;
    littleEndian: boolean;
    programs: Record<string, ProgramModel>;
    maps: Record<string, MapModel>;
    globals: Record<string, GlobalModel>;
    types: Record<string, NamedTypeDesc>;
}
/** Where an asset's bytes are: a URL (file:, data:, http(s):) or path, or the bytes themselves. */
export type AssetRef = {
    url: string | (() => string);
} | {
    bytes: Uint8Array;
};
/** A kernel as btfhub names it; fields left out of a lookup match any. */
export interface KernelId {
    distro: string;
    version: string;
    arch: string;
    release: string;
}
export interface KernelAsset extends KernelId {
    /** Absent when no BTF could be made for this kernel; `reason` says why. */
    btf?: AssetRef;
    reason?: string;
}
/** The part of @btfkit/runtime a skeleton's load() calls (its loadObject). */
export interface SkeletonRuntime {
    loadObject(bytes: Uint8Array, opts: Record<string, unknown>): unknown;
}
export interface SkeletonIo {
    object: AssetRef;
    kernels: KernelAsset[];
    loadRuntime?: () => Promise<SkeletonRuntime>;
    /** The libbpf profile load() passes to loadObject unless its caller names one. */
    libbpf?: string;
}
export interface SkeletonProgram extends ProgramModel {
    readonly name: string;
}
export interface SkeletonMap {
    readonly name: string;
    readonly type: string;
    readonly typeId: number;
    readonly keySize: number;
    readonly valueSize: number;
    readonly maxEntries: number;
    readonly flags: number;
    readonly key: RuntimeCodec | undefined;
    readonly value: RuntimeCodec | undefined;
    readonly event: RuntimeCodec | undefined;
}
export interface SkeletonGlobal {
    readonly name: string;
    readonly section: string;
    readonly offset: number;
    readonly size: number;
    readonly codec: RuntimeCodec;
    readonly initial: unknown;
    decode(bytes: Uint8Array | DataView): unknown;
    /** Exactly the variable's BTF width, its initial bytes where the value leaves them. */
    encode(value: unknown): Uint8Array;
}
/** What btfFor() gives: the bytes, or why there are none. */
export type KernelBtf = {
    bytes: Uint8Array;
    kernel: Readonly<KernelId>;
    reason?: undefined;
} | {
    bytes: undefined;
    reason: string;
};
/** load()'s options: @btfkit/runtime's LoadOptions, with globals by name and kernel BTF found. */
export interface SkeletonLoadOptions extends Record<string, unknown> {
    /** Initial values of the object's globals, by variable name. */
    globals?: Record<string, unknown>;
    /** false: load without kernel BTF rather than the running kernel's from the build. */
    kernelBtf?: boolean;
    /** Raw kernel BTF to use instead of the running kernel's. */
    btf?: Uint8Array;
}
/** The untyped skeleton; the generated module's declarations (dts.ts) give it its precise type. */
export interface Skeleton {
    readonly name: string;
    object(): Promise<Uint8Array>;
    readonly programs: Readonly<Record<string, SkeletonProgram>>;
    readonly maps: Readonly<Record<string, SkeletonMap>>;
    readonly globals: Readonly<Record<string, SkeletonGlobal>>;
    readonly types: Readonly<Record<string, RuntimeCodec>>;
    readonly kernels: readonly Readonly<KernelId>[];
    btfFor(kernel: string | Partial<KernelId>): Promise<KernelBtf>;
    btfForRunningKernel(): Promise<KernelBtf>;
    load(opts?: SkeletonLoadOptions): Promise<unknown>;
}
/**
 * The shape of core's BtfkitError (`name`, a stable `code`), without importing core: this file
 * is bundled into user apps as is, and core's errors module would drag TypeScript and the rest
 * of core along. Callers tell errors apart by `name` and `code`, never by class identity.
 */
export declare class SkeletonError extends Error {
    readonly name = "BtfkitError";
    readonly code: 'BAD_OPTION' | 'UNSUPPORTED';
    constructor(code: 'BAD_OPTION' | 'UNSUPPORTED', message: string);
}
export declare function createSkeleton(model: SkeletonModel, io: SkeletonIo): Skeleton;
