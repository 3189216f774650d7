// The raw wasm-bindgen core (`assertion-grant/core`) resolves with its types too.
import type * as core from 'assertion-grant/core';

export type CoreInit = typeof core.default;
