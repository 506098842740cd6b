// The app shell: four pages behind a small nav (Train, the default; Inference; Checkpoints;
// Self-check), each started the first time it is shown. Without WebGPU each GPU page says so
// with the same message; the Checkpoints page works without a GPU.
import type { CheckpointEntry } from "../src/train/catalogue";
import { byId } from "./common/dom";
import type { InferPage } from "./infer/page";
import type { TrainPage } from "./train/page";

const PAGES = ["train", "infer", "checkpoints", "selfcheck"] as const;
type PageName = (typeof PAGES)[number];

const TITLES: Record<PageName, string> = {
  train: "Train",
  infer: "Inference",
  checkpoints: "Checkpoints",
  selfcheck: "Self-check",
};

function showGpuError(err: unknown): void {
  const e = err instanceof Error ? err : new Error(String(err));
  const box = byId("gpu-error");
  if (e.name !== "NoWebGPUError") box.querySelector("h2")!.textContent = "Could not start the GPU";
  byId("gpu-error-message").textContent = e.message;
  box.hidden = false;
}

interface Page {
  /** Called each time the page is shown again. */
  shown?: () => void;
  /** The Train page's object, for resuming a checkpoint from the Checkpoints page. */
  train?: TrainPage;
  /** The Inference page's object, for opening a checkpoint there from the other pages. */
  infer?: InferPage;
}

const started = new Map<PageName, Promise<Page>>();

/** The Train page, started (and its GPU acquired) if it was not yet. */
async function trainPage(): Promise<TrainPage> {
  return (await start("train")).train!;
}

/** From the Checkpoints page: show the Train page and continue the checkpoint's run there. */
async function resumeOnTrain(entry: CheckpointEntry): Promise<void> {
  location.hash = "#train";
  (await trainPage()).resumeFrom(entry.id);
}

/** From the Train or Checkpoints page: show the Inference page with the checkpoint loaded. */
async function openInInference(id: string): Promise<void> {
  location.hash = "#infer";
  (await start("infer")).infer!.openCheckpoint(id);
}

async function load(page: PageName): Promise<Page> {
  // Each page's code loads when it is first shown (a page that fails to load leaves the others working).
  switch (page) {
    case "train": {
      const { TrainPage } = await import("./train/page");
      const p = new TrainPage(showGpuError, openInInference);
      await p.init();
      return { train: p, shown: () => p.shown() };
    }
    case "infer": {
      const { InferPage } = await import("./infer/page");
      const p = new InferPage(showGpuError);
      await p.init();
      return { infer: p, shown: () => p.shown() };
    }
    case "checkpoints": {
      const { CheckpointsPage } = await import("./checkpoints/page");
      const p = new CheckpointsPage(resumeOnTrain, (e) => openInInference(e.id));
      await p.init();
      return { shown: () => p.refresh() };
    }
    case "selfcheck": {
      const { startSelfCheck } = await import("./selfcheck/page");
      await startSelfCheck(showGpuError);
      return {};
    }
  }
}

function start(page: PageName): Promise<Page> {
  let p = started.get(page);
  if (p) return p;
  p = load(page);
  started.set(page, p);
  p.catch((err) => showGpuError(new Error(`the ${page} page failed to load: ${(err as Error).message}`)));
  return p;
}

function route(): void {
  const wanted = location.hash.replace(/^#/, "");
  const page: PageName = (PAGES as readonly string[]).includes(wanted) ? (wanted as PageName) : "train";
  for (const p of PAGES) byId(`page-${p}`).hidden = p !== page;
  for (const a of document.querySelectorAll<HTMLAnchorElement>("nav.tabs a")) {
    if (a.dataset.page === page) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  document.title = `${TITLES[page]} · TIPS WebGPU`;
  const again = started.has(page);
  const p = start(page);
  if (again) p.then((x) => x.shown?.()).catch(() => {});
}

window.addEventListener("hashchange", route);
route();
