
/** What `init` accepts: a URL or path of the `.wasm`, a fetch `Response`, bytes or a compiled module. */
export type InitSource = RequestInfo | URL | Response | BufferSource | WebAssembly.Module;

/** Loads the WebAssembly module (by default `mailroom_wasm_bg.wasm` next to the script). Call once, before anything else. */
export default function init(source?: InitSource | Promise<InitSource>): Promise<void>;

/** Loads the WebAssembly module synchronously from bytes or a compiled module. */
export function initSync(source: BufferSource | WebAssembly.Module): void;
