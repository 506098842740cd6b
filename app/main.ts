// The app shell: two pages behind a small nav (Train, the default, and Self-check), each started
// the first time it is shown. Without WebGPU both say so with the same message.
import { byId } from "./dom";

const PAGES = ["train", "selfcheck"] as const;
type PageName = (typeof PAGES)[number];

function showGpuError(err: unknown): void {
  const e = err instanceof Error ? err : new Error(String(err));
  const box = byId("gpu-error");
  if (e.name !== "NoWebGPUError") box.querySelector("h2")!.textContent = "Could not start the GPU";
  byId("gpu-error-message").textContent = e.message;
  box.hidden = false;
}

const started = new Set<PageName>();

function start(page: PageName): void {
  if (started.has(page)) return;
  started.add(page);
  // Each page's code loads when it is first shown (a page that fails to load leaves the other working).
  const load =
    page === "train"
      ? import("./train").then(({ TrainPage }) => new TrainPage(showGpuError).init())
      : import("./selfcheck").then(({ startSelfCheck }) => startSelfCheck(showGpuError));
  load.catch((err) => showGpuError(new Error(`the ${page} page failed to load: ${(err as Error).message}`)));
}

function route(): void {
  const wanted = location.hash.replace(/^#/, "");
  const page: PageName = (PAGES as readonly string[]).includes(wanted) ? (wanted as PageName) : "train";
  for (const p of PAGES) byId(`page-${p}`).hidden = p !== page;
  for (const a of document.querySelectorAll<HTMLAnchorElement>("nav.tabs a")) {
    if (a.dataset.page === page) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  document.title = `${page === "train" ? "Train" : "Self-check"} · TIPS WebGPU`;
  start(page);
}

window.addEventListener("hashchange", route);
route();
