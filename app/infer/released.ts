// The released TIPS and TIPSv2 checkpoints (PyTorch .npz, as google-deepmind/tips's README and
// pytorch/checkpoints/download_checkpoints.sh list them) and what they need of the GPU: the
// encoder keeps all its parameters in one f32 buffer (checkEncoderFits), so the adapter's largest
// buffer decides which sizes can load.

const V1 = "https://storage.googleapis.com/tips_data/v1_0/checkpoints/pytorch/";
const V2 = "https://storage.googleapis.com/tips_data/v2_0/checkpoints/pytorch/";
/** One tokenizer serves every release. */
const TOKENIZER = "https://storage.googleapis.com/tips_data/v1_0/checkpoints/tokenizer.model";

export interface ReleasedModel {
  label: string;
  vision: string;
  text: string;
  tokenizer: string;
  /** Parameters of the image and text encoders, as the README gives them. */
  visionParams: number;
  textParams: number;
}

function release(label: string, base: string, name: string, vision: number, text: number): ReleasedModel {
  return {
    label,
    vision: `${base}${name}_vision.npz`,
    text: `${base}${name}_text.npz`,
    tokenizer: TOKENIZER,
    visionParams: vision * 1e6,
    textParams: text * 1e6,
  };
}

export const RELEASED: readonly ReleasedModel[] = [
  release("TIPSv2 B/14", V2, "tips_v2_oss_b14", 85.7, 109.6),
  release("TIPSv2 L/14", V2, "tips_v2_oss_l14", 303.2, 183.9),
  release("TIPSv2 SO/14", V2, "tips_v2_oss_so14", 412.4, 448.3),
  release("TIPSv2 g/14", V2, "tips_v2_oss_g14", 1100, 389.1),
  release("TIPS S/14 high-res", V1, "tips_oss_s14_highres_distilled", 21.6, 33.6),
  release("TIPS B/14 high-res", V1, "tips_oss_b14_highres_distilled", 85.7, 109.6),
  release("TIPS L/14 high-res", V1, "tips_oss_l14_highres_distilled", 303.2, 183.9),
  release("TIPS SO/14 high-res", V1, "tips_oss_so400m14_highres_largetext_distilled", 412.4, 448.3),
  release("TIPS g/14 high-res", V1, "tips_oss_g14_highres", 1100, 389.1),
  release("TIPS g/14 low-res", V1, "tips_oss_g14_lowres", 1100, 389.1),
];

/** Bytes of the one f32 buffer that holds a released model's parameters. */
export function releasedGpuBytes(m: ReleasedModel): number {
  return 4 * (m.visionParams + m.textParams);
}

/** The most bytes one buffer may hold on this adapter. */
export function bufferLimit(limits: Record<string, number>): number {
  return Math.min(limits.maxBufferSize ?? Infinity, limits.maxStorageBufferBindingSize ?? Infinity);
}

/** The released models whose parameters fit one buffer of `limit` bytes, smallest last. */
export function releasedThatFit(limit: number): ReleasedModel[] {
  return RELEASED.filter((m) => releasedGpuBytes(m) <= limit).sort(
    (a, b) => releasedGpuBytes(b) - releasedGpuBytes(a),
  );
}
