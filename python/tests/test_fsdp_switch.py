"""--fsdp on a torch that cannot shard (before 2.0; 1.13's FSDP does not even import on Python
3.11) is one line saying so and what to do, exit 2, before any process group starts."""
import os
import subprocess
import sys
import unittest

import torch

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def has_fsdp():
    try:
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
    except Exception:  # whatever torch raises there
        return False
    return hasattr(FSDP, "optim_state_dict")


class FsdpSwitch(unittest.TestCase):
    @unittest.skipIf(has_fsdp(), f"torch {torch.__version__} has FSDP: the switch runs")
    def test_old_torch_is_told_in_one_line(self):
        env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "python")}
        r = subprocess.run([sys.executable, "-m", "tips_torch.train", "--fsdp", "--preset", "tips-test",
                            "--steps", "1", "--batch", "2", "--out", os.devnull, "--device", "cpu"],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(r.stderr.strip().count("\n"), 0, r.stderr)
        self.assertTrue(r.stderr.startswith(f"tips_torch.train: --fsdp needs PyTorch 2.0 or newer; this is "
                                            f"{torch.__version__}"), r.stderr)
        self.assertIn("train with DDP (leave out --fsdp)", r.stderr)


if __name__ == "__main__":
    unittest.main()
