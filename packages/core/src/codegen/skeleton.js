// Generated from runtime/skeleton.ts by scripts/build-codegen-runtime.mjs: do not edit.
// The skeleton runtime a generated `*.bpf.o` module calls: turns the JSON model made at build
// time (model.ts) into codecs, and reads the object and per-kernel BTF wherever the bundler
// put them. Bundled apps import its emitted JavaScript (../skeleton.js, made by
// scripts/build-codegen-runtime.mjs) as is, so it imports nothing but the codec runtime.
import { createCodecs } from "./codec.js";
/**
 * The shape of core's BtfkitError (`name`, a stable `code`), without importing core: this file
 * is bundled into user apps as is, and core's errors module would drag TypeScript and the rest
 * of core along. Callers tell errors apart by `name` and `code`, never by class identity.
 */
export class SkeletonError extends Error {
    name = 'BtfkitError';
    code;
    constructor(code, message) {
        super(message);
        this.code = code;
    }
}
export function createSkeleton(model, io) {
    const { codec } = createCodecs(model.types, model.littleEndian);
    const programs = {};
    for (const [name, p] of Object.entries(model.programs)) {
        programs[name] = Object.freeze({
            name,
            section: p.section,
            type: p.type,
            attach: p.attach,
            target: p.target,
        });
    }
    const maps = {};
    for (const [name, m] of Object.entries(model.maps)) {
        maps[name] = Object.freeze({
            name,
            type: m.type,
            typeId: m.typeId,
            keySize: m.keySize,
            valueSize: m.valueSize,
            maxEntries: m.maxEntries,
            flags: m.flags,
            key: m.key ? codec(m.key) : undefined,
            value: m.value ? codec(m.value) : undefined,
            event: m.event ? codec(m.event) : undefined,
        });
    }
    const globals = {};
    for (const [name, g] of Object.entries(model.globals)) {
        const c = codec(g.type);
        const init = hexBytes(g.init);
        globals[name] = Object.freeze({
            name,
            section: g.section,
            offset: g.offset,
            size: g.size,
            codec: c,
            initial: c.decode(init),
            decode: (bytes) => c.decode(bytes),
            // Exactly the variable's BTF width, whatever the codec would write.
            encode(value) {
                const out = new Uint8Array(g.size);
                out.set(init.subarray(0, g.size));
                c.encodeInto(value, out.subarray(0, Math.min(c.size, g.size)));
                return out;
            },
        });
    }
    const types = {};
    for (const name of Object.keys(model.types))
        types[name] = codec({ kind: 'ref', name });
    const kernels = io.kernels.map((k) => Object.freeze({ distro: k.distro, version: k.version, arch: k.arch, release: k.release }));
    async function btfFor(kernel) {
        const i = findKernel(io.kernels, kernel);
        const k = io.kernels[i];
        const id = kernels[i];
        if (k === undefined || id === undefined) {
            const label = typeof kernel === 'string' ? kernel : describe(kernel);
            return {
                bytes: undefined,
                reason: `kernel ${label} is not among the ${io.kernels.length} configured kernels`,
            };
        }
        if (!k.btf)
            return { bytes: undefined, reason: k.reason ?? `no BTF was built for ${describe(k)}` };
        return { bytes: await readAsset(k.btf), kernel: id };
    }
    async function btfForRunningKernel() {
        const running = await runningKernel();
        if (!running)
            return { bytes: undefined, reason: 'cannot identify the running kernel (not Linux?)' };
        const k = io.kernels[findKernel(io.kernels, running)];
        if (k === undefined) {
            return {
                bytes: undefined,
                reason: `the running kernel ${describe(running)} is not among the ${io.kernels.length} configured kernels`,
            };
        }
        return btfFor(k);
    }
    // @btfkit/runtime's loadObject(bytes, LoadOptions): globals by section then name (it encodes
    // each by the variable's BTF type), raw kernel BTF, the object's file name, and the
    // skeleton's own codecs for the maps.
    async function load(opts = {}) {
        if (!io.loadRuntime) {
            throw new SkeletonError('UNSUPPORTED', `btfkit: ${model.name}: load() needs @btfkit/runtime, and this build has no runtime loader`);
        }
        const { globals: values, kernelBtf, btf: givenBtf, ...rest } = opts;
        const bySection = {};
        for (const [name, value] of Object.entries(values ?? {})) {
            const g = globals[name];
            if (!g) {
                const known = Object.keys(globals);
                throw new SkeletonError('BAD_OPTION', `btfkit: load(): '${name}' is not a global of ${model.name} (its globals: ${known.length > 0 ? known.join(', ') : 'none'})`);
            }
            let section = bySection[g.section];
            if (section === undefined) {
                section = {};
                bySection[g.section] = section;
            }
            section[name] = value;
        }
        const codecs = {};
        for (const [name, m] of Object.entries(maps)) {
            if (m.key || m.value)
                codecs[name] = { ...(m.key ? { key: m.key } : {}), ...(m.value ? { value: m.value } : {}) };
        }
        let btf = givenBtf;
        if (btf === undefined && kernelBtf !== false)
            btf = (await btfForRunningKernel()).bytes;
        const runtime = await io.loadRuntime();
        const bytes = await readAsset(io.object);
        return runtime.loadObject(bytes, {
            file: `${model.name}.bpf.o`,
            codecs,
            // The libbpf the build's compat check decided as, so load() decides the same.
            ...(io.libbpf !== undefined ? { libbpf: io.libbpf } : {}),
            ...rest,
            ...(Object.keys(bySection).length > 0 ? { globals: bySection } : {}),
            ...(btf !== undefined ? { btf } : {}),
        });
    }
    return Object.freeze({
        name: model.name,
        object: () => readAsset(io.object),
        programs: Object.freeze(programs),
        maps: Object.freeze(maps),
        globals: Object.freeze(globals),
        types: Object.freeze(types),
        kernels: Object.freeze(kernels),
        btfFor,
        btfForRunningKernel,
        load,
    });
}
function describe(k) {
    return `${k.distro}/${k.version}/${k.arch}/${k.release}`;
}
// A configured kernel matches on release and arch; distro and version must agree when given.
function findKernel(list, k) {
    if (typeof k === 'string')
        return list.findIndex((x) => x.release === k);
    return list.findIndex((x) => x.release === k.release &&
        (k.arch === undefined || x.arch === k.arch) &&
        (k.distro === undefined || x.distro === k.distro) &&
        (k.version === undefined || x.version === k.version));
}
function hexBytes(hex) {
    const out = new Uint8Array(hex.length / 2);
    for (let i = 0; i < out.length; i++)
        out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
    return out;
}
async function readAsset(ref) {
    if ('bytes' in ref)
        return ref.bytes;
    const url = typeof ref.url === 'function' ? ref.url() : ref.url;
    if (url.startsWith('data:')) {
        const comma = url.indexOf(',');
        const b64 = url.slice(comma + 1);
        if (typeof Buffer !== 'undefined')
            return new Uint8Array(Buffer.from(b64, 'base64'));
        const bin = atob(b64);
        return Uint8Array.from(bin, (c) => c.charCodeAt(0));
    }
    if (url.startsWith('file:') || url.startsWith('/')) {
        const fs = await import(/* webpackIgnore: true */ /* @vite-ignore */ 'node:fs/promises');
        return new Uint8Array(await fs.readFile(url.startsWith('file:') ? new URL(url) : url));
    }
    const res = await fetch(url);
    if (!res.ok)
        throw new Error(`btfkit: fetching ${url} failed: ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
}
/** btfhub's spelling of Node's os.arch() names, where they differ. */
const BTFHUB_ARCH = {
    x64: 'x86_64',
    arm64: 'arm64',
    s390x: 's390x',
    ppc64: 'ppc64le',
};
// The btfhub naming: distro and version from /etc/os-release, release from uname -r,
// arch as btfhub spells it (x86_64, arm64).
async function runningKernel() {
    if (typeof process === 'undefined' || process.platform !== 'linux')
        return undefined;
    const fs = await import(/* webpackIgnore: true */ /* @vite-ignore */ 'node:fs/promises');
    const os = await import(/* webpackIgnore: true */ /* @vite-ignore */ 'node:os');
    let distro = 'unknown';
    let version = 'unknown';
    try {
        const text = await fs.readFile('/etc/os-release', 'utf8');
        for (const line of text.split('\n')) {
            const m = /^(ID|VERSION_ID)=(.*)$/.exec(line);
            if (!m)
                continue;
            const v = (m[2] ?? '').replace(/^["']|["']$/g, '');
            if (m[1] === 'ID')
                distro = v;
            else
                version = v;
        }
    }
    catch {
        // No os-release: match on release and arch only.
    }
    const arch = BTFHUB_ARCH[os.arch()] ?? os.arch();
    return { distro, version, arch, release: os.release() };
}
