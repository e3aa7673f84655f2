// Generated from runtime/codec.ts by scripts/build-codegen-runtime.mjs: do not edit.
// The codec runtime: interprets the layout descriptors made by describe.ts (from BTF) to turn
// bytes into JS values and back. It has no imports because bundled apps import its emitted
// JavaScript (../codec.js, made by scripts/build-codegen-runtime.mjs) directly: every bundler
// can read that without a TypeScript loader.
const utf8Decoder = new TextDecoder('utf-8');
const utf8Encoder = new TextEncoder();
/** Builds codecs over a table of named types for one byte order. */
export function createCodecs(types, littleEndian) {
    const cache = new Map();
    // Per enum descriptor, decimal value → name; built on first decode.
    const enumNames = new WeakMap();
    function resolve(desc) {
        let d = desc;
        for (let i = 0; d.kind === 'ref' && i < 64; i++) {
            const next = types[d.name];
            if (next === undefined)
                throw new Error(`btfkit codec: unknown type '${d.name}'`);
            d = next;
        }
        // More than 64 references deep: the table is cyclic, and the descriptor has no size.
        if (d.kind === 'ref')
            throw new Error(`btfkit codec: type '${d.name}' refers to itself`);
        return d;
    }
    function sizeOf(desc) {
        const d = resolve(desc);
        if (d.kind === 'array')
            return d.stride * d.count;
        return d.size;
    }
    function byValue(d) {
        let names = enumNames.get(d);
        if (names === undefined) {
            names = new Map(d.values.map(([n, v]) => [v, n]));
            enumNames.set(d, names);
        }
        return names;
    }
    function readInt(view, at, size, signed) {
        switch (size) {
            case 1:
                return signed ? view.getInt8(at) : view.getUint8(at);
            case 2:
                return signed ? view.getInt16(at, littleEndian) : view.getUint16(at, littleEndian);
            case 4:
                return signed ? view.getInt32(at, littleEndian) : view.getUint32(at, littleEndian);
            case 8:
                return signed ? view.getBigInt64(at, littleEndian) : view.getBigUint64(at, littleEndian);
            default: {
                let v = 0n;
                for (let i = 0; i < size; i++) {
                    const b = BigInt(view.getUint8(at + (littleEndian ? i : size - 1 - i)));
                    v |= b << BigInt(8 * i);
                }
                return signed ? BigInt.asIntN(size * 8, v) : v;
            }
        }
    }
    function writeInt(view, at, size, value) {
        switch (size) {
            case 1:
                view.setUint8(at, Number(value) & 0xff);
                return;
            case 2:
                view.setUint16(at, Number(value) & 0xffff, littleEndian);
                return;
            case 4:
                view.setUint32(at, Number(value) >>> 0, littleEndian);
                return;
            case 8:
                view.setBigUint64(at, BigInt.asUintN(64, BigInt(value)), littleEndian);
                return;
            default: {
                const v = BigInt.asUintN(size * 8, BigInt(value));
                for (let i = 0; i < size; i++) {
                    view.setUint8(at + (littleEndian ? i : size - 1 - i), Number((v >> BigInt(8 * i)) & 0xffn));
                }
            }
        }
    }
    // Bitfields: BTF bit offsets count from the start of the struct. On a little-endian target
    // bit 0 is the low bit of byte 0; on a big-endian one it is the high bit of byte 0.
    function readBits(view, byteBase, bitOffset, bits, signed) {
        const start = Math.floor(bitOffset / 8);
        const end = Math.ceil((bitOffset + bits) / 8);
        let v = 0n;
        for (let i = start; i < end; i++) {
            const b = BigInt(view.getUint8(byteBase + i));
            v |= littleEndian ? b << BigInt(8 * (i - start)) : b << BigInt(8 * (end - 1 - i));
        }
        const shift = littleEndian ? bitOffset - start * 8 : end * 8 - (bitOffset + bits);
        const raw = (v >> BigInt(shift)) & ((1n << BigInt(bits)) - 1n);
        return signed ? BigInt.asIntN(bits, raw) : raw;
    }
    function writeBits(view, byteBase, bitOffset, bits, value) {
        const start = Math.floor(bitOffset / 8);
        const end = Math.ceil((bitOffset + bits) / 8);
        let v = 0n;
        for (let i = start; i < end; i++) {
            const b = BigInt(view.getUint8(byteBase + i));
            v |= littleEndian ? b << BigInt(8 * (i - start)) : b << BigInt(8 * (end - 1 - i));
        }
        const shift = BigInt(littleEndian ? bitOffset - start * 8 : end * 8 - (bitOffset + bits));
        const mask = ((1n << BigInt(bits)) - 1n) << shift;
        v = (v & ~mask) | ((BigInt.asUintN(bits, value) << shift) & mask);
        for (let i = start; i < end; i++) {
            const sh = BigInt(littleEndian ? 8 * (i - start) : 8 * (end - 1 - i));
            view.setUint8(byteBase + i, Number((v >> sh) & 0xffn));
        }
    }
    // A bitfield's type is an int or enum; BTF allows nothing else there, so anything else
    // decodes as an unsigned number as it always has.
    function intValue(d, raw) {
        if (d.kind === 'int' && d.bool)
            return raw !== 0 && raw !== 0n;
        if (d.kind !== 'array' && d.size <= 4)
            return Number(raw);
        return BigInt(raw);
    }
    function enumName(d, raw) {
        const name = byValue(d).get(String(raw));
        if (name !== undefined)
            return name;
        return d.size <= 4 ? Number(raw) : BigInt(raw);
    }
    function enumNumber(d, value) {
        if (typeof value === 'string') {
            const hit = d.values.find(([n]) => n === value);
            if (hit === undefined)
                throw new RangeError(`btfkit codec: '${value}' is not a value of this enum`);
            return BigInt(hit[1]);
        }
        return BigInt(value);
    }
    function decodeAt(desc, view, at) {
        const d = resolve(desc);
        switch (d.kind) {
            case 'int':
                return intValue(d, readInt(view, at, d.size, d.signed));
            case 'float':
                return d.size === 4 ? view.getFloat32(at, littleEndian) : view.getFloat64(at, littleEndian);
            case 'ptr':
                return view.getBigUint64(at, littleEndian);
            case 'enum':
                return enumName(d, readInt(view, at, d.size, d.signed));
            case 'string': {
                const bytes = new Uint8Array(view.buffer, view.byteOffset + at, d.size);
                const nul = bytes.indexOf(0);
                return utf8Decoder.decode(nul < 0 ? bytes : bytes.subarray(0, nul));
            }
            case 'array': {
                const out = new Array(d.count);
                for (let i = 0; i < d.count; i++)
                    out[i] = decodeAt(d.elem, view, at + i * d.stride);
                return out;
            }
            case 'struct':
            case 'union': {
                const out = {};
                decodeFields(d, view, at, out);
                return out;
            }
            default:
                return new Uint8Array(view.buffer, view.byteOffset + at, d.size).slice();
        }
    }
    function decodeFields(d, view, at, out) {
        for (const f of d.fields) {
            const ft = resolve(f.type);
            if (f.bitSize) {
                const signed = ft.kind === 'int' || ft.kind === 'enum' ? ft.signed : false;
                const raw = readBits(view, at, f.bitOffset, f.bitSize, signed);
                out[f.name] = ft.kind === 'enum' ? enumName(ft, raw) : intValue(ft, raw);
                continue;
            }
            const fat = at + f.bitOffset / 8;
            // Anonymous struct/union members: C lets their fields be used as the parent's own.
            if (f.name === '' && (ft.kind === 'struct' || ft.kind === 'union'))
                decodeFields(ft, view, fat, out);
            else
                out[f.name] = decodeAt(f.type, view, fat);
        }
    }
    // `value` is whatever the caller gave: the codec writes it as C would after the matching
    // conversion (Number()/BigInt()/String()), and throws where that conversion throws.
    function encodeAt(desc, value, view, at) {
        if (value === undefined)
            return;
        const d = resolve(desc);
        switch (d.kind) {
            case 'int':
                writeInt(view, at, d.size, typeof value === 'boolean' ? (value ? 1 : 0) : value);
                return;
            case 'float':
                if (d.size === 4)
                    view.setFloat32(at, value, littleEndian);
                else
                    view.setFloat64(at, value, littleEndian);
                return;
            case 'ptr':
                view.setBigUint64(at, BigInt.asUintN(64, BigInt(value)), littleEndian);
                return;
            case 'enum':
                writeInt(view, at, d.size, enumNumber(d, value));
                return;
            case 'string': {
                const dst = new Uint8Array(view.buffer, view.byteOffset + at, d.size);
                dst.fill(0);
                const src = utf8Encoder.encode(String(value));
                dst.set(src.subarray(0, d.size));
                return;
            }
            case 'array': {
                const items = value;
                const n = Math.min(d.count, items.length);
                for (let i = 0; i < n; i++)
                    encodeAt(d.elem, items[i], view, at + i * d.stride);
                return;
            }
            case 'struct':
            case 'union':
                encodeFields(d, value, view, at);
                return;
            default: {
                const dst = new Uint8Array(view.buffer, view.byteOffset + at, d.size);
                dst.set(value.subarray(0, d.size));
            }
        }
    }
    function encodeFields(d, value, view, at) {
        for (const f of d.fields) {
            const ft = resolve(f.type);
            if (f.name === '' && !f.bitSize && (ft.kind === 'struct' || ft.kind === 'union')) {
                encodeFields(ft, value, view, at + f.bitOffset / 8);
                continue;
            }
            const v = value[f.name];
            if (v === undefined)
                continue;
            if (f.bitSize) {
                const n = ft.kind === 'enum'
                    ? enumNumber(ft, v)
                    : typeof v === 'boolean'
                        ? v
                            ? 1n
                            : 0n
                        : BigInt(v);
                writeBits(view, at, f.bitOffset, f.bitSize, n);
            }
            else
                encodeAt(f.type, v, view, at + f.bitOffset / 8);
        }
    }
    function toView(bytes) {
        return bytes instanceof DataView ? bytes : new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    /** A codec for one descriptor: `decode` reads, `encode` writes exactly `size` bytes. */
    function codec(desc) {
        const cached = cache.get(desc);
        if (cached)
            return cached;
        const size = sizeOf(desc);
        const d = resolve(desc);
        const c = {
            size,
            decode(bytes, offset = 0) {
                const view = toView(bytes);
                if (offset < 0 || offset + size > view.byteLength) {
                    throw new RangeError(`btfkit codec: need ${size} bytes at offset ${offset}, have ${view.byteLength}`);
                }
                return decodeAt(desc, view, offset);
            },
            encode(value) {
                const out = new Uint8Array(size);
                encodeAt(desc, value, new DataView(out.buffer), 0);
                return out;
            },
            encodeInto(value, bytes, offset = 0) {
                const view = toView(bytes);
                if (offset < 0 || offset + size > view.byteLength) {
                    throw new RangeError(`btfkit codec: need ${size} bytes at offset ${offset}, have ${view.byteLength}`);
                }
                encodeAt(desc, value, view, offset);
            },
        };
        if (d.kind === 'enum') {
            c.values = Object.fromEntries(d.values.map(([n, v]) => [n, d.size <= 4 ? Number(v) : BigInt(v)]));
        }
        if (d.kind === 'struct' || d.kind === 'union') {
            c.layout = fieldLayout(d, 0);
        }
        cache.set(desc, c);
        return c;
    }
    // Offsets and sizes of every field, flattened through anonymous members: what the codec uses.
    function fieldLayout(d, base) {
        const out = [];
        for (const f of d.fields) {
            const ft = resolve(f.type);
            const bitOffset = base + f.bitOffset;
            if (f.name === '' && !f.bitSize && (ft.kind === 'struct' || ft.kind === 'union')) {
                out.push(...fieldLayout(ft, bitOffset));
                continue;
            }
            out.push({ name: f.name, bitOffset, bitSize: f.bitSize ?? 0, size: f.bitSize ? 0 : sizeOf(f.type) });
        }
        return out;
    }
    return { codec, sizeOf };
}
