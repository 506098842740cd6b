// Launches the Chromium of @sparticuz/chromium (unpacked into /tmp with SwiftShader beside it).

import { type Browser, chromium } from "@playwright/test";
import sparticuz from "@sparticuz/chromium";

/** WebGPU on SwiftShader; the page must come from http://127.0.0.1, not about:blank. */
export const WEBGPU_FLAGS = [
  "--enable-unsafe-webgpu",
  "--enable-unsafe-swiftshader",
  "--use-webgpu-adapter=swiftshader",
];

/**
 * `sameOrigin`: keep the same-origin policy (CORS) on, as in a person's browser; the flags of
 * @sparticuz/chromium switch it off.
 */
export async function launchChromium(extraArgs: string[], sameOrigin = false): Promise<Browser> {
  const base = sameOrigin ? sparticuz.args.filter((a) => a !== "--disable-web-security") : sparticuz.args;
  return chromium.launch({
    executablePath: await sparticuz.executablePath(),
    args: [...base, ...extraArgs],
    headless: true,
  });
}
