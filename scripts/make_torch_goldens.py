"""Record torchvision's logits for the seeded random weights of tests/torch_goldens.py.

Run once by a developer, in an environment with torch and torchvision (keras is
not needed):

    python3 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install torch==2.14.1 torchvision==0.29.1 timm numpy
    /tmp/torchvenv/bin/python scripts/make_torch_goldens.py

It writes tests/goldens/torchvision_logits.npz (a few KB): for each model of
`torch_goldens.DEPTHS` (resnet18..152, ResNeXt and Wide ResNet from torchvision,
ResNet-D from timm), the float64 logits of the peer's model for the fixed input,
plus fingerprints of the weights and input (so the tests notice when numpy
draws other numbers) and the versions used. tests/test_torch_goldens.py
regenerates the same weights with numpy, loads them through the .safetensors
path and compares.
"""

import os
import sys

import numpy as np
import timm
import torch
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import torch_goldens as g  # noqa: E402


def main() -> None:
    torch.manual_seed(0)
    x = torch.from_numpy(g.random_input()).double()
    out = {"torch_version": np.array(torch.__version__),
           "torchvision_version": np.array(torchvision.__version__),
           "timm_version": np.array(timm.__version__),
           "numpy_version": np.array(np.__version__),
           "input_fingerprint": g.fingerprint([g.random_input()])}
    for name, (*_, library) in g.DEPTHS.items():
        if library == "timm":
            model = timm.create_model(name, pretrained=False, num_classes=g.NUM_CLASSES)
        else:
            model = getattr(torchvision.models, name)(weights=None, num_classes=g.NUM_CLASSES)
        state = g.random_state_dict(name)
        expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        ours = {k: tuple(v.shape) for k, v in state.items()}
        assert ours == expected, f"{name}: generated keys/shapes differ from torchvision's"
        model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()},
                              strict=True)
        model = model.double().eval()
        with torch.no_grad():
            logits = model(x).numpy()
        print(f"{name}: logits in [{logits.min():.3f}, {logits.max():.3f}]")
        out[f"{name}_logits"] = logits
        out[f"{name}_fingerprint"] = g.fingerprint(state.values())
    os.makedirs(os.path.dirname(g.GOLDENS_PATH), exist_ok=True)
    np.savez_compressed(g.GOLDENS_PATH, **out)
    print(f"wrote {g.GOLDENS_PATH} ({os.path.getsize(g.GOLDENS_PATH)} bytes)")


if __name__ == "__main__":
    main()
