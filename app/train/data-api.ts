// What the page and the data worker say to each other on the drawing port: the data worker asks
// for an OpenMoji emoji drawn at a size, the page answers with its RGBA bytes or an error.

export interface RenderRequest {
  id: number;
  hexcode: string;
  size: number;
}

export interface RenderReply {
  id: number;
  bytes?: Uint8Array;
  error?: string;
}
