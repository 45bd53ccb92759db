// router.wasm is a reactor: no main(). Its exports live in cpp/src/abi/abi.cpp, linked whole from
// router_core; this file only gives the executable target a translation unit of its own.
