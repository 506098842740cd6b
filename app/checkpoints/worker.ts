// Validates imported checkpoint files off the page's thread (parsing a large file's header and
// tensors would block it) and adds them to the catalogue. No GPU.
import * as Comlink from "comlink";
import { CheckpointCatalogue, type CheckpointEntry } from "../../src/train/catalogue";

const catalogue = new CheckpointCatalogue();

const api = {
  /** Validates a checkpoint file and adds it to the catalogue (nothing is saved if it is invalid). */
  importCheckpoint(bytes: Uint8Array, name: string): Promise<CheckpointEntry> {
    return catalogue.import(bytes, name);
  },
};

export type CatalogueApi = typeof api;

Comlink.expose(api);
