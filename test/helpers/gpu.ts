// One Gpu per test worker, shared by the files it runs (vitest.config.ts: no isolation), on Dawn
// (SwiftShader on machines without a GPU).
import { dawnGpu } from "../../src/gpu/dawn";
import { Gpu } from "../../src/gpu/gpu";

let shared: Promise<Gpu> | null = null;

export function testGpu(): Promise<Gpu> {
  shared ??= dawnGpu().then((gpu) => Gpu.create({ gpu }));
  return shared;
}
