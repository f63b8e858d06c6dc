"""Mask-stack metrics benchmarks (issue 22): `contingency_masks` (one sparse matrix product of the flattened stacks) vs a
per-object-pair loop of mask intersections, on overlapping real-derived scenes.

Run: `python bench/bench_stack.py [names…]` (writes bench/results/stack/<name>.json and README.md), or import this module
from bench/run.py. Input: 512² tiles of 16 `nuclei_overlap`-style scenes (real nuclei composited at overlap level 4),
about 60 ground-truth and 60 predicted masks per tile (the prediction: the truth shifted by 1 px, every third mask
dropped, plus its flattened label map's masks, so that pairs compete).
"""
import sys
from functools import lru_cache
from pathlib import Path
import numpy as np
sys.path.insert(0, str(Path(__file__).parent))
from harness import benchmark, run_benchmarks

@lru_cache(None)
def _stacks(seed:int=0):
    "(gt, pred) bool stacks of a 512² tile made of 4 × 4 overlap scenes of 128²."
    from segkit.data.sources import get_source
    from segkit.data.overlap import nucleus_crops, overlap_scene
    src = get_source('nuclei')
    crops = [c for i in src.indices('test')[:4] for c in nucleus_crops(src[i]['image'], src[i]['mask'], max_side=64)]
    gts = []
    for k in range(16):
        s = overlap_scene(crops, 4, 128, (3, 5), seed=[seed, k]); y, x = divmod(k, 4)
        big = np.zeros((len(s['instances']), 512, 512), bool); big[:, y * 128:(y + 1) * 128, x * 128:(x + 1) * 128] = s['instances']
        gts.append(big)
    gt = np.concatenate(gts)
    pred = np.roll(gt[::3], 1, axis=2)
    from segkit.metrics.instance import label_stack
    from segkit.metrics.archselect import stack_to_labels
    pred = np.concatenate([pred, label_stack(stack_to_labels(gt))[::2]])
    return gt, pred

def loop_contingency(gt:np.ndarray, pred:np.ndarray):
    "The object–object intersections and areas by one Python iteration per (gt, pred) pair (the reference)."
    ga, pa = gt.sum((1, 2)), pred.sum((1, 2))
    inter = np.zeros((len(gt), len(pred)), np.int64)
    for i in range(len(gt)):
        for j in range(len(pred)): inter[i, j] = np.logical_and(gt[i], pred[j]).sum()
    return ga, pa, inter

@benchmark('stack_contingency', 'contingency_masks (sparse matmul)', 'per-object-pair loop',
           'contingency of two overlapping 512² mask stacks (~60 × ~55 masks)', max_repeats=3)
def stack_contingency():
    from segkit.metrics.instance import contingency_masks
    gt, pred = _stacks()
    ct = contingency_masks(gt, pred); ga, pa, inter = loop_contingency(gt, pred)   # same numbers before timing
    r, c, n, _ = ct.objects()
    assert np.array_equal(inter[r - 1, c - 1], n) and inter.sum() == n.sum() and np.array_equal(ct.gt_area[1:], ga)
    return (lambda: contingency_masks(gt, pred), lambda: loop_contingency(gt, pred),
            lambda: dict(n_gt=int(len(gt)), n_pred=int(len(pred)), pairs_overlapping=int(len(n))))

if __name__ == '__main__':
    run_benchmarks(sys.argv[1:] or ['stack_contingency'], out=Path(__file__).parent / 'results' / 'stack')
