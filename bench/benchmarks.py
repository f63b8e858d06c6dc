"""segkit's benchmarks: each returns (candidate, reference) callables doing the same work."""
import numpy as np
import torch
import torch.nn.functional as F
from harness import benchmark, MissingOptional

@benchmark('batch_confusion', 'segkit batch_confusion (one bincount)', 'sklearn confusion_matrix per image',
           'confusion matrices of 16 label maps 256×256, 4 classes')
def _confusion():
    from sklearn.metrics import confusion_matrix
    from segkit.metrics.semantic import batch_confusion
    rng = np.random.default_rng(0)
    t = rng.integers(0, 4, (16, 256, 256)); p = np.where(rng.random(t.shape) < 0.8, t, rng.integers(0, 4, t.shape))
    return (lambda: batch_confusion(p, t, 4),
            lambda: np.stack([confusion_matrix(a.ravel(), b.ravel(), labels=range(4)) for a, b in zip(t, p)]))

@benchmark('image_labels', 'segkit image_labels (one bincount)', 'np.unique per image',
           'image-level class presence for 64 label maps 128×128, 8 classes')
def _image_labels():
    from segkit.core import image_labels
    m = np.random.default_rng(0).integers(0, 8, (64, 128, 128))
    def ref():
        out = np.zeros((len(m), 8), np.uint8)
        for i, x in enumerate(m): out[i, np.unique(x)] = 1
        return out
    return lambda: image_labels(m, 8), ref

@benchmark('predict_batched', 'predict_masks, batches of 8', 'predict_masks, one image at a time',
           'inference of a depth-3 U-Net (16 base maps) on 16 images 128×128')
def _predict():
    from segkit.models.unet import UNet
    from segkit.learner import predict_masks
    from segkit.core import default_device
    torch.manual_seed(0)
    model = UNet(1, 2, depth=3, base=16).to(default_device())
    ims = list(np.random.default_rng(0).random((16, 128, 128), dtype=np.float32))
    return lambda: predict_masks(model, ims, bs=8), lambda: predict_masks(model, ims, bs=1)

@benchmark('unet_train_step', 'thesis U-Net (max-unpool decoder)', 'classic U-Net (up-conv decoder)',
           'one Adam step, batch 8 of 1×128×128, depth 4, 32 base maps')
def _train_step():
    from segkit.models.unet import UNet
    from segkit.core import default_device
    dev = default_device()
    torch.manual_seed(0)
    x = torch.randn(8, 1, 128, 128, device=dev); y = (x[:, 0] > 0).long()
    def step_fn(m):
        opt = torch.optim.Adam(m.parameters(), 1e-3)
        def step():
            opt.zero_grad(); torch.nn.functional.cross_entropy(m(x), y).backward(); opt.step()
        return step
    return step_fn(UNet(1, 2, 4, 32).to(dev)), step_fn(UNet(1, 2, 4, 32, up='upconv').to(dev))

@benchmark('nuclei_loading', 'one batch of 16 random 256×256 crops from `nuclei` (cached)',
           'one training step of a depth-3 U-Net (16 base maps) on that batch',
           'is data loading the bottleneck? speed-up > 1: a batch loads faster than the model trains on it')
def _nuclei_loading():
    import time, tracemalloc
    from segkit.data.sources import get_source
    from segkit.data.block import seg_block_dls
    from segkit.models.unet import UNet
    from segkit.core import default_device
    ds = get_source('nuclei')
    tracemalloc.start()
    t0 = time.perf_counter()
    dls = seg_block_dls(ds, 'semantic', crop=256, bs=16, epoch_len=16 * 8, seed=0)
    n_first = sum(len(x) for x, y in dls.train)            # first epoch: decode + normalise + crop
    t_first = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]; tracemalloc.stop()
    it = {'dl': iter(dls.train)}
    def load():
        try: return next(it['dl'])
        except StopIteration: it['dl'] = iter(dls.train); return next(it['dl'])
    dev = default_device()
    model = UNet(1, 2, depth=3, base=16).to(dev)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    x, y = (torch.Tensor(t) for t in load())   # plain tensors: the step times the model, not fastai's type dispatch
    y = y.long()
    def step():
        opt.zero_grad(); torch.nn.functional.cross_entropy(model(x), y).backward(); opt.step()
    def extra():
        t = time.perf_counter(); n = 0
        for _ in range(3):
            for xb, _ in dls.train: n += len(xb)
        cached = n / (time.perf_counter() - t)
        return {'first_epoch_crops_per_s': round(n_first / t_first, 1), 'cached_crops_per_s': round(cached, 1),
                'target_cached_crops_per_s': 200, 'peak_python_memory_MB_first_epoch': round(peak / 2**20, 1),
                'source_cache_MB': round(ds.cached_mb, 1)}
    return load, step, extra

def _big_instance_pair(size=2048, n=2000, seed=0):
    "A pair of label images with ~n objects each: Voronoi-clipped blobs and a shifted, partly merged copy."
    from scipy import ndimage as ndi
    rng = np.random.default_rng(seed)
    seeds = np.zeros((size, size), bool)
    seeds[rng.integers(0, size, n), rng.integers(0, size, n)] = True
    dist, (iy, ix) = ndi.distance_transform_edt(~seeds, return_indices=True)
    ids = np.zeros((size, size), np.int32); ids[seeds] = np.arange(1, seeds.sum() + 1)
    gt = np.where(dist < 18, ids[iy, ix], 0)
    pred = np.roll(gt, (2, -3), (0, 1))
    merge = rng.random(gt.max() + 1) < 0.05
    pred = np.where(merge[pred], np.roll(pred, 20, 1), pred)        # some objects take a neighbour's id
    return gt, pred

def _naive_reference(gt, pred):
    "The straightforward per-object reference: one full-image comparison per ground-truth object."
    from scipy.optimize import linear_sum_assignment
    gids, pids = np.unique(gt)[1:], np.unique(pred)
    parea = np.bincount(pred.ravel())
    rows, cols, vals = [], [], []
    for i in gids:
        g = gt == i; ga = g.sum()
        for j in np.unique(pred[g]):
            if j == 0: continue
            inter = np.logical_and(g, pred == j).sum()
            rows.append(i); cols.append(j); vals.append(inter / (ga + parea[j] - inter))
    vals = np.array(vals); tp = (vals >= 0.5).sum()
    ur, ri = np.unique(rows, return_inverse=True); uc, ci = np.unique(cols, return_inverse=True)
    m = np.zeros((len(ur), len(uc))); m[ri, ci] = vals
    linear_sum_assignment(-m)
    return tp, vals[vals >= 0.5].sum() / (tp + (len(pids) - 1 - tp) / 2 + (len(gids) - tp) / 2)

@benchmark('instance_metrics_2k_naive', 'segkit contingency + matching@0.5 + AJI⁺ + PQ', 'straightforward per-object reference (full-image mask per object)',
           '2048×2048 label images, ~2000 instances each', max_repeats=1)
def _instance_metrics_naive():
    from segkit.metrics.instance import contingency, matching, aji
    gt, pred = _big_instance_pair()
    def ours():
        ct = contingency(gt, pred)
        return matching(None, None, 0.5, ct), aji(None, None, plus=True, ct=ct)
    return ours, lambda: _naive_reference(gt, pred)

@benchmark('instance_metrics_2k', 'segkit contingency + matching@0.5 + AJI⁺ + PQ', 'per-object reference with bounding boxes (ndi.find_objects)',
           '2048×2048 label images, ~2000 instances each')
def _instance_metrics():
    from scipy import ndimage as ndi
    from scipy.optimize import linear_sum_assignment
    from segkit.metrics.instance import contingency, matching, aji
    gt, pred = _big_instance_pair()
    def ours():
        ct = contingency(gt, pred)
        return matching(None, None, 0.5, ct), aji(None, None, plus=True, ct=ct)
    def reference():
        parea = np.bincount(pred.ravel())
        rows, cols, vals, inters, unions = [], [], [], [], []
        for i, sl in enumerate(ndi.find_objects(gt), start=1):
            if sl is None: continue
            g = gt[sl] == i; ga = g.sum()
            for j in np.unique(pred[sl][g]):
                if j == 0: continue
                inter = np.logical_and(g, pred[sl] == j).sum(); union = ga + parea[j] - inter
                rows.append(i); cols.append(j); vals.append(inter / union); inters.append(inter); unions.append(union)
        rows, cols, vals = np.array(rows), np.array(cols), np.array(vals)
        tp = (vals >= 0.5).sum(); iou_sum = vals[vals >= 0.5].sum()
        ng, npr = len(np.unique(gt)) - 1, len(np.unique(pred)) - 1
        pq = iou_sum / (tp + (npr - tp) / 2 + (ng - tp) / 2)
        ur, ri = np.unique(rows, return_inverse=True); uc, ci = np.unique(cols, return_inverse=True)
        m = np.zeros((len(ur), len(uc))); m[ri, ci] = vals
        a, b = linear_sum_assignment(-m)
        return tp, pq
    return ours, reference

@benchmark('arand_voi_2k', 'segkit adapted_rand + voi (one contingency table)', 'skimage adapted_rand_error + variation_of_information',
           '2048×2048 label images, ~2000 instances each')
def _arand_voi():
    from skimage.metrics import adapted_rand_error, variation_of_information
    from segkit.metrics.instance import contingency, adapted_rand, voi
    gt, pred = _big_instance_pair()
    def ours():
        ct = contingency(gt, pred)
        return adapted_rand(None, None, ct=ct), voi(None, None, ct=ct)
    return ours, lambda: (adapted_rand_error(gt, pred), variation_of_information(gt, pred))

@benchmark('coheg_llambda_step', 'CoHeG batch (ρ = 0.5, memory) + L_λ step', 'plain batch (full labels) + soft-Dice step',
           'fetch 8 random 128² crops of `nuclei` and take one Adam step of a depth-3/16 U-Net; target: overhead < 5 %', max_repeats=15)
def _coheg_step():
    from segkit.data.sources import get_source
    from segkit.core import normalize_percentile, default_device
    from segkit.labels.coheg import CoHeG
    from segkit.learner import ArraySegDataset
    from segkit.losses import LLambda, DiceLoss
    from segkit.models.unet import UNet
    dev = default_device()
    ds = get_source('nuclei'); tr = ds.indices('train')
    ims = [normalize_percentile(ds[i]['image']).astype(np.float32) for i in tr]
    labs = [np.asarray(ds[i]['semantic'], np.int64) for i in tr]
    cg = CoHeG(ims, labs, ds.layer_codes['semantic'], rate=0.5, seed=0, crop=128, flip=True, epoch_len=10**6)
    plain = ArraySegDataset(ims, labs, crop=128, flip=True, seed=0, epoch_len=10**6)
    def make(kind):
        torch.manual_seed(0); m = UNet(1, 3, depth=3, base=16).to(dev); opt = torch.optim.Adam(m.parameters(), 1e-3)
        it = iter(range(10**6)); loss = LLambda(0.4) if kind == 'coheg' else DiceLoss()
        def step():
            idx = [next(it) for _ in range(8)]
            if kind == 'coheg':
                x, y, mm = (torch.stack(t).to(dev) for t in zip(*[cg[i] for i in idx]))
                l = loss(m(x), y, mm)
            else:
                x, y = (torch.stack(t).to(dev) for t in zip(*[plain[i] for i in idx]))
                l = loss(m(x), y)
            opt.zero_grad(); l.backward(); opt.step()
        return step
    return make('coheg'), make('plain')

# --- self-supervised pretext steps (issue 6) ---------------------------------------------------------------------
_PRETEXTS = ('autoencoder', 'simclr', 'byol', 'moco', 'barlow_twins', 'densecl', 'detco', 'fcmae')

def _pretext_bench(method:str, bs:int=16, size:int=64):
    "One optimiser step of pretext `method` vs one supervised step of `encoder_unet` over the same encoder, same batch."
    import time
    from segkit.selfsl.pretext import get_pretext
    from segkit.models.encoders import get_encoder, encoder_unet
    from segkit.core import default_device
    dev, arch = default_device(), 'convnextv2_atto' if method == 'fcmae' else 'resnet18'
    g = torch.Generator().manual_seed(0)
    x = torch.rand(bs, 1, size, size, generator=g).to(dev); y = (x[:, 0] > 0.5).long()
    torch.manual_seed(0)
    task = get_pretext(method, get_encoder(arch, n_in=1), seed=0).to(dev).train()
    popt = torch.optim.Adam([p for p in task.parameters() if p.requires_grad], 1e-3)
    torch.manual_seed(0)
    seg = encoder_unet(get_encoder(arch, n_in=1), 2).to(dev).train()
    sopt = torch.optim.Adam(seg.parameters(), 1e-3)
    def pretext_step():                                  # what `PretextCallback` + fastai's training loop do per batch
        task.check_batch(x)
        loss = task.loss(task(*task.views(x)), x)
        popt.zero_grad(); loss.backward(); popt.step(); task.momentum_step(0.5)
    def supervised_step():
        loss = F.cross_entropy(seg(x), y)
        sopt.zero_grad(); loss.backward(); sopt.step()
    def extra():
        def ips(f, n=3):
            t = time.perf_counter()
            for _ in range(n): f()
            return round(bs * n / (time.perf_counter() - t), 1)
        p, s = ips(pretext_step), ips(supervised_step)
        return {'encoder': arch, 'views': task.n_views, 'pretext_images_per_s': p, 'supervised_images_per_s': s,
                'cost_vs_supervised': round(s / p, 2), 'target_cost': '≤ 2.5× (two views)' if task.n_views > 1 else '≈ 1×'}
    return pretext_step, supervised_step, extra

def _register_pretext_bench(method):
    arch = 'ConvNeXtV2-atto' if method == 'fcmae' else 'ResNet-18'
    benchmark(f'pretext_{method}', f'{method} pretext step', f'supervised encoder_unet step ({arch})',
              f'one Adam step on 16 × 1×64×64, {arch} encoder; speed-up = 1 / cost of the pretext step relative to '
              f'supervised segmentation (two-view target: ≥ 0.4, i.e. ≤ 2.5× the cost)', max_repeats=3)(lambda: _pretext_bench(method))

for _m in _PRETEXTS: _register_pretext_bench(_m)

# --- CAMs, occlusion, CRF (issue 7) ------------------------------------------------------------------------------
def _site_resnet34():
    from segkit.models.classifiers import site_classifier
    torch.manual_seed(0)
    return site_classifier('resnet34', n_in=1, n_out=2, verbose=False).eval()

_GRADCAM_BS = 32  # the size; ~10 s (segkit) and ~30 s (pytorch-grad-cam) per call on one CPU core

@benchmark('gradcam_resnet34', 'segkit GradCAM (gradients to layer4 only)', 'pytorch-grad-cam 1.5.7 GradCAM',
           f'Grad-CAM of the predicted class at layer4 of a 1-channel ResNet-34 (eval mode) on {_GRADCAM_BS} images 400×400, '
           f'maps upsampled and normalised; target: speed-up ≥ 1', max_repeats=2)
def _gradcam():
    import importlib.util
    if importlib.util.find_spec('pytorch_grad_cam') is None:
        raise MissingOptional("benchmark 'gradcam_resnet34' compares with pytorch-grad-cam, which is not a segkit dependency: "
                              "`pip install --no-deps grad-cam==1.5.7 ttach opencv-python-headless` (it imports ttach and cv2 at import time)")
    from pytorch_grad_cam import GradCAM as PGC
    from segkit.explain.cams import get_cam
    model = _site_resnet34()
    x = torch.randn(_GRADCAM_BS, 1, 400, 400, generator=torch.Generator().manual_seed(0))
    ours, theirs = get_cam('gradcam')(model, layer='layer4'), PGC(model=model, target_layers=[model.layer4])
    def extra():
        a, b = ours(x[:2]).numpy(), theirs(input_tensor=x[:2], targets=None)
        return {'batch': _GRADCAM_BS, 'max_abs_diff_first_2_maps': float(f'{np.abs(a - b).max():.3g}'),
                'corr_first_2_maps': round(float(np.corrcoef(a.ravel(), b.ravel())[0, 1]), 4)}
    return lambda: ours(x), lambda: theirs(input_tensor=x, targets=None), extra

@benchmark('occlusion_batched', 'segkit Occlusion, batch_size=128 (all 49 perturbations of both images in one forward pass)', 'the same occlusion, one perturbation per forward pass (batch_size=2)',
           'captum occlusion (window 16, stride 8: 49 positions) of 2 images 1×64×64 through a 1-channel ResNet-34', max_repeats=3)
def _occlusion():
    import time
    from segkit.explain.cams import get_cam
    model = _site_resnet34()
    x = torch.randn(2, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    Occ = get_cam('occlusion')
    batched, single = Occ(model, window=16, stride=8, batch_size=128), Occ(model, window=16, stride=8, batch_size=2)
    def extra():
        def ips(c):
            t = time.perf_counter(); c(x); return round(len(x) / (time.perf_counter() - t), 2)
        return {'window': 16, 'stride': 8, 'image': '64×64', 'batched_images_per_s': ips(batched), 'single_images_per_s': ips(single)}
    return lambda: batched(x), lambda: single(x), extra

@benchmark('crf_mask_400', 'segkit crf_mask (dense CRF, 5 mean-field iterations)', 'Otsu threshold of the map (otsu_mask)',
           'one 400×400 activation map + image to a binary mask; target: CRF ≤ 0.5 s per map on one core', max_repeats=5)
def _crf():
    import time
    from scipy import ndimage as ndi
    from segkit.explain.masks import crf_mask, otsu_mask
    rng = np.random.default_rng(0)
    img = ndi.gaussian_filter(rng.random((400, 400)), 6).astype(np.float32)
    img = (img - img.min()) / (img.max() - img.min())
    cam = ndi.gaussian_filter((img > 0.5).astype(np.float32) + 0.3 * rng.random((400, 400)), 10)
    cam = ((cam - cam.min()) / (cam.max() - cam.min())).astype(np.float32)
    def extra():
        ts = []
        for _ in range(3):
            t = time.perf_counter(); crf_mask(cam, img); ts.append(time.perf_counter() - t)
        return {'crf_s_per_map': round(float(np.median(ts)), 3), 'target_s_per_map': 0.5, 'torch_threads': torch.get_num_threads()}
    return lambda: crf_mask(cam, img), lambda: otsu_mask(cam), extra
