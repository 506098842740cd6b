// Workgroup-wide sums and maxima for the row kernels (one workgroup of THREADS invocations per
// row), included with `#include block_reduce`; the kernel declares THREADS, a power of two.
// Four lanes, so that one tree carries a kernel's several sums (or maxima) at once.
// Call from uniform control flow: every invocation of the workgroup must arrive, padding rows too.
// The result reaches every invocation.

var<workgroup> block_tree: array<vec4f, THREADS>;

fn block_sum(value: vec4f, lid: u32) -> vec4f {
  block_tree[lid] = value;
  workgroupBarrier();
  for (var s = THREADS / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { block_tree[lid] += block_tree[lid + s]; }
    workgroupBarrier();
  }
  let total = block_tree[0];
  workgroupBarrier();  // the next reduction overwrites the tree
  return total;
}

fn block_max(value: vec4f, lid: u32) -> vec4f {
  block_tree[lid] = value;
  workgroupBarrier();
  for (var s = THREADS / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { block_tree[lid] = max(block_tree[lid], block_tree[lid + s]); }
    workgroupBarrier();
  }
  let total = block_tree[0];
  workgroupBarrier();
  return total;
}
