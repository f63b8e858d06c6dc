"""One prediction path: `predict_tiled`, `predict_masks`, `stack_features` and `predict_fewshot` are wrappers of
`segkit.infer.predict_maps`; their outputs on fixed models equal those of their own loops before the change
(`tests/data/dedup_before.npz`, written by `python tests/test_dedup.py --write` on the code before it)."""
import sys
from pathlib import Path
import numpy as np
import pytest
import torch
from torch import nn
from segkit.core import torch_seeded
from segkit.models.unet import UNet
from segkit.data.block import predict_tiled
from segkit.learner import predict_masks
from segkit.fewshot import FeatureStack, Perceptron, FewShotModel, stack_features, predict_fewshot

GOLDEN = Path(__file__).parent / 'data' / 'dedup_before.npz'

class Extractor(nn.Module):
    "A two-layer dilated-conv extractor with `features` (the few-shot contract)."
    def __init__(self, width=3):
        super().__init__()
        self.a, self.b = nn.Conv2d(1, width, 3, padding=1), nn.Conv2d(width, width, 3, padding=2, dilation=2)
    def features(self, x): h = torch.relu(self.a(x)); return torch.cat([h, torch.relu(self.b(h))], 1)
    def forward(self, x): return self.features(x)[:, :2]

def _models():
    "The fixed models: a small U-Net and a few-shot model over two extractors (weights seeded, then overwritten from the golden file when it exists)."
    with torch_seeded(0): net = UNet(1, 3, depth=2, base=4)
    last = [m for m in net.modules() if isinstance(m, nn.Conv2d)][-1]
    with torch.no_grad(): last.weight.mul_(20); last.bias.zero_()   # a confident net: every class wins somewhere
    with torch_seeded(1): exs = [Extractor(2), Extractor(2)]
    st = FeatureStack(exs)
    rng = np.random.default_rng([5, 1])
    perc = Perceptron(rng.normal(size=8), 0.3, rng.normal(size=8) * 0.1, np.abs(rng.normal(size=8)) + 0.5)
    return net, st, FewShotModel(st, perc)

def _images():
    "Images of two sizes, given as (H, W) and (1, H, W), and one larger image for tiling."
    rng = np.random.default_rng([5, 2])
    ims = [rng.normal(size=(24, 40)).astype(np.float32), rng.normal(size=(1, 32, 32)).astype(np.float32),
           rng.normal(size=(24, 40)).astype(np.float32), rng.normal(size=(1, 24, 40)).astype(np.float32)]
    return ims, rng.normal(size=(50, 61)).astype(np.float32)

def _outputs(net, st, fm, ims, big) -> dict:
    preds, probs = predict_masks(net, ims, bs=2, return_probs=True)
    out = {f'mask{i}': p for i, p in enumerate(preds)} | {f'prob{i}': p for i, p in enumerate(probs)}
    out |= {f'feat{i}': f for i, f in enumerate(stack_features(st, ims, bs=3))}
    out |= {f'fs{i}': f for i, f in enumerate(predict_fewshot(fm, ims, bs=3))}
    out['tiled'] = predict_tiled(net, big, tile=24, overlap=6, bs=3)
    out['tiled_c'] = predict_tiled(net, big[None], tile=32, overlap=0, bs=1)
    return out

def _state(net, fm) -> dict:
    return {f'net.{k}': v.numpy() for k, v in net.state_dict().items()} | {f'fm.{k}': v.numpy() for k, v in fm.state_dict().items()}

def _load(net, fm, z):
    net.load_state_dict({k[4:]: torch.from_numpy(z[k]) for k in z.files if k.startswith('net.')})
    fm.load_state_dict({k[3:]: torch.from_numpy(z[k]) for k in z.files if k.startswith('fm.')})

@pytest.fixture(scope='module')
def golden():
    if not GOLDEN.exists(): pytest.fail(f"missing {GOLDEN}: it is committed with this test")
    return np.load(GOLDEN)

def test_wrappers_reproduce_their_loops_before_the_change(golden):
    net, st, fm = _models(); _load(net, fm, golden)
    ims, big = _images()
    got = _outputs(net, st, fm, ims, big)
    assert sorted(got) == sorted(k for k in golden.files if '.' not in k)
    for k, v in got.items():
        assert v.shape == golden[k].shape, k
        if k.startswith('mask'): np.testing.assert_array_equal(v, golden[k], err_msg=k)
        else: np.testing.assert_allclose(v, golden[k], atol=1e-5, rtol=1e-5, err_msg=k)

def test_golden_is_not_trivial(golden):
    "The comparison could not pass vacuously: masks use every class, tiles meet borders, few-shot maps vary."
    assert len(np.unique(np.concatenate([golden[f'mask{i}'].ravel() for i in range(4)]))) == 3
    assert golden['tiled'].shape == (3, 50, 61) and golden['fs0'].std() > 1e-3
    net, st, fm = _models(); _load(net, fm, golden)
    ims, big = _images()
    whole = predict_masks(net, [big], return_probs=True)[1][0]
    assert np.abs(whole - golden['tiled']).max() > 1e-4   # tiling changes a context model's output: the tiled golden is really tiled

def test_predict_masks_keeps_order_and_returns_only_masks_without_probs():
    net, st, fm = _models()
    ims, _ = _images()
    masks = predict_masks(net, ims, bs=3)
    assert [m.shape for m in masks] == [(24, 40), (32, 32), (24, 40), (24, 40)] and all(m.dtype == np.int64 for m in masks)
    assert predict_masks(net, []) == []

def test_infer_imports_nothing_above_core():
    "`segkit.data.block` (layer 1) wraps `segkit.infer`: importing infer must not pull in data, learner or models."
    import subprocess
    code = "import sys, segkit.infer; print(sorted(m for m in sys.modules if m.startswith('segkit.') and m not in ('segkit.core', 'segkit.infer', 'segkit.registry')))"
    res = subprocess.run([sys.executable, '-W', 'ignore', '-c', code], capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == '[]'

def test_one_otsu_the_skimage_one():
    "`otsu_mask` and the 'otsu' mask method threshold with `skimage.filters.threshold_otsu` (a real photograph)."
    from skimage import data
    from skimage.filters import threshold_otsu
    from segkit.explain.masks import otsu_mask, MASK_METHODS
    img = data.camera()[::4, ::4].astype(np.float32) / 255
    np.testing.assert_array_equal(otsu_mask(img), img > threshold_otsu(img))
    np.testing.assert_array_equal(MASK_METHODS['otsu'](img), otsu_mask(img))
    assert 0.2 < otsu_mask(img).mean() < 0.8 and not otsu_mask(np.full((8, 8), 0.3)).any()

if __name__ == '__main__' and '--write' in sys.argv:
    net, st, fm = _models(); ims, big = _images()
    np.savez_compressed(GOLDEN, **_outputs(net, st, fm, ims, big), **_state(net, fm))
    print('wrote', GOLDEN, GOLDEN.stat().st_size, 'bytes')
