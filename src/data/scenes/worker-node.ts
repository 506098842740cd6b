// A worker thread of ScenesPool (pool-node.ts): draws the scenes it is asked for and sends
// them back, their pixels transferred rather than copied.
import { parentPort } from "node:worker_threads";
import { sceneExample } from "../examples";
import type { RenderReply, RenderRequest } from "./pool-node";

const port = parentPort;
if (!port) throw new Error("scenes-worker runs as a worker thread of ScenesPool, not on its own");
port.on("message", (r: RenderRequest) => {
  let reply: RenderReply;
  try {
    reply = { id: r.id, examples: r.indices.map((i) => sceneExample(i, r)) };
  } catch (error) {
    reply = { id: r.id, error: (error as Error).message };
  }
  const transfer = "examples" in reply ? reply.examples.map((e) => e.image.data.buffer as ArrayBuffer) : [];
  port.postMessage(reply, transfer);
});
