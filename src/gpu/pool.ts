// Size-class buffer pool: released buffers are kept by size class and handed out again, so a
// steady-state training step creates no new GPUBuffer. Classes are powers of two below 1 MiB and
// steps of 1/8 of a power of two above (at most 12.5% waste). A class hands out its oldest free
// buffer, so that a step recorded like the one before gets the same buffers (and the bind groups
// made for them can be reused), whatever order the last step released them in.

const STORAGE = 0x80 | 0x04 | 0x08; // STORAGE | COPY_SRC | COPY_DST, as numbers so no global is needed at import

export function sizeClass(bytes: number): number {
  const n = Math.max(16, Math.ceil(bytes / 16) * 16);
  const pow = 2 ** Math.ceil(Math.log2(n));
  if (pow <= 1 << 20) return pow;
  const step = pow / 16;
  return Math.ceil(n / step) * step;
}

const ids = new WeakMap<GPUBuffer, number>();
let nextId = 1;

/** A number that names the buffer for as long as it lives (in creation order for pooled ones). */
export function bufferId(buffer: GPUBuffer): number {
  let id = ids.get(buffer);
  if (id === undefined) {
    id = nextId++;
    ids.set(buffer, id);
  }
  return id;
}

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  /** GPUBuffers created so far; a memory test checks that it stops growing. */
  created = 0;
  /** Bytes of live storage buffers: pooled ones and the unpooled ones below (parameter slabs). */
  bytesCreated = 0;
  /** The most bytesCreated has been since the last resetPeak(): the GPU memory a job needed. */
  peakBytes = 0;
  bytesInUse = 0;

  constructor(
    private device: GPUDevice,
    /** Told of every buffer the pool destroys (the bind group cache forgets it). */
    private destroyed: (buffer: GPUBuffer) => void = () => {},
  ) {}

  acquire(bytes: number): GPUBuffer {
    const size = sizeClass(bytes);
    const list = this.free.get(size);
    this.bytesInUse += size;
    const reused = list?.pop();
    if (reused) return reused;
    this.created++;
    this.grew(size);
    const buffer = this.device.createBuffer({ size, usage: STORAGE });
    bufferId(buffer);
    return buffer;
  }

  /** A storage buffer of exactly `bytes` that the caller owns (a slab), counted with the rest. */
  createUnpooled(bytes: number): GPUBuffer {
    this.grew(bytes);
    return this.device.createBuffer({ size: bytes, usage: STORAGE });
  }

  destroyUnpooled(buffer: GPUBuffer): void {
    this.bytesCreated -= buffer.size;
    this.destroyed(buffer);
    buffer.destroy();
  }

  resetPeak(): void {
    this.peakBytes = this.bytesCreated;
  }

  private grew(bytes: number): void {
    this.bytesCreated += bytes;
    this.peakBytes = Math.max(this.peakBytes, this.bytesCreated);
  }

  release(buffer: GPUBuffer): void {
    this.bytesInUse -= buffer.size;
    let list = this.free.get(buffer.size);
    if (!list) {
      list = [];
      this.free.set(buffer.size, list);
    }
    // Kept in descending id order, so pop() hands out the oldest.
    const id = bufferId(buffer);
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (bufferId(list[mid]) > id) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, buffer);
  }

  /** Destroys every pooled (free) buffer, e.g. after a large one-off job. */
  trim(): void {
    for (const list of this.free.values()) {
      for (const b of list) {
        this.bytesCreated -= b.size;
        this.destroyed(b);
        b.destroy();
      }
    }
    this.free.clear();
  }
}
