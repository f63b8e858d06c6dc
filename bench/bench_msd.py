"""Benchmarks of issue 18 part B: k-means on a pixel sample vs on all pixels (NeuBoot's labeler), and an MSD training step vs the thesis U-Net's.

Run alone with `python bench/bench_msd.py [names] [--repeats N]` (results go to bench/results/), or through `bench/run.py`
once it imports this module.
"""
from __future__ import annotations
import sys, warnings
from pathlib import Path
import numpy as np
import torch
sys.path.insert(0, str(Path(__file__).parent))
from harness import benchmark, run_benchmarks

def _real_1024() -> np.ndarray:
    "A real fluorescence image (`nuclei`, first test image), reflect-padded to 1024 × 1024."
    from segkit.data.sources import get_source
    im = get_source('nuclei').arrays('test', None, ndim=2)[0][0]
    h, w = im.shape
    return np.pad(im, ((0, max(0, 1024 - h)), (0, max(0, 1024 - w))), mode='reflect')[:1024, :1024]

@benchmark('kmeans_labeler', 'kmeans_labeler, fit on a 20,000-pixel sample', 'k-means fit on all 1,048,576 pixels',
           "NeuBoot's k-means labeler (k = 2, n_init = 10) on a real 1024² fluorescence image; agreement of the two masks", max_repeats=2)
def _kmeans():
    from segkit.pseudo.neuboot import kmeans_labeler
    im = _real_1024()
    last = {}
    def cand(): last['sample'] = kmeans_labeler(im, sample=20_000, seed=0)
    def ref(): last['all'] = kmeans_labeler(im, sample=None, seed=0)
    def extra():   # the masks of the last timed calls
        a, b = last['sample'], last['all']
        return dict(agreement=round(float((a == b).mean()), 5), fg_sample=round(float(a.mean()), 4), fg_all=round(float(b.mean()), 4))
    return cand, ref, extra

def _step(model, x, y):
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    def f():
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward(); opt.step()
    return f

def _msd_vs_unet(depth):
    from segkit.core import default_device
    from segkit.models.msd import MSD
    from segkit.models.unet import UNet
    dev = default_device()
    torch.manual_seed(0)
    x = torch.rand(8, 1, 128, 128, device=dev); y = (x[:, 0] > 0.5).long()
    msd, unet = MSD(1, 2, depth=depth).to(dev), UNet(1, 2, depth=3, base=16).to(dev)
    return _step(msd, x, y), _step(unet, x, y), lambda: dict(msd_params=sum(p.numel() for p in msd.parameters()),
                                                             unet_params=sum(p.numel() for p in unet.parameters()))

@benchmark('msd25_step', 'MSD depth 25, width 1', 'thesis U-Net depth 3 / 16 maps (unpool decoder)',
           'one Adam step, batch 8 of 1×128×128, 2 classes', max_repeats=5)
def _msd25(): return _msd_vs_unet(25)

@benchmark('msd50_step', 'MSD depth 50, width 1', 'thesis U-Net depth 3 / 16 maps (unpool decoder)',
           'one Adam step, batch 8 of 1×128×128, 2 classes', max_repeats=5)
def _msd50(): return _msd_vs_unet(50)

if __name__ == '__main__':
    import argparse
    warnings.filterwarnings('ignore', category=FutureWarning)
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('names', nargs='*', default=['kmeans_labeler', 'msd25_step', 'msd50_step'])
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--out', default=str(Path(__file__).parent / 'results'))
    a = p.parse_args()
    run_benchmarks(a.names, a.repeats, a.out)
