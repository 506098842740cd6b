// The element of a flat kernel's invocation: workgroups of WG in a grid that grid1d folds into y
// past 65535 groups in x. Callers bounds-check the result.
#include workgroup

fn flat_index(wg: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wg.y * nwg.x + wg.x) * WG + lid;
}
