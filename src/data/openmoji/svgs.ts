// The URLs of OpenMoji's colour SVGs in a Vite build: each SVG becomes an asset file of its own
// (never inlined), fetched only when drawn. Only production builds load this table
// (load-browser.ts): in the dev server, its 4495 imports would each be a request.
export const SVG_DIR = "../../../node_modules/openmoji/color/svg/";

export const SVG_URLS: Record<string, string> = import.meta.glob<string>(
  "../../../node_modules/openmoji/color/svg/*.svg",
  { query: "?url&no-inline", import: "default", eager: true },
);
