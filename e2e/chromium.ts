// Launches the Chromium of @sparticuz/chromium (unpacked into /tmp with SwiftShader beside it).

import { type Browser, chromium } from "@playwright/test";
import sparticuz from "@sparticuz/chromium";

/** WebGPU on SwiftShader; the page must come from http://127.0.0.1, not about:blank. */
export const WEBGPU_FLAGS = [
  "--enable-unsafe-webgpu",
  "--enable-unsafe-swiftshader",
  "--use-webgpu-adapter=swiftshader",
];

export async function launchChromium(extraArgs: string[]): Promise<Browser> {
  return chromium.launch({
    executablePath: await sparticuz.executablePath(),
    args: [...sparticuz.args, ...extraArgs],
    headless: true,
  });
}
