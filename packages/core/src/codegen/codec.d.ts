// Generated from runtime/codec.ts by scripts/build-codegen-runtime.mjs: do not edit.
/** Layout descriptors: what describe.ts makes from BTF and codec.js interprets. JSON-safe. */
export type TypeDesc = IntDesc | {
    kind: 'float';
    size: number;
} | {
    kind: 'ptr';
    size: number;
} | EnumDesc
/** char[N]: a NUL-terminated UTF-8 string in N bytes. */
 | {
    kind: 'string';
    size: number;
} | {
    kind: 'array';
    elem: TypeDesc;
    count: number;
    stride: number;
} | RecordDesc
/** A named struct/union/enum in the type table. */
 | {
    kind: 'ref';
    name: string;
}
/** Anything without a value codec (void, functions, forward declarations): raw bytes. */
 | {
    kind: 'bytes';
    size: number;
    note?: string;
};
export interface IntDesc {
    kind: 'int';
    size: number;
    signed: boolean;
    bool?: true;
    char?: true;
}
export interface EnumDesc {
    kind: 'enum';
    size: number;
    signed: boolean;
    /** [name, decimal value as a string] (64-bit enums do not fit a JSON number). */
    values: [string, string][];
}
export interface RecordDesc {
    kind: 'struct' | 'union';
    size: number;
    fields: FieldDesc[];
}
export interface FieldDesc {
    /** '' for an anonymous struct/union member, whose fields belong to the parent. */
    name: string;
    /** From the start of the enclosing struct. */
    bitOffset: number;
    /** Bitfield width; absent for ordinary members. */
    bitSize?: number;
    type: TypeDesc;
}
/** A named entry of the type table: the descriptor plus its C spelling ("struct event"). */
export type NamedTypeDesc = TypeDesc & {
    cName: string;
};
export interface FieldLayout {
    name: string;
    bitOffset: number;
    bitSize: number;
    size: number;
}
export interface RuntimeCodec {
    size: number;
    decode(bytes: Uint8Array | DataView, offset?: number): unknown;
    encode(value: unknown): Uint8Array;
    encodeInto(value: unknown, bytes: Uint8Array | DataView, offset?: number): void;
    /** Enums: name → number (bigint for 64-bit enums). */
    values?: Record<string, number | bigint>;
    /** Structs and unions: every field's offset and size, anonymous members flattened. */
    layout?: FieldLayout[];
}
/** Builds codecs over a table of named types for one byte order. */
export declare function createCodecs(types: Record<string, TypeDesc>, littleEndian: boolean): {
    codec(desc: TypeDesc): RuntimeCodec;
    sizeOf(desc: TypeDesc): number;
};
