// What the Inference page and its worker say to each other. Types only, so that the page can
// import them without loading the engine on its own thread.

export interface EncoderInfo {
  /** What was loaded: a checkpoint's name or the file names. */
  name: string;
  source: "catalogue" | "file" | "official";
  /** The preset (our checkpoints) or "official". */
  preset: string;
  imageSize: number;
  patchSize: number;
  width: number;
  depth: number;
  textWidth: number;
  textLength: number;
  parameters: number;
  tokenizer: string;
  /** Input sizes offered (multiples of the patch size), the training size first among them. */
  sizes: number[];
}

/** An image as the encoder saw it, and the PCA of its patch features. */
export interface ImageReport {
  /** The input side in pixels. */
  size: number;
  /** Patches per side. */
  grid: number;
  /** The image resized to the view's side, RGBA (what the maps are drawn over). */
  view: { side: number; data: Uint8ClampedArray };
  /** [grid * grid] RGBA: the top 3 principal components of the patch features as R, G, B. */
  pca: Uint8ClampedArray;
  /** Share of the variance along each of the 3 components. */
  explained: number[];
  /** Milliseconds for the forward pass and the PCA. */
  forwardMs: number;
  pcaMs: number;
}

export interface SegmentReport {
  /** [grid * grid] class index per patch. */
  labels: Int32Array;
  /** Patches won by each class. */
  counts: number[];
}

export interface CaptionReport {
  /** Cosine of each caption's embedding with the image's CLS#1 and CLS#2. */
  cls1: number[];
  cls2: number[];
}

/** The image the worker holds, as it was decoded. */
export interface LoadedImage {
  name: string;
  width: number;
  height: number;
}

/** A built-in sample image (a held-out scene) and what is known about it. */
export interface SampleImage extends LoadedImage {
  /** The scenes' class names, background first. */
  classes: string[];
  /** Its web and synthetic captions, then those of a few other held-out scenes. */
  captions: string[];
  /** A text query naming the scene's nearest object, e.g. "a red circle". */
  query: string;
}

/** How much an evaluation of the loaded encoder measures on (see EvalOptions). */
export interface EvalSettings {
  /** Train-split scenes the probes and kNN are fitted on. */
  train: number;
  /** Held-out scenes everything is measured on. */
  test: number;
  probeSteps: number;
}

/** Caption retrieval on a few held-out scenes: whether the text side has learned anything yet. */
export interface TextCheck {
  /** Scenes, each with its own web and synthetic caption among the others'. */
  scenes: number;
  /** Image-to-text Recall@1: CLS#1 among the web captions, CLS#2 among the synthetic ones. */
  cls1: number;
  cls2: number;
}
