// GPU time per kernel from timestamp queries. When enabled, every dispatch gets its own compute
// pass with begin/end timestamps (this serialises passes a little: use it to find where time
// goes, not to measure peak speed). Results are read back asynchronously after each flush.

const CAPACITY = 4096; // timestamps per submission (2 per dispatch)
const QUERY_RESOLVE = 0x0200;
const COPY_SRC = 0x0004;
const COPY_DST = 0x0008;
const MAP_READ = 0x0001;

export interface KernelTime {
  kernel: string;
  calls: number;
  totalMs: number;
}

export class Profiler {
  enabled = false;
  private querySet: GPUQuerySet;
  private resolveBuf: GPUBuffer;
  private labels: string[] = [];
  private pending: Promise<void>[] = [];
  private totals = new Map<string, KernelTime>();

  constructor(private device: GPUDevice) {
    this.querySet = device.createQuerySet({ type: "timestamp", count: CAPACITY });
    this.resolveBuf = device.createBuffer({ size: CAPACITY * 8, usage: QUERY_RESOLVE | COPY_SRC });
  }

  nextPass(label: string): GPUComputePassTimestampWrites | undefined {
    if (2 * this.labels.length + 2 > CAPACITY) return undefined;
    const i = this.labels.push(label) - 1;
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  private readback: GPUBuffer | null = null;

  resolve(encoder: GPUCommandEncoder): void {
    if (!this.labels.length) return;
    const bytes = this.labels.length * 16;
    encoder.resolveQuerySet(this.querySet, 0, 2 * this.labels.length, this.resolveBuf, 0);
    this.readback = this.device.createBuffer({ size: bytes, usage: MAP_READ | COPY_DST });
    encoder.copyBufferToBuffer(this.resolveBuf, 0, this.readback, 0, bytes);
  }

  collect(): void {
    const buf = this.readback;
    const labels = this.labels;
    this.readback = null;
    this.labels = [];
    if (!buf) return;
    this.pending.push(
      buf.mapAsync(MAP_READ).then(() => {
        const t = new BigUint64Array(buf.getMappedRange());
        labels.forEach((kernel, i) => {
          const ms = Number(t[2 * i + 1] - t[2 * i]) / 1e6;
          const entry = this.totals.get(kernel) ?? { kernel, calls: 0, totalMs: 0 };
          entry.calls++;
          entry.totalMs += ms;
          this.totals.set(kernel, entry);
        });
        buf.destroy();
      }),
    );
  }

  /** Per-kernel totals since the last reset, slowest first. */
  async report(): Promise<KernelTime[]> {
    await Promise.all(this.pending);
    this.pending = [];
    return [...this.totals.values()].sort((a, b) => b.totalMs - a.totalMs);
  }

  reset(): void {
    this.totals.clear();
  }
}
