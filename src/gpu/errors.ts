// Typed errors that a worker can report to the UI and a CLI can print as they are.

/** No WebGPU implementation or no adapter: says what the user must do. */
export class NoWebGPUError extends Error {
  override name = "NoWebGPUError";
}

/** The GPU device was lost (driver reset, watchdog, tab in background too long). */
export class DeviceLostError extends Error {
  override name = "DeviceLostError";
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(`GPU device lost (${reason}): ${message}. Reload or restart from the last checkpoint.`);
  }
}

/** A WGSL kernel failed to compile or its pipeline failed validation. */
export class KernelError extends Error {
  override name = "KernelError";
  constructor(kernel: string, message: string) {
    super(`kernel "${kernel}": ${message}`);
  }
}

/** The adapter lacks a feature or limit that the requested work needs. */
export class MissingFeatureError extends Error {
  override name = "MissingFeatureError";
}

/** A WebGPU validation or out-of-memory error reported outside any error scope. */
export class GpuError extends Error {
  override name = "GpuError";
}
