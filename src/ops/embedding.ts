// embedding(table [V, D], ids [...]) -> [..., D]: a row gather, and its deterministic backward
// (see kernels/embedding.wgsl). ids live on the GPU, so they cannot be checked here: an id
// outside [0, V) (a negative i32 included) gives a zero output row and no gradient.
import code from "../../kernels/embedding.wgsl?raw";
import { grid1d, kernel } from "../gpu/kernel";
import { record } from "../tensor/tape";
import { shapeString, Tensor } from "../tensor/tensor";
import { full } from "./elementwise_kernels";

const PARAMS = { positions: "u32", dim: "u32", vocab: "u32" } as const;
const gatherKernel = kernel({
  name: "embedding.gather",
  file: "embedding.wgsl",
  code,
  entryPoint: "gather",
  params: PARAMS,
  bindings: ["table", "ids", "out"],
});
const sortKernel = kernel({
  name: "embedding.sort_positions",
  file: "embedding.wgsl",
  code,
  entryPoint: "sort_positions",
  params: PARAMS,
  bindings: ["sort_ids", "sort_order"],
});
const startsKernel = kernel({
  name: "embedding.row_starts",
  file: "embedding.wgsl",
  code,
  entryPoint: "row_starts",
  params: PARAMS,
  bindings: ["starts_ids", "starts_order", "starts"],
});
const scatterKernel = kernel({
  name: "embedding.scatter",
  file: "embedding.wgsl",
  code,
  entryPoint: "scatter",
  params: PARAMS,
  bindings: ["d_out", "scatter_order", "scatter_starts", "d_table"],
});

export function embedding(table: Tensor, ids: Tensor): Tensor {
  const [vocab, dim] = table.shape;
  if (table.rank !== 2 || table.dtype !== "f32" || vocab < 1) {
    throw new Error(`embedding: table must be f32 [V >= 1, D], got ${table.describe()}`);
  }
  if (ids.dtype === "f32") throw new Error(`embedding: ids must be i32 or u32, got ${ids.describe()}`);
  const out = Tensor.empty(table.gpu, [...ids.shape, dim]);
  if (out.size) {
    table.gpu.dispatch({
      kernel: gatherKernel,
      params: { positions: ids.size, dim, vocab },
      buffers: { table: table.binding, ids: ids.binding, out: out.binding },
      workgroups: grid1d(out.size),
    });
  }
  return record("embedding", [table, ids], out, (dOut) => [embeddingBackward(dOut, ids, vocab), null]);
}

/**
 * dTable [V, D] = sum of the rows of dOut [..., D] by id, each row summed in increasing position
 * order: the same bits on every run.
 */
export function embeddingBackward(dOut: Tensor, ids: Tensor, vocab: number): Tensor {
  const dim = dOut.shape[dOut.rank - 1];
  if (dOut.size !== ids.size * dim) {
    throw new Error(
      `embedding backward: dOut ${shapeString(dOut.shape)} does not match ids ${ids.describe()}`,
    );
  }
  if (ids.size === 0 || dim === 0) return full(dOut, [vocab, dim], 0);
  const gpu = dOut.gpu;
  const order = Tensor.empty(gpu, [ids.size], "u32"); // positions sorted by (id, position)
  const starts = Tensor.empty(gpu, [vocab + 1], "u32"); // row v's run is order[starts[v] .. starts[v+1])
  const dTable = Tensor.empty(gpu, [vocab, dim]);
  const params = { positions: ids.size, dim, vocab };
  gpu.dispatch({
    kernel: sortKernel,
    params,
    buffers: { sort_ids: ids.binding, sort_order: order.binding },
    workgroups: grid1d(ids.size),
  });
  gpu.dispatch({
    kernel: startsKernel,
    params,
    buffers: { starts_ids: ids.binding, starts_order: order.binding, starts: starts.binding },
    workgroups: grid1d(vocab + 1),
  });
  gpu.dispatch({
    kernel: scatterKernel,
    params,
    buffers: {
      d_out: dOut.binding,
      scatter_order: order.binding,
      scatter_starts: starts.binding,
      d_table: dTable.binding,
    },
    workgroups: grid1d(dTable.size),
  });
  order.dispose();
  starts.dispose();
  return dTable;
}
