// Stores written shards in a local folder, each atomically: written to a hidden temporary name,
// flushed to disk, then renamed, so a reader never sees half a shard.
import { mkdir, open, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { ShardSink } from "./write";

export function folderSink(folder: string): ShardSink {
  return {
    async write(name, tar) {
      await mkdir(folder, { recursive: true });
      const path = join(folder, name);
      const temp = join(folder, `.${name}.${process.pid}.tmp`);
      const reader = tar.getReader();
      try {
        const file = await open(temp, "w");
        try {
          for (let r = await reader.read(); !r.done; r = await reader.read()) await file.write(r.value);
          await file.sync();
        } finally {
          await file.close();
        }
        await rename(temp, path);
      } catch (error) {
        await reader.cancel(error).catch(() => {});
        await rm(temp, { force: true });
        throw error;
      }
    },
  };
}
