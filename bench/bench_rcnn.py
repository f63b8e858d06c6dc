"""Benchmarks of issue 22 part 2: a U-Mask R-CNN training step vs plain Mask R-CNN's (target: ≤ 1.05× the time), and the
Mask R-CNN training step per image on the CPU at 256² against the thesis U-Net's (so users know what a quick preset can do).

Both train on real data: two 256² crops of `nuclei` training images with their expert instance labels (targets through
`segkit.learner_rcnn.RCNNDataset`; U-Mask certainty tags by the documented rule "touching another nucleus → uncertain").
The device is chosen at call time (CUDA when present). Run alone with `python bench/bench_rcnn.py [names] [--repeats N]`
(results go to bench/results/rcnn/), or through `bench/run.py` once it imports this module.
"""
from __future__ import annotations
import sys, warnings
from pathlib import Path
import numpy as np
import torch
sys.path.insert(0, str(Path(__file__).parent))
from harness import benchmark, run_benchmarks

def _real_batch(size:int=256, n:int=2, dev=None):
    "`n` real nuclei crops (size²) from the first training images, as torchvision inputs and U-Mask targets on `dev`."
    from segkit.data.sources import get_source
    from segkit.labels.objects import object_table
    from segkit.learner_rcnn import RCNNDataset
    src = get_source('nuclei')
    ims, labs = src.arrays(src.indices('train')[:n], 'mask', ndim=2)
    ims, labs = [im[:size, :size] for im in ims], [lb[:size, :size] for lb in labs]
    tab = object_table(labs)
    tags = [~g.touching.to_numpy() for _, g in tab.groupby('image')]      # certain unless it touches another nucleus
    ds = RCNNDataset(ims, labs, certain=tags, seed=0)
    xs, ts = zip(*[ds[i] for i in range(n)])
    mv = lambda t: {k: v.to(dev) if torch.is_tensor(v) else v for k, v in t.items()}
    return [x.to(dev) for x in xs], [mv(t) for t in ts], sum(len(t['boxes']) for t in ts)

def _rcnn_step(model, xs, ts):
    opt = torch.optim.AdamW(model.parameters(), 1e-4)
    model.train()
    def f():
        opt.zero_grad(set_to_none=True)
        sum(model(xs, ts).values()).backward(); opt.step()
    return f

@benchmark('umask_step_overhead', 'U-Mask R-CNN (ResNet-18-FPN, k = 6 head on the 1024-d box features)', 'Mask R-CNN (same backbone and weights)',
           'one AdamW training step, batch 2 of real 1×256×256 nuclei crops; target: candidate ≤ 1.05× reference (speed-up ≥ 0.952)', max_repeats=5)
def _umask_overhead():
    from segkit.core import default_device, torch_seeded
    from segkit.models.rcnn import mask_rcnn, umask_rcnn
    dev = default_device()
    xs, ts, n_obj = _real_batch(256, 2, dev)
    with torch_seeded(0): plain = mask_rcnn('resnet18', size=256).to(dev)
    with torch_seeded(0): um = umask_rcnn(backbone='resnet18', size=256).to(dev)
    um.load_state_dict(plain.state_dict(), strict=False)                   # identical detector; only the head differs
    cand, ref = _rcnn_step(um, xs, ts), _rcnn_step(plain, xs, ts)
    return cand, ref, lambda: dict(objects_in_batch=n_obj, head_params=sum(p.numel() for p in um.roi_heads.certainty.parameters()))

@benchmark('maskrcnn_step_256', 'Mask R-CNN ResNet-18-FPN training step', 'thesis U-Net depth 3 / 16 maps training step (cross-entropy, Adam)',
           'batch 2 of real 1×256×256 nuclei crops; extra: seconds per image for both and for the 2.4 M-parameter "tiny" Mask R-CNN', max_repeats=5)
def _maskrcnn_step():
    import time
    from segkit.core import default_device, torch_seeded
    from segkit.models.rcnn import mask_rcnn
    from segkit.models.unet import UNet
    dev = default_device()
    xs, ts, n_obj = _real_batch(256, 2, dev)
    with torch_seeded(0): r18, tiny, unet = mask_rcnn('resnet18', size=256).to(dev), mask_rcnn('tiny', size=256).to(dev), UNet(1, 2, depth=3, base=16).to(dev)
    x = torch.stack(xs); y = torch.stack([(t['masks'].sum(0) > 0).long() for t in ts])
    uopt = torch.optim.Adam(unet.parameters(), 1e-3)
    def ustep():
        uopt.zero_grad(set_to_none=True); torch.nn.functional.cross_entropy(unet(x), y).backward(); uopt.step()
    cand, tstep = _rcnn_step(r18, xs, ts), _rcnn_step(tiny, xs, ts)
    timed = {}
    def c(): t = time.perf_counter(); cand(); timed.setdefault('r18', []).append(time.perf_counter() - t)
    def r(): t = time.perf_counter(); ustep(); timed.setdefault('unet', []).append(time.perf_counter() - t)
    def extra():
        tt = []
        for _ in range(3): t = time.perf_counter(); tstep(); tt.append(time.perf_counter() - t)
        per = lambda v: round(float(np.median(v[1:] if len(v) > 1 else v)) / len(xs), 3)   # the first call was the warm-up
        return dict(device=str(dev), objects_in_batch=n_obj, r18_s_per_image=per(timed['r18']), tiny_s_per_image=per(tt[1:]),
                    unet_s_per_image=per(timed['unet']))
    return c, r, extra

if __name__ == '__main__':
    import argparse
    warnings.filterwarnings('ignore', category=FutureWarning)
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('names', nargs='*', default=['umask_step_overhead', 'maskrcnn_step_256'])
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--out', default=str(Path(__file__).parent / 'results' / 'rcnn'))
    a = p.parse_args()
    run_benchmarks(a.names, a.repeats, a.out)
