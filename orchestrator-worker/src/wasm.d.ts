// Wrangler bundles `import x from "./file.wasm"` as a compiled WebAssembly.Module (workerd
// refuses to compile Wasm from bytes at run time).
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}
