// The workgroup size of the flat (one invocation per element) kernels: WG in src/gpu/wgsl-lib.ts
// is the same number, and grid1d's default; that file checks that the two agree.
const WG = 256u;
