"""Runs the tips_torch tests (unittest) and writes {"passed": N, "failed": N} to the JSON file
given, for scripts/test.mjs. Usage: python3 python/tests/run.py REPORT.json
Without PyTorch the tests are skipped with a line saying so, or fail with TIPS_REQUIRE_TORCH=1."""
import json
import os
import sys
import unittest


def main():
    try:
        import torch  # noqa: F401
    except ImportError:
        # npm test on a machine without PyTorch skips them, saying so; .ci/run installs PyTorch
        # and sets TIPS_REQUIRE_TORCH, so that there a missing PyTorch fails instead.
        required = os.environ.get("TIPS_REQUIRE_TORCH") == "1"
        print(f"the tips_torch tests need PyTorch for {sys.executable} ({'failed' if required else 'skipped'}): "
              "apt-get install python3-torch")
        with open(sys.argv[1], "w") as f:
            json.dump({"passed": 0, "failed": 1 if required else 0}, f)
        sys.exit(1 if required else 0)
    tests = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.dirname(tests))
    result = unittest.TextTestRunner(verbosity=2).run(
        unittest.defaultTestLoader.discover(tests, top_level_dir=os.path.dirname(tests)))
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    with open(sys.argv[1], "w") as f:
        json.dump({"passed": result.testsRun - failed - len(result.skipped), "failed": failed}, f)
    sys.exit(0 if failed == 0 else 1)


# Under a guard: the DDP test's worker processes import this module again (multiprocessing spawn).
if __name__ == "__main__":
    main()
