// Size-class buffer pool: released buffers are kept by size class and handed out again, so a
// steady-state training step creates no new GPUBuffer. Classes are powers of two below 1 MiB and
// steps of 1/8 of a power of two above (at most 12.5% waste).
//
// A request takes a free buffer of the smallest class that fits it, if that class is at most
// FIT_RATIO times its own: the activations a backward frees rarely match the gradients it asks
// for next, and with exact classes only the pool made new buffers beside them (9 MiB more at
// tips-micro's peak, 77 MiB at ViT-S/14's). Within a class the oldest free buffer goes first.
//
// A training step asks for the same sizes in the same order as the step before, and its bind
// groups can be reused only if it gets the same buffers. So the pool remembers the buffers it
// handed out while step() recorded one, and in the next step hands request k the buffer
// request k got last time, when that buffer is free and fits; otherwise it chooses as above.
// Once one step has run, the next gets exactly its buffers: each was free at that point of the
// step before, and the same releases have happened since the step began.

const STORAGE = 0x80 | 0x04 | 0x08; // STORAGE | COPY_SRC | COPY_DST, as numbers so no global is needed at import

export function sizeClass(bytes: number): number {
  const n = Math.max(16, Math.ceil(bytes / 16) * 16);
  const pow = 2 ** Math.ceil(Math.log2(n));
  if (pow <= 1 << 20) return pow;
  const step = pow / 16;
  return Math.ceil(n / step) * step;
}

/** The largest free buffer a request may take, as a multiple of its own size class. */
export const FIT_RATIO = 1.5;

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
  /** The classes with a free buffer, ascending. */
  private freeClasses: number[] = [];
  /** What the last step was handed, in order, and what this one has been so far. */
  private lastStep: GPUBuffer[] = [];
  private thisStep: GPUBuffer[] | null = null;
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

  /**
   * Runs `record`, a training step's recording: its requests are matched to the last step's, in
   * order, and what it is handed is what the next step will be offered (also when it throws).
   */
  step<T>(record: () => T): T {
    this.thisStep = [];
    try {
      return record();
    } finally {
      this.lastStep = this.thisStep;
      this.thisStep = null;
    }
  }

  acquire(bytes: number): GPUBuffer {
    const size = sizeClass(bytes);
    const buffer = this.takeAsLastStep(size) ?? this.takeFree(size) ?? this.create(size);
    this.thisStep?.push(buffer);
    this.bytesInUse += buffer.size;
    return buffer;
  }

  private takeAsLastStep(size: number): GPUBuffer | null {
    if (!this.thisStep) return null;
    const planned = this.lastStep[this.thisStep.length];
    if (!planned || planned.size < size || planned.size > size * FIT_RATIO) return null;
    const list = this.free.get(planned.size);
    const at = list ? list.indexOf(planned) : -1;
    if (!list || at < 0) return null; // still in use
    this.takeFrom(list, at);
    return planned;
  }

  private takeFree(size: number): GPUBuffer | null {
    const fit = this.freeClasses[lowerBound(this.freeClasses, size)];
    if (fit === undefined || fit > size * FIT_RATIO) return null;
    const list = this.free.get(fit) as GPUBuffer[];
    return this.takeFrom(list, list.length - 1);
  }

  private takeFrom(list: GPUBuffer[], at: number): GPUBuffer {
    const [buffer] = list.splice(at, 1);
    if (!list.length) this.freeClasses.splice(lowerBound(this.freeClasses, buffer.size), 1);
    return buffer;
  }

  private create(size: number): GPUBuffer {
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
    if (!list.length) this.freeClasses.splice(lowerBound(this.freeClasses, buffer.size), 0, buffer.size);
    // Kept in descending id order, so the last is the oldest (what takeFree hands out).
    const id = bufferId(buffer);
    const at = firstIndex(list.length, (i) => bufferId(list[i]) > id);
    list.splice(at, 0, buffer);
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
    this.freeClasses = [];
    this.lastStep = [];
    if (this.thisStep) this.thisStep = [];
  }
}

/** The first index of ascending `xs` whose value is at least `x`. */
function lowerBound(xs: number[], x: number): number {
  return firstIndex(xs.length, (i) => xs[i] < x);
}

/** Binary search over [0, n): the first index where `before` is false (true for all that precede it). */
function firstIndex(n: number, before: (i: number) => boolean): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (before(mid)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
