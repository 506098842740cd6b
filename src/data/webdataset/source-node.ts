// The Node side of shard access, kept out of the modules that browser bundles load: local files
// as web streams and the .tar files of a folder. Pass them to WebDataset (openFile) and to
// resolveShards (listFolder).
import type { FileHandle } from "node:fs/promises";
import { open, readdir, stat } from "node:fs/promises";
import { join } from "node:path";

const CHUNK_BYTES = 1 << 20;

/** A local file as a byte stream, read one chunk per pull (so a slow reader holds one chunk). */
export function openFile(path: string): ReadableStream<Uint8Array> {
  let handle: FileHandle | null = null;
  const closeFile = async () => {
    await handle?.close();
    handle = null;
  };
  return new ReadableStream({
    async pull(controller) {
      try {
        handle ??= await open(path, "r");
        const chunk = new Uint8Array(CHUNK_BYTES);
        const { bytesRead } = await handle.read(chunk, 0, CHUNK_BYTES, null);
        if (bytesRead > 0) return controller.enqueue(chunk.subarray(0, bytesRead));
        await closeFile();
        controller.close();
      } catch (error) {
        await closeFile().catch(() => {});
        controller.error(error);
      }
    },
    cancel: closeFile,
  });
}

/** The .tar files in `path`, sorted by name, or null if `path` is not a folder. */
export async function listTarFolder(path: string): Promise<string[] | null> {
  const info = await stat(path).catch(() => null);
  if (!info?.isDirectory()) return null;
  const names = (await readdir(path)).filter((name) => name.endsWith(".tar")).sort();
  return names.map((name) => join(path, name));
}
