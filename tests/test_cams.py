"""CAMs and CAM → mask: hooks always removed, shapes, hand-computed Grad-CAM, method identities, peer-library agreement, bad input; CRF, polygons, Dice."""
import warnings
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from segkit.explain.cams import (list_cams, get_cam, register_cam, CAM, GradCAM, HiResCAM, LayerCAM, AblationCAM, EigenCAM,
                                 Occlusion, GuidedGradCAM, SmoothGuidedGradCAM, SegTarget, count_hooks, ensemble_cam,
                                 normalize_cams, upsample_cams, logistic, gaussian_smooth)
from segkit.explain.masks import (crf_mask, crf_refine, otsu_mask, threshold_mask, cams_to_masks, dice, mask_to_polygons,
                                  mask_to_geojson, polygons_to_mask, pixel_to_map)

@pytest.fixture(autouse=True, scope='module')
def one_thread():
    "Tiny models run fastest on one thread of a shared 2-core machine; restored for the other test modules."
    n = torch.get_num_threads(); torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
KW = {'occlusion': dict(window=4, stride=2), 'smooth_guided_gradcam': dict(sigma=1.)}

class Boom(nn.Module):
    "Identity that raises (or injects NaN) on demand, placed after the target layer."
    mode = None
    def forward(self, x):
        if self.mode == 'raise': raise RuntimeError("boom")
        return x * float('nan') if self.mode == 'nan' else x

def tiny(seed=0, c_in=1, n_out=3):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(c_in, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 5, 3, padding=1), Boom(), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(5, n_out)).eval()

def head_linear(seed=0):
    "Target conv followed directly by global average pooling: dY/dA is spatially constant."
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 4, 3, padding=1),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2)).eval()

def X(B=3, H=16, W=20, seed=1): return torch.rand(B, 1, H, W, generator=torch.Generator().manual_seed(seed))

def norm_up(raw, size): return normalize_cams(upsample_cams(raw.clamp_min(0), size))

# ---------------------------------------------------------------- registry, hooks, shapes

def test_registry_lists_all_methods_and_errors_helpfully():
    want = {'occlusion', 'gradcam', 'layercam', 'guided_gradcam', 'smooth_guided_gradcam', 'gradcam++', 'scorecam',
            'ablationcam', 'eigencam', 'hirescam'}
    assert want <= set(list_cams())
    assert get_cam('Grad-CAM') is GradCAM and get_cam(GradCAM) is GradCAM
    with pytest.raises(KeyError, match='known: .*hirescam'): get_cam('nocam')
    with pytest.raises(TypeError): register_cam('x')(int)

def test_registry_is_a_registry_and_rerunning_a_registration_replaces():
    from segkit.registry import Registry, UnknownName
    from segkit.explain.cams import CAMS
    assert isinstance(CAMS, Registry) and CAMS.names() == list_cams()
    with pytest.raises(UnknownName, match="`method`: unknown CAM method 'nocam'"): get_cam('nocam')
    def define():                                  # the same cell, run twice: two class objects, one qualified name
        class TmpCAM(GradCAM): "A temporary method."
        return TmpCAM
    try:
        a = register_cam('tmp-cam')(define()); b = register_cam('tmp-cam')(define())
        assert a is not b and get_cam('tmpcam') is b and b.name == 'tmp-cam'
        class OtherCAM(GradCAM): pass
        with pytest.raises(ValueError, match='already registered'): register_cam('tmp_cam')(OtherCAM)
    finally: CAMS._entries.pop('tmpcam', None)
    assert 'tmpcam' not in list_cams()

@pytest.mark.parametrize('name', list_cams())
def test_every_cam_passes_the_registry_smoke_check(name):
    from segkit.explain.cams import CAMS
    assert CAMS.check(name).shape == (2, 16, 16)

def test_mask_methods_registry():
    from segkit.registry import Registry
    from segkit.explain.masks import MASK_METHODS
    assert isinstance(MASK_METHODS, Registry) and MASK_METHODS.names() == ['crf', 'otsu', 'threshold']
    for n in MASK_METHODS:
        assert MASK_METHODS.check(n).dtype == bool and MASK_METHODS.help(n)
    assert MASK_METHODS.meta('crf')['needs_image'] and not MASK_METHODS.meta('otsu')['needs_image']
    c = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    np.testing.assert_array_equal(MASK_METHODS['threshold'](c, None, thresh=0.3), threshold_mask(c, 0.3))
    np.testing.assert_array_equal(MASK_METHODS['otsu'](c), otsu_mask(c))

def test_model_device_is_the_core_one():
    from segkit.explain import cams
    from segkit.core import model_device
    assert cams.model_device is model_device and 'model_device' in cams.__all__

@pytest.mark.parametrize('name', list_cams())
def test_shapes_range_and_hooks_removed(name):
    m, x = tiny(), X(H=16, W=20)
    out = get_cam(name)(m, **KW.get(name, {}))(x, target=1)
    assert out.shape == (3, 16, 20) and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1
    if get_cam(name).rescale: assert all(float(o.max()) in (0., 1.) for o in out)   # per image min–max (or all zero)
    assert count_hooks(m) == 0

@pytest.mark.parametrize('name', list_cams())
@pytest.mark.parametrize('mode', ['raise', 'nan'])
def test_hooks_removed_when_the_call_raises(name, mode):
    if (name, mode) == ('eigencam', 'nan'): pytest.skip("EigenCAM reads only the activations, which precede the NaN")
    m, x = tiny(), X()
    m[4].mode = mode
    with pytest.raises((RuntimeError, ValueError)) as e: get_cam(name)(m, **KW.get(name, {}))(x, target=1)
    if mode == 'raise': assert 'boom' in str(e.value)             # the original exception comes through
    else: assert 'NaN' in str(e.value)
    assert count_hooks(m) == 0

def test_hooks_removed_when_the_target_is_bad():
    m = tiny()
    for name in ('gradcam', 'layercam', 'scorecam', 'guided_gradcam', 'occlusion'):
        with pytest.raises(ValueError, match='target'): get_cam(name)(m, **KW.get(name, {}))(X(), target=7)
        assert count_hooks(m) == 0

@pytest.mark.parametrize('name', list_cams())
def test_batch_equals_single_images(name):
    "Batching (incl. perturbation batches that tile the images) changes nothing."
    m, x = tiny(), X(B=3)
    cam = get_cam(name)(m, batch_size=4, **KW.get(name, {}))
    full = cam(x)                                                   # default target: predicted class per image
    one = torch.cat([cam(x[i:i + 1]) for i in range(3)])
    assert torch.allclose(full, one, atol=1e-4)

def test_channel_score_template_is_a_few_lines_per_method():
    "A new per-channel perturbation method is `score_chunk` + `channel_weights` on `_ChannelScoreCAM`."
    from segkit.explain.cams import _ChannelScoreCAM, ScoreCAM
    class KeepOnlyCAM(_ChannelScoreCAM):                     # score the image masked to one channel's map, raw scores as weights
        def score_chunk(self, x, a, ks, scorer): return ScoreCAM.score_chunk(self, x, a, ks, scorer)
        def channel_weights(self, s, y): return s
    m, x = tiny(), X(B=2)
    maps = [KeepOnlyCAM(m, batch_size=bs)(x, 1) for bs in (1, 3, 64)]   # chunk sizes 1, 1 and all channels
    assert maps[0].shape == (2, 16, 20) and all(torch.allclose(maps[0], o, atol=1e-6) for o in maps[1:])
    assert count_hooks(m) == 0

# ---------------------------------------------------------------- reference computations

def test_gradcam_by_hand():
    m, x = tiny(), X()
    c = torch.tensor([0, 2, 1])
    a = m[:4](x).detach().requires_grad_()                          # output of the target layer '3'
    y = m[4:](a)[torch.arange(3), c]
    g, = torch.autograd.grad(y.sum(), a)
    raw = (g.mean((2, 3), keepdim=True) * a).sum(1)                 # ReLU(Σ_k mean(dY/dA_k) A_k)
    want = norm_up(raw.detach(), x.shape[-2:])
    got = GradCAM(m)(x, target=c)
    assert GradCAM(m).layer_name == '3'
    assert torch.allclose(got, want, atol=1e-5)

def test_default_target_is_the_predicted_class():
    m, x = tiny(), X()
    assert torch.allclose(GradCAM(m)(x), GradCAM(m)(x, target=m(x).argmax(1)))

def test_hirescam_equals_gradcam_for_spatially_constant_gradients():
    m, x = head_linear(), X()
    assert torch.allclose(HiResCAM(m)(x, 1), GradCAM(m)(x, 1), atol=1e-5)
    m2 = tiny()                                                     # max-pool/ReLU after the layer: they differ
    assert not torch.allclose(HiResCAM(m2, layer='0')(x, 1), GradCAM(m2, layer='0')(x, 1), atol=1e-3)

def test_layercam_single_layer_by_hand_and_weights():
    m, x = tiny(), X()
    a = m[:1](x).detach().requires_grad_()
    y = m[1:](a)[:, 1]
    g, = torch.autograd.grad(y.sum(), a)
    want = norm_up((g.clamp_min(0) * a).sum(1).detach(), x.shape[-2:])
    assert torch.allclose(LayerCAM(m, layers=['0'])(x, 1), want, atol=1e-5)
    lc = LayerCAM(m, layers=['0', '3'], weights=[0, 1])            # all weight on the deep block = its own map
    assert torch.allclose(lc(x, 1), LayerCAM(m, layers=['3'])(x, 1), atol=1e-5)
    assert list(LayerCAM(m)._stages(x, None)) == ['0', '3']

def test_ablationcam_by_hand():
    m, x = tiny(), X(B=2)
    a = m[:4](x).detach(); y = m[4:](a)[:, 1]
    w = torch.stack([(y - m[4:](a * (torch.arange(5) != k).float()[None, :, None, None])[:, 1]) / y for k in range(5)], 1)
    want = norm_up((w[:, :, None, None] * a).sum(1), x.shape[-2:])
    assert torch.allclose(AblationCAM(m, batch_size=3)(x, 1), want, atol=1e-4)

def test_eigencam_is_the_first_principal_component():
    m, x = tiny(), X(B=2)
    a = m[:4](x).detach().numpy()
    for b in range(2):
        M = a[b].reshape(5, -1).T; M = M - M.mean(0)
        p = M @ np.linalg.svd(M, full_matrices=False)[2][0]
        p = p if p.max() >= -p.min() else -p
        want = norm_up(torch.from_numpy(p.reshape(1, 8, 10)).float(), (16, 20))
        assert torch.allclose(EigenCAM(m)(x)[b:b + 1], want, atol=1e-4)

def test_segmentation_target_sums_class_logits_in_region():
    torch.manual_seed(0)
    seg = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 3, 3, padding=1)).eval()
    x = X(B=2); region = torch.zeros(16, 20, dtype=torch.bool); region[4:10, 5:12] = True
    a = seg[:1](x).detach().requires_grad_()
    g, = torch.autograd.grad((seg[1:](a)[:, 2] * region).sum(), a)
    want = norm_up((g.mean((2, 3), keepdim=True) * a).sum(1).detach(), x.shape[-2:])
    assert torch.allclose(GradCAM(seg, layer='0')(x, SegTarget(2, region)), want, atol=1e-5)
    with pytest.raises(ValueError, match='SegTarget'): GradCAM(seg)(x)
    with pytest.raises(ValueError, match='mask of shape'): GradCAM(seg)(x, SegTarget(1, torch.ones(5, 5)))

def test_occlusion_matches_captum():
    from captum.attr import Occlusion as CO
    m, x = tiny(), X(B=2)
    ref = CO(m).attribute(x, sliding_window_shapes=(1, 4, 4), strides=(1, 2, 2), target=1, baselines=0.).sum(1)
    got = Occlusion(m, window=4, stride=2, softmax=False)(x, 1)
    assert torch.allclose(got, normalize_cams(ref.clamp_min(0)), atol=1e-5)
    p = lambda inp: m(inp).softmax(1)                               # softmax=True: probability differences
    ref = CO(p).attribute(x, sliding_window_shapes=(1, 4, 4), strides=(1, 2, 2), target=1).sum(1)
    assert torch.allclose(Occlusion(m, window=4, stride=2)(x, 1), normalize_cams(ref.clamp_min(0)), atol=1e-5)

def test_guided_gradcam_matches_captum():
    from captum.attr import GuidedGradCam
    m, x = tiny(), X(B=2)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        ref = GuidedGradCam(m, m[3]).attribute(x.clone().requires_grad_(), target=1, interpolate_mode='bilinear').sum(1)
    assert torch.allclose(GuidedGradCAM(m)(x, 1), normalize_cams(ref.abs()), atol=1e-5)
    assert count_hooks(m) == 0

def test_smoothing_and_logistic_are_monotone():
    s = torch.linspace(0, 1, 50, dtype=torch.float64)
    for slope, mid in ((1., 0.), (10., 0.25), (50., 0.9)): assert (logistic(s, slope, mid).diff() > 0).all()
    m, x = tiny(), X(B=2)
    ggc = GuidedGradCAM(m)(x, 1)
    sgg = SmoothGuidedGradCAM(m, sigma=0.)(x, 1)                    # no filter: a monotone map of Guided Grad-CAM
    for a, b in zip(ggc.flatten(1), sgg.flatten(1)):
        assert (b[a.argsort()].diff() >= -1e-6).all()
    big = torch.zeros(1, 9, 9); big[0, 4, 4] = 1                    # the filter spreads mass, keeps it
    assert torch.isclose(gaussian_smooth(big, 1.).sum(), torch.tensor(1.), atol=1e-5)
    with pytest.raises(ValueError, match='slope'): SmoothGuidedGradCAM(m, slope=0)

def test_smooth_guided_gradcam_is_the_logistic_not_rescaled_again():
    "Issue 14: the map is L = logistic(norm(G_σ * GGC)) in (0, 1); a second min–max shifted it by up to logistic(0) = 0.076."
    m, x = tiny(), X(B=3)
    for sigma, slope, mid in ((1., 10., 0.25), (0., 4., 0.5)):
        got = SmoothGuidedGradCAM(m, sigma=sigma, slope=slope, midpoint=mid)(x, 1)
        want = logistic(normalize_cams(gaussian_smooth(GuidedGradCAM(m)(x, 1), sigma)), slope, mid)
        assert torch.allclose(got, want, atol=1e-6)
        assert torch.allclose(got.amin((1, 2)), logistic(torch.zeros(3), slope, mid), atol=1e-6)   # not 0
        assert torch.allclose(got.amax((1, 2)), logistic(torch.ones(3), slope, mid), atol=1e-6)    # not 1
    assert torch.allclose(GradCAM(m)(x, 1).amax((1, 2)), torch.ones(3))                             # the other methods still span [0, 1]

def test_ensemble_is_the_mean_of_members():
    ms, x = [tiny(s) for s in range(3)], X()
    want = torch.stack([GradCAM(mm)(x, 1) for mm in ms]).mean(0)
    assert torch.allclose(ensemble_cam(ms, 'gradcam', x, target=1), want)
    r = ensemble_cam(ms, 'layercam', x, target=1, layer='3', renormalize=True)
    assert torch.allclose(r.amax((1, 2)), torch.ones(3))
    assert torch.isnan(normalize_cams(torch.full((1, 2, 2), float('nan')))).all()   # NaN is never hidden as zeros
    with pytest.raises(ValueError, match='models'): ensemble_cam([], 'gradcam', x)

def test_device_follows_the_model_and_grad_mode_does_not_matter():
    m, x = tiny(), X()
    with torch.no_grad(): a = GradCAM(m)(x, 1)
    assert torch.allclose(a, GradCAM(m)(x, 1)) and a.device == x.device
    for p in m.parameters(): p.requires_grad_(False)                # frozen model: still explained
    assert torch.allclose(GradCAM(m)(x, 1), a)

# ---------------------------------------------------------------- bad input

def test_bad_input_errors():
    m, x = tiny(), X()
    with pytest.raises(ValueError, match=r"no layer named 'conv9'; convolutional layers: 0, 3"): GradCAM(m, layer='conv9')
    with pytest.raises(ValueError, match="not a convolutional layer"): GradCAM(m, layer='8')
    with pytest.raises(ValueError, match="takes 1 channel"): GradCAM(m)(x.repeat(1, 3, 1, 1))
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"): GradCAM(m)(x[0])
    with pytest.raises(ValueError, match="window"): Occlusion(m, window=40)(x)
    with pytest.raises(ValueError, match="takes no layer"): Occlusion(m, layer='3')
    with pytest.raises(ValueError, match='classes must lie'): GradCAM(m)(x, target=[0, 1, 5])
    with pytest.raises(ValueError, match='2 classes for a batch of 3'): GradCAM(m)(x, target=[0, 1])
    d = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Dropout(0.5), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    with pytest.warns(UserWarning, match='train mode'): GradCAM(d.train())(x)

# ---------------------------------------------------------------- optional peer: pytorch-grad-cam

@pytest.mark.parametrize('name', ['gradcam', 'gradcam++', 'scorecam', 'hirescam', 'eigencam', 'layercam', 'ablationcam'])
def test_agrees_with_pytorch_grad_cam(name):
    "Measured with grad-cam 1.5.7: mean |Δ| ≤ 3e-7 for all but Grad-CAM++ (0.006: the peer adds ε to α's denominator)."
    pgc = pytest.importorskip('pytorch_grad_cam')
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    peer = {'gradcam': pgc.GradCAM, 'gradcam++': pgc.GradCAMPlusPlus, 'scorecam': pgc.ScoreCAM, 'hirescam': pgc.HiResCAM,
            'eigencam': pgc.EigenCAM, 'layercam': pgc.LayerCAM, 'ablationcam': pgc.AblationCAM}[name]
    m, x = tiny(), X(B=2, H=32, W=32)
    with peer(model=m, target_layers=[m[3]]) as cam:
        ref = torch.from_numpy(cam(input_tensor=x, targets=[ClassifierOutputTarget(1)] * 2)).float()
    got = get_cam(name)(m, **(dict(layers=['3']) if name == 'layercam' else {}))(x, 1)
    if name == 'eigencam' and (got - ref).abs().mean() > 1e-3:       # SVD sign: the peer does not fix it
        got = get_cam(name)(nn.Sequential(*m[:4], ScaleBy(-1.)), layer='4')(x)
    assert (got - ref).abs().mean() < (0.02 if name == 'gradcam++' else 1e-3)
    assert count_hooks(m) == 0

class ScaleBy(nn.Conv2d):
    "A 1×1 conv that multiplies by a constant (flips the EigenCAM sign for the peer comparison)."
    def __init__(self, s): super().__init__(5, 5, 1, bias=False); nn.init.eye_(self.weight[:, :, 0, 0]); self.weight.data *= s

# ---------------------------------------------------------------- masks

def disk_scene(seed, r=10, size=56):
    rng = np.random.default_rng(seed)
    cy, cx = rng.uniform(18, size - 18, 2)
    yy, xx = np.mgrid[:size, :size]
    disk = (yy - cy) ** 2 + (xx - cx) ** 2 < r ** 2
    img = disk * rng.uniform(0.5, 0.8) + 0.15 + rng.normal(0, 0.08, disk.shape)
    from scipy import ndimage as ndi
    cam = ndi.gaussian_filter(disk.astype(float), 5) + rng.normal(0, 0.05, disk.shape)
    return img, (cam - cam.min()) / (cam.max() - cam.min()), disk

def test_crf_is_binary_keeps_a_confident_unary_and_beats_otsu():
    for seed in range(5):
        img, cam, disk = disk_scene(seed)
        m = crf_mask(cam, img)
        assert m.dtype == np.bool_ and m.shape == disk.shape
        assert dice(m, disk) >= dice(otsu_mask(cam), disk) - 0.01
        assert (crf_mask(np.where(disk, 0.999, 0.001), img) == disk).all()
        # the unary still wins against the image where it is confident: a dark region labelled fg stays fg
        conf = np.zeros_like(cam); conf[:8, :8] = 1
        assert crf_mask(conf, img)[:8, :8].all()
    q = crf_refine(cam, img)
    assert q.min() >= 0 and q.max() <= 1

def test_mask_baselines_and_batch():
    c = np.linspace(0, 1, 100).reshape(10, 10)
    assert threshold_mask(c, 0.5).sum() == 50 and otsu_mask(c).sum() in range(45, 56)
    assert not otsu_mask(np.ones((5, 5))).any()
    img, cam, disk = disk_scene(0)
    ms = cams_to_masks(np.stack([cam, cam]), np.stack([img, img]), 'crf')
    assert ms.shape == (2, 56, 56) and (ms[0] == crf_mask(cam, img)).all()
    with pytest.raises(KeyError, match='known'): cams_to_masks(cam[None], None, 'grabcut')
    with pytest.raises(ValueError, match='images'): cams_to_masks(cam[None], None, 'crf')
    with pytest.raises(ValueError, match=r'\[0, 1\]'): crf_mask(cam * 2, img)
    with pytest.raises(ValueError, match='image'): crf_mask(cam, img[:10])

def test_dice_formula():
    p = np.array([1, 1, 1, 0, 0], bool); t = np.array([1, 0, 1, 1, 0], bool)
    assert dice(p, t) == pytest.approx(2 * 2 / (3 + 3))
    assert np.isnan(dice(np.zeros(3), np.zeros(3)))

def iou(a, b): return (a & b).sum() / (a | b).sum()

def test_polygons_round_trip_to_the_mask():
    from segkit.core import synth_blobs
    s = synth_blobs(4, size=64, seed=2)
    for m in s.masks > 0:
        back = polygons_to_mask(mask_to_polygons(m), m.shape)
        assert iou(back, m) > 0.95
    yy, xx = np.mgrid[:40, :40]
    ring = ((yy - 20) ** 2 + (xx - 20) ** 2 < 15 ** 2) & ((yy - 20) ** 2 + (xx - 20) ** 2 >= 6 ** 2)
    p = mask_to_polygons(ring)
    assert len(p) == 1 and len(p[0].interiors) == 1
    assert iou(polygons_to_mask(p, ring.shape), ring) > 0.95
    sq = np.zeros((10, 10), bool); sq[2:5, 3:7] = True              # a rectangle's outline is exact on pixel corners
    (poly,) = mask_to_polygons(sq)
    assert poly.bounds == pytest.approx((3, 2, 7, 5), abs=0.5)
    assert mask_to_polygons(np.zeros((5, 5))) == []

def test_map_coordinates():
    gt = (500000., 1.85, 0., 4100000., 0., -1.85)                   # CORONA-like 1.85 m pixels, north-up
    assert pixel_to_map(20, 10, gt) == pytest.approx((500018.5, 4099963.0))
    sq = np.zeros((10, 10), bool); sq[2:5, 3:7] = True
    (poly,) = mask_to_polygons(sq, gt)
    x0, y0, x1, y1 = poly.bounds
    px = mask_to_polygons(sq)[0].bounds
    assert (x0, x1) == pytest.approx((500000 + 1.85 * px[0], 500000 + 1.85 * px[2]))
    assert (y0, y1) == pytest.approx((4100000 - 1.85 * px[3], 4100000 - 1.85 * px[1]))
    rot = (10., 0.8, -0.6, 20., 0.6, 0.8)                           # rotated and sheared transforms invert too
    from segkit.core import synth_blobs
    m = synth_blobs(1, size=48, seed=4).masks[0] > 0
    for t in (gt, rot):
        gj = mask_to_geojson(m, t, {'kind': 'site'})
        assert gj['type'] == 'FeatureCollection' and gj['features'][0]['properties']['kind'] == 'site'
        assert iou(polygons_to_mask(gj, m.shape, t), m) > 0.95
    class Aff:                                                      # objects with to_gdal() (affine.Affine, rasterio)
        def to_gdal(self): return gt
    assert mask_to_polygons(sq, Aff())[0].equals(poly)
    with pytest.raises(ValueError, match='geotransform'): mask_to_polygons(sq, (1, 2, 3))
