// The row tiles of the row kernels that walk rows of any length (softmax, normalize): one
// workgroup of THREADS per row; thread `lid` owns columns lid, lid + THREADS, ... and holds
// PER_THREAD of them at a time in v (and their gradients in g), so a row of up to
// PER_THREAD * THREADS values is one tile, read once; longer rows are walked tile by tile.
// The including kernel's uniform `p` has the row length as p.cols.
#include block_reduce

override THREADS: u32 = 256u;    // a power of two, 4 to 256 (src/ops/rows.ts)
override PER_THREAD: u32 = 16u;  // ceil(cols / THREADS), at most CACHE

const CACHE = 16u;

var<private> v: array<f32, CACHE>;
var<private> g: array<f32, CACHE>;

// Column k of this thread in tile t.
fn column(t: u32, k: u32, lid: u32) -> u32 {
  return (t * PER_THREAD + k) * THREADS + lid;
}

fn tile_count() -> u32 {
  return (p.cols + PER_THREAD * THREADS - 1u) / (PER_THREAD * THREADS);
}
