import type { OpCase } from "../check";
import { patchify } from "../patchify";

function refPatchify([b, c, h, w]: number[], p: number) {
  return ([x]: Float64Array[]) => {
    const gh = Math.floor(h / p);
    const gw = Math.floor(w / p);
    const out = new Float64Array(b * gh * gw * c * p * p);
    let i = 0;
    for (let bi = 0; bi < b; bi++)
      for (let gy = 0; gy < gh; gy++)
        for (let gx = 0; gx < gw; gx++)
          for (let ci = 0; ci < c; ci++)
            for (let dy = 0; dy < p; dy++)
              for (let dx = 0; dx < p; dx++)
                out[i++] = x[((bi * c + ci) * h + gy * p + dy) * w + gx * p + dx];
    return out;
  };
}

const cases: [number[], number][] = [
  [[1, 1, 1, 1], 1],
  [[2, 3, 8, 8], 4],
  [[3, 3, 14, 28], 14],
  [[1, 3, 30, 17], 8], // leftover rows and columns are dropped
];

export const patchifyCases: OpCase[] = cases.map(([shape, p]) => ({
  name: `patchify ${shape} patch ${p}`,
  inputs: [{ shape }],
  run: ([x]) => patchify(x, p),
  reference: refPatchify(shape, p),
  atol: 0,
  rtol: 0,
  noGrad: true,
}));
