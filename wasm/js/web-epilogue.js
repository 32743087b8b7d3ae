
/** Loads the WebAssembly module: by default `mailroom_wasm_bg.wasm` next to this file. */
export default async function init(source) {
  await initModule(source === undefined ? undefined : { module_or_path: source });
}

/** Loads the WebAssembly module synchronously from bytes or a compiled `WebAssembly.Module`. */
export function initSync(source) {
  initModuleSync({ module: source });
}

export { Mailroom, Batch, LookupFixtures, MailroomError };
