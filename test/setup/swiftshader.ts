// Gives Dawn a Vulkan driver on machines without a GPU: SwiftShader (a CPU Vulkan driver) from
// @sparticuz/chromium, unpacked into /tmp. A real GPU is used instead when VK_ICD_FILENAMES or
// TIPS_TEST_GPU=native is set.
import chromium from "@sparticuz/chromium";

export default async function setup(): Promise<void> {
  if (process.env.VK_ICD_FILENAMES || process.env.TIPS_TEST_GPU === "native") return;
  const executable = await chromium.executablePath();
  const dir = executable.slice(0, executable.lastIndexOf("/"));
  process.env.LD_LIBRARY_PATH = [dir, process.env.LD_LIBRARY_PATH].filter(Boolean).join(":");
  process.env.VK_ICD_FILENAMES = `${dir}/vk_swiftshader_icd.json`;
}
