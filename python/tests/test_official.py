"""tips_torch's encoders on the official checkpoints of test/fixtures/official (small random
ones in the official .npz layout), against the official PyTorch code's outputs stored with them."""
import os
import unittest

import torch

from tips_torch.model import TextEncoder, VisionEncoder
from tips_torch.npz import WeightsError, load_official, read_npz, text_config, vision_config

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "fixtures", "official")
TOLERANCE = 2e-4  # as test/tips/official.test.ts


def fixture(name):
    return read_npz(os.path.join(FIXTURES, name))


class Official(unittest.TestCase):
    def check_vision(self, weights, io, cases):
        arrays = fixture(weights)
        encoder = VisionEncoder(vision_config(arrays, heads=2))
        self.assertEqual(load_official(encoder, arrays), [])
        out = fixture(io)
        with torch.no_grad():
            for images, prefix in cases:
                cls1, cls2, patches = encoder(out[images])
                for name, value in (("cls1", cls1), ("cls2", cls2), ("patches", patches)):
                    torch.testing.assert_close(value, out[prefix + name], rtol=0, atol=TOLERANCE)

    def test_image_encoder_also_on_a_resized_position_grid(self):
        self.check_vision("vision.npz", "io.npz", [("images_a", "a_"), ("images_b", "b_")])

    def test_swiglu_image_encoder(self):
        self.check_vision("vision_swiglu.npz", "io_swiglu.npz", [("images", "")])

    def test_text_encoder_with_padding(self):
        arrays = fixture("text.npz")
        encoder = TextEncoder(text_config(arrays, heads=2, max_length=6))
        self.assertEqual(load_official(encoder, arrays), ["temperature"])
        io = fixture("io.npz")
        with torch.no_grad():
            torch.testing.assert_close(encoder(io["ids"].long()), io["text"], rtol=0, atol=TOLERANCE)

    def test_refuses_weights_that_do_not_fit_and_loads_nothing(self):
        arrays = fixture("vision.npz")
        config = vision_config(arrays, heads=2)
        config["mlpHidden"] = 64
        encoder = VisionEncoder(config)
        before = encoder.cls_token.detach().clone()
        with self.assertRaisesRegex(WeightsError, "blocks.0.mlp.fc1.weight: file has \\[128, 32\\], model has \\[64, 32\\]"):
            load_official(encoder, arrays)
        torch.testing.assert_close(encoder.cls_token.detach(), before)


if __name__ == "__main__":
    unittest.main()
