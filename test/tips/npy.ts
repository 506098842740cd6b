// .npy arrays and .npz (zip) files built in tests, including ones that lie: a zip entry whose
// deflate stream inflates far past the size its header declares, made without ever holding the
// inflated bytes.

/** The bytes of a .npy array: magic, version 1.0, the header padded to 64 bytes, then `body`. */
export function npy(descr: string, shape: number[], body: Uint8Array): Uint8Array {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(", ");
  let text = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${dims}), }`;
  text += `${" ".repeat(63 - ((10 + text.length) % 64))}\n`;
  const header = new TextEncoder().encode(text);
  const out = new Uint8Array(10 + header.length + body.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(header, 10);
  out.set(body, 10 + header.length);
  return out;
}

/** Bits written least significant first, as deflate packs them. */
class BitWriter {
  private bytes: number[] = [];
  private bit = 0;

  /** `n` bits of `value`, low bit first (deflate's header fields). */
  bits(value: number, n: number): void {
    for (let i = 0; i < n; i++) this.push((value >> i) & 1);
  }

  /** A Huffman code of `n` bits, high bit first. */
  code(value: number, n: number): void {
    for (let i = n - 1; i >= 0; i--) this.push((value >> i) & 1);
  }

  private push(b: number): void {
    if (this.bit === 0) this.bytes.push(0);
    this.bytes[this.bytes.length - 1] |= b << this.bit;
    this.bit = (this.bit + 1) % 8;
  }

  done(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

/**
 * A raw deflate stream (one fixed-Huffman block) of `prefix` followed by `zeros` zero bytes,
 * the zeros as runs of 258 copies: about 600 bytes per MiB inflated.
 */
export function deflatedZeros(prefix: Uint8Array, zeros: number): Uint8Array {
  const w = new BitWriter();
  w.bits(1, 1); // last block
  w.bits(1, 2); // fixed Huffman codes
  const literal = (v: number) => (v < 144 ? w.code(0x30 + v, 8) : w.code(0x190 + v - 144, 9));
  for (const b of prefix) literal(b);
  let left = zeros;
  if (left > 0) {
    literal(0);
    left--;
  }
  for (; left >= 258; left -= 258) {
    w.code(0xc5, 8); // length code 285: 258 bytes
    w.code(0, 5); // distance code 0: 1 byte back
  }
  for (; left > 0; left--) literal(0);
  w.code(0, 7); // end of block
  return w.done();
}

export interface ZipEntry {
  name: string;
  /** The entry's data as stored in the zip (raw deflate when `method` is 8). */
  data: Uint8Array;
  method: 0 | 8;
  /** The uncompressed size the headers declare. */
  size: number;
}

/** A zip of the given entries (CRCs left 0: the readers here do not check them). */
export function zip(entries: ZipEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = new TextEncoder().encode(e.name);
    const local = new Uint8Array(30 + name.length);
    const l = new DataView(local.buffer);
    l.setUint32(0, 0x04034b50, true);
    l.setUint16(4, 20, true);
    l.setUint16(8, e.method, true);
    l.setUint32(18, e.data.length, true);
    l.setUint32(22, e.size, true);
    l.setUint16(26, name.length, true);
    local.set(name, 30);
    const dir = new Uint8Array(46 + name.length);
    const c = new DataView(dir.buffer);
    c.setUint32(0, 0x02014b50, true);
    c.setUint16(4, 20, true);
    c.setUint16(6, 20, true);
    c.setUint16(10, e.method, true);
    c.setUint32(20, e.data.length, true);
    c.setUint32(24, e.size, true);
    c.setUint16(28, name.length, true);
    c.setUint32(42, offset, true);
    dir.set(name, 46);
    parts.push(local, e.data);
    central.push(dir);
    offset += local.length + e.data.length;
  }
  const centralSize = central.reduce((n, d) => n + d.length, 0);
  const end = new Uint8Array(22);
  const v = new DataView(end.buffer);
  v.setUint32(0, 0x06054b50, true);
  v.setUint16(8, entries.length, true);
  v.setUint16(10, entries.length, true);
  v.setUint32(12, centralSize, true);
  v.setUint32(16, offset, true);
  const all = [...parts, ...central, end];
  const out = new Uint8Array(all.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of all) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
