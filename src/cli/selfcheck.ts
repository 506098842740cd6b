// `tips selfcheck`: every op's kernel against its float64 reference and its backward against
// finite differences, on this machine's GPU: the checks of test/ops/checks.test.ts and of the app's
// Self-check page. Run it on a new GPU before trusting its training or its benchmark figures.
import { opFamilies, runChecks } from "../ops/checks";
import { CliError, parseCommand, stringOption } from "./args";
import { describeGpu, nodeGpu } from "./gpu";

const HELP = `usage: tips selfcheck [options]

Checks every op's WGSL kernel on this GPU against its float64 reference (odd shapes, forward and
finite-difference gradients), family by family; exits with 1 if any case fails.

  --family LIST        only these families, e.g. matmul,attention (default all: ${Object.keys(opFamilies).join(", ")})
  --swiftshader        run on the CPU (SwiftShader) when there is no GPU`;

const OPTIONS = { family: { type: "string" } } as const;

export async function selfcheck(argv: string[]): Promise<void> {
  const p = parseCommand(argv, OPTIONS, HELP);
  if (!p) return;
  if (p.positionals.length) throw new CliError(`unexpected argument "${p.positionals[0]}"\n\n${HELP}`);
  const families = stringOption(p, "family")?.split(",") ?? Object.keys(opFamilies);
  const unknown = families.filter((f) => !(f in opFamilies));
  if (unknown.length)
    throw new CliError(`unknown family "${unknown[0]}"; families: ${Object.keys(opFamilies).join(", ")}`);
  const gpu = await nodeGpu();
  console.log(`GPU: ${describeGpu(gpu)}`);
  const started = performance.now();
  let passed = 0;
  const failed: string[] = [];
  let current = "";
  let familyPassed = 0;
  const endFamily = () => {
    if (current) console.log(`${current}: ${familyPassed}/${opFamilies[current].length} passed`);
  };
  await runChecks(
    gpu,
    (family, _index, result) => {
      if (family !== current) {
        endFamily();
        current = family;
        familyPassed = 0;
      }
      if (result.ok) {
        passed++;
        familyPassed++;
      } else {
        failed.push(`${family}: ${result.name}: ${result.message}`);
        console.log(`  FAILED ${result.name}: ${result.message}`);
      }
    },
    families,
  );
  endFamily();
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`${passed} passed, ${failed.length} failed in ${seconds} s`);
  if (failed.length) process.exitCode = 1;
}
