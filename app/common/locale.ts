// Imported before uPlot, which formats numbers with Intl.NumberFormat(navigator.language) as it
// loads: a browser started under a POSIX locale reports a language tag such as "en-US@posix",
// which Intl refuses, and the import would throw. Such a tag is replaced by its valid part.
function validTag(tag: string): boolean {
  try {
    new Intl.NumberFormat(tag);
    return true;
  } catch {
    return false;
  }
}

const nav = (globalThis as { navigator?: Navigator }).navigator;
if (nav && !validTag(nav.language)) {
  const base = nav.language.split(/[@.]/)[0].replace(/_/g, "-");
  Object.defineProperty(nav, "language", { value: validTag(base) ? base : "en-US", configurable: true });
}
