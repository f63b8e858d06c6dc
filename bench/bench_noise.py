"""Benchmarks of issue 18 part A (label noise and upgrading): perturbation throughput, the Felzenszwalb cache, LUT omission, the
vectorised threshold baseline, and the online-perturbation overhead of an upgrade-training epoch.

Run alone with `python bench/bench_noise.py [names] [--repeats N]` (writes bench/results/noise/<name>.json); `bench/run.py` picks it up
once it imports this module."""
import sys, time
from pathlib import Path
import numpy as np
from harness import benchmark

def _nuclei_crops(n=64, size=256, seed=0):
    "n real nucleus crops (images, instance maps) from the `nuclei` training images (cached locally after the first fetch)."
    from segkit.data.sources import get_source
    ds = get_source('nuclei'); ims, labs = ds.arrays('train')
    rng, out_i, out_l = np.random.default_rng(seed), [], []
    for k in range(n):
        j = k % len(ims); h, w = labs[j].shape
        r, c = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
        out_i.append(ims[j][r:r + size, c:c + size]); out_l.append(labs[j][r:r + size, c:c + size].astype(np.int32))
    return out_i, out_l

@benchmark('noise_felzenszwalb_cache', 'case_study pipeline, Felzenszwalb segments cached per image', 'the same, segments recomputed per draw',
           'case-study perturbation (omission 50 %, Felzenszwalb 10 %, s&p 10 %, bias 6) of 64 real nuclei labels 256²', max_repeats=3)
def _fz_cache():
    from segkit.labels.noise import perturb, get_preset, FelzenszwalbInclusion, Compose, Omission, SaltPepper, Bias
    ims, labs = _nuclei_crops()
    cached = get_preset('case_study')
    uncached = Compose([Omission(0.5), FelzenszwalbInclusion(0.1, cache=False), SaltPepper(0.1), Bias(6)])
    draw = [0]
    def run(p):
        draw[0] += 1
        for k, (i, l) in enumerate(zip(ims, labs)): perturb(l, p, image=i, seed=0, unit=k, extra=(draw[0],))
    def extra():
        t = time.perf_counter(); run(cached); dt = time.perf_counter() - t
        return dict(labels_per_s_cached=len(labs) / dt, target_labels_per_s_per_core=100)
    return (lambda: run(cached)), (lambda: run(uncached)), extra

@benchmark('noise_omission_lut', 'omission: object ids by bincount + one LUT gather (np.take)', 'omission: np.unique + np.isin + np.where',
           'omission of 70 % of the objects of 64 real nuclei labels 256² (same draw both ways; outputs checked equal)')
def _lut():
    from segkit.labels.noise import object_ids, omit_objects
    _, labs = _nuclei_crops()
    def lut():
        out = []
        for k, l in enumerate(labs):
            rng = np.random.default_rng([0, k]); ids = object_ids(l)
            drop = rng.choice(ids, int(round(0.7 * len(ids))), replace=False)
            out.append(omit_objects(l, drop, int(ids[-1]) if len(ids) else 0)[0])
        return out
    def isin():
        out = []
        for k, l in enumerate(labs):
            rng = np.random.default_rng([0, k]); ids = np.unique(l); ids = ids[ids > 0]
            drop = rng.choice(ids, int(round(0.7 * len(ids))), replace=False)
            out.append(np.where(np.isin(l, drop), 0, l))
        return out
    if not all(np.array_equal(a, b) for a, b in zip(lut(), isin())): raise AssertionError('LUT omission differs from np.isin')
    def parts():                                          # the two steps apart, on the same maps (medians of 5, ms per 64 labels)
        import statistics
        def t(f):
            ts = []
            for _ in range(5): t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
            return round(statistics.median(ts) * 1e3, 3)
        drops = [np.random.default_rng([0, k]).choice(object_ids(l), int(round(0.7 * len(object_ids(l)))), replace=False) for k, l in enumerate(labs)]
        return dict(ids_bincount_ms=t(lambda: [object_ids(l) for l in labs]), ids_unique_ms=t(lambda: [np.unique(l) for l in labs]),
                    remove_lut_take_ms=t(lambda: [omit_objects(l, d)[0] for l, d in zip(labs, drops)]),
                    remove_isin_where_ms=t(lambda: [np.where(np.isin(l, d), 0, l) for l, d in zip(labs, drops)]))
    return lut, isin, parts

@benchmark('threshold_baseline', 'threshold_baseline (searchsorted + histograms)', 'loop over 101 thresholds',
           'global-threshold fit on 8 real nuclei images (768×869)', max_repeats=3)
def _thr():
    from segkit.data.sources import get_source
    from segkit.pseudo.upgrade import threshold_baseline, threshold_grid, pooled_dice, apply_threshold
    ims, labs = get_source('nuclei').arrays('train'); ims, labs = ims[:8], labs[:8]
    def loop():
        return max((pooled_dice(apply_threshold(ims, t), labs), t) for t in threshold_grid(ims))
    return (lambda: threshold_baseline(ims, labs)), loop

@benchmark('noise_online_overhead', 'upgrade-training epoch, labels perturbed online', 'the same epoch, labels perturbed once (offline)',
           '1 epoch of u_θ training (depth 3, 16 maps, 32 crops 128², batch 8) on 4 real nuclei images, om50+inc50+bias6', max_repeats=3)
def _online():
    import torch
    from segkit.data.sources import get_source
    from segkit.pseudo.upgrade import UpgradeDataset, upgrade_dls, upgrade_learner
    ds = get_source('nuclei'); ims, inst = ds.arrays('train'); oth = ds.arrays('train', layer='micronuclei')[1]
    from segkit.labels.noise import disjoint_other
    oth = [disjoint_other(l, o)[0] for l, o in zip(inst, oth)]
    def learner(mode):
        tr = UpgradeDataset(ims[:4], inst[:4], 'om50+inc50+bias6', oth[:4], mode=mode, crop=128, epoch_len=32)
        dls = upgrade_dls(tr, ims[4:5], inst[4:5], oth[4:5], bs=8, device='cpu')
        l = upgrade_learner(dls, 1, depth=3, base=16, patience=None)
        return l
    lo, lf = learner('online'), learner('offline')
    def epoch(l):
        with l.no_bar(), l.no_logging(): l.fit(1, 1e-3)
    def data_only():                                      # the data pipeline alone (no training), both ways, one process
        def t(l):
            ds = l.dls.train.dataset; t0 = time.perf_counter()
            for i in range(len(ds)): ds[i]
            return time.perf_counter() - t0
        on, off = min(t(lo) for _ in range(3)), min(t(lf) for _ in range(3))
        ds = lo.dls.train.dataset.noisy; m, ds.margin = ds.margin, None                 # the whole-image path (before the crop path)
        whole = min(t(lo) for _ in range(3)); ds.margin = m
        # (the process CPU time of whole epochs is no steadier than wall time under load: torch's OpenMP threads spin while waiting)
        return dict(data_online_s_per_epoch=round(on, 4), data_offline_s_per_epoch=round(off, 4),
                    perturbation_s_per_epoch=round(on - off, 4), data_online_whole_image_s_per_epoch=round(whole, 4),
                    crop_path_speedup_of_perturbation=round((whole - off) / max(on - off, 1e-9), 1), window_margin=lo.dls.train.dataset.noisy.margin)
    return (lambda: epoch(lo)), (lambda: epoch(lf)), data_only

if __name__ == '__main__':
    import argparse, warnings
    warnings.filterwarnings('ignore')
    from harness import run_benchmarks
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('names', nargs='*'); p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--out', default=str(Path(__file__).parent / 'results' / 'noise'))
    a = p.parse_args()
    run_benchmarks(a.names or ['noise_felzenszwalb_cache', 'noise_omission_lut', 'threshold_baseline', 'noise_online_overhead'], a.repeats, a.out)
