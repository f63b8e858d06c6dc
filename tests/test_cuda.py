"""GPU path (skipped without CUDA): AMP training of the thesis U-Net and of a DynamicUnet, one step of every pretext
task on CUDA against the same step on CPU, CAMs and metrics on CUDA against CPU, prediction and the demo recipe,
Inconsistency Masks + morphology, mean-shift, SPOCO terms, tiled prediction and a U-Mask R-CNN step.

The bad-input checks of `bench/gpu/run` at the end are not marked `cuda` and run everywhere.
Run on a GPU machine with `pytest -m cuda tests/test_cuda.py` (or `bench/gpu/run`, which also installs the carried wheels).
The comparisons are written for any device pair, so `_compare_*` can be tried on CPU (`amp=torch.bfloat16` under CPU autocast).
"""
import copy, math
import numpy as np
import pytest
import torch
from torch import nn
from segkit.core import synth_shapes, torch_seeded
from segkit.learner import seg_dls, seg_learner, predict_masks
from fastai.callback.fp16 import MixedPrecision

cuda = pytest.mark.cuda   # every GPU test; the bad-input tests of bench/gpu/run at the end run everywhere

# AMP tolerance for a loss computed under autocast against the fp32 CPU loss (relative; bf16 keeps 8 significant bits)
AMP_RTOL, AMP_ATOL = 5e-2, 1e-3

@pytest.fixture
def exact_fp32():
    "fp32 convolutions and matmuls without TF32, so CUDA and CPU agree to float rounding; restored afterwards."
    old = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = old

def _shapes_dls(n=16, size=64, bs=4):
    s = synth_shapes(n, size, seed=0)
    k = n * 3 // 4
    return s, seg_dls((s.images[:k], s.masks[:k]), (s.images[k:], s.masks[k:]), bs=bs)   # device chosen now: CUDA

def _fit_amp(learn, epochs=3):
    assert any(isinstance(cb, MixedPrecision) for cb in learn.cbs), "AMP is on by default on CUDA"
    w0 = [p.detach().clone() for p in learn.model.parameters()]
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(epochs, 3e-3)
    vals = np.array([v[:2] for v in learn.recorder.values], dtype=float)     # (epochs, [train loss, valid loss])
    assert np.isfinite(vals).all(), vals
    assert vals[1:, 0].min() < vals[0, 0], f"the training loss did not go down: {vals[:, 0]}"
    assert any(not torch.equal(a, b) for a, b in zip(w0, learn.model.parameters()))
    assert next(learn.model.parameters()).device.type == 'cuda'
    return vals

# ---------------------------------------------------------------- training with AMP

@cuda
def test_amp_training_on_gpu():
    s, dls = _shapes_dls()
    assert dls.device.type == 'cuda'
    learn = seg_learner(dls, 4, depth=3, base=16)
    _fit_amp(learn)
    pred = predict_masks(learn.model, s.images[12:])
    assert pred[0].shape == (64, 64)

@cuda
def test_amp_training_thesis_unet_full_size():
    "The thesis U-Net (depth 4, 64 base maps, max-unpool decoder) trains under AMP."
    from segkit.models.unet import UNet
    _, dls = _shapes_dls(n=16, size=128, bs=4)
    with torch_seeded(0): model = UNet(1, 4, depth=4, base=64, up='unpool')
    _fit_amp(seg_learner(dls, 4, model=model))

@cuda
def test_amp_training_dynamic_unet():
    from segkit.models.dynamic import dynamic_unet
    _, dls = _shapes_dls()
    with torch_seeded(0): model = dynamic_unet(4, 'resnet18', n_in=1, img_size=(64, 64))
    _fit_amp(seg_learner(dls, 4, model=model))

@cuda
def test_demo_recipe_on_gpu(tmp_path):
    from segkit.experiments import run_recipe
    import os   # bench/gpu/run points SEGKIT_NUCLEI_PATH at the 4 real images `bench/gpu/prepare` carries; else the fetched wheel
    run = run_recipe('demo', out=tmp_path, epochs=2, n=24, size=64, path=os.environ.get('SEGKIT_NUCLEI_PATH'), verbose=False)
    assert run.config['env']['device'].startswith('cuda') and run.status['state'] == 'complete'

# ---------------------------------------------------------------- pretext tasks: one step, CUDA (AMP) vs CPU (fp32)

PRETEXT = [('autoencoder', 'resnet18', {}, 32), ('simclr', 'resnet18', {}, 32), ('byol', 'resnet18', {}, 32),
           ('moco', 'resnet18', dict(queue_size=32), 32), ('barlow_twins', 'resnet18', {}, 32),
           ('densecl', 'resnet18', dict(queue_size=32), 32), ('detco', 'resnet18', dict(queue_size=32, grid=2), 32),
           ('fcmae', 'convnextv2_atto', {}, 64)]

def _pretext_step(name, encoder, kw, size, dev, amp=None, bs=8):
    "Build the task (seeded), make views on CPU, take one Adam step on `dev` (under autocast `amp`); return (loss, task)."
    from segkit.selfsl.pretext import get_pretext
    with torch_seeded(0): task = get_pretext(name, encoder, seed=0, **kw)
    x = torch.rand(bs, 1, size, size, generator=torch.Generator().manual_seed(1))
    views = [v.to(dev) for v in task.views(x)]                  # views drawn on CPU: the same on every device
    task = task.to(dev).train()
    opt = torch.optim.Adam([p for p in task.parameters() if p.requires_grad], 1e-3)
    with torch.autocast(torch.device(dev).type, dtype=amp or torch.float32, enabled=amp is not None):
        loss = task.loss(task(*views), x.to(dev))
    loss.backward()
    grads = [p.grad for p in task.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads), f"{name}: non-finite gradients on {dev}"
    opt.step(); task.momentum_step(0.5)
    return float(loss), task

def _compare_pretext(name, encoder, kw, size, dev='cuda', amp=torch.bfloat16):
    ref, _ = _pretext_step(name, encoder, kw, size, 'cpu')
    got, task = _pretext_step(name, encoder, kw, size, dev, amp)
    assert math.isfinite(got)
    assert math.isclose(got, ref, rel_tol=AMP_RTOL, abs_tol=AMP_ATOL), f"{name}: loss {got:.5f} on {dev} (AMP) vs {ref:.5f} on CPU"
    assert next(task.encoder.parameters()).device.type == torch.device(dev).type
    return ref, got

@cuda
@pytest.mark.parametrize('name,encoder,kw,size', PRETEXT, ids=[c[0] for c in PRETEXT])
def test_pretext_step_cuda_amp_matches_cpu(name, encoder, kw, size):
    _compare_pretext(name, encoder, kw, size)

@cuda
def test_every_pretext_task_is_checked():
    from segkit.selfsl.pretext import list_pretexts
    assert set(list_pretexts()) == {c[0] for c in PRETEXT}

# ---------------------------------------------------------------- CAMs: CUDA vs CPU

CAM_KW = {'occlusion': dict(window=4, stride=2), 'smooth_guided_gradcam': dict(sigma=1.)}

def _cam_model():
    with torch_seeded(0):
        return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 6, 3, padding=1), nn.ReLU(),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3)).eval()

def _compare_cam(name, dev="cuda", atol=1e-3):
    from segkit.explain.cams import get_cam
    x = torch.rand(3, 1, 24, 28, generator=torch.Generator().manual_seed(1))
    m = _cam_model()
    ref = get_cam(name)(m, **CAM_KW.get(name, {}))(x, target=1)
    got = get_cam(name)(copy.deepcopy(m).to(dev), **CAM_KW.get(name, {}))(x.to(dev), target=1)
    assert got.device.type == torch.device(dev).type and got.shape == ref.shape
    torch.testing.assert_close(got.cpu(), ref, atol=atol, rtol=0, msg=lambda m: f"{name}: {m}")

def _cam_names():
    from segkit.explain.cams import list_cams
    return list_cams()

@cuda
@pytest.mark.parametrize('name', _cam_names())
def test_cam_cuda_matches_cpu(name, exact_fp32):
    _compare_cam(name)

# ---------------------------------------------------------------- metrics and losses: CUDA tensors vs CPU tensors

def _labels(seed, shape, k):
    return torch.randint(0, k, shape, generator=torch.Generator().manual_seed(seed))

def _compare_metrics(dev='cuda'):
    from segkit.metrics.semantic import confusion_matrix, batch_confusion
    from segkit.metrics.instance import instance_scores
    from segkit.metrics.representation import psi_nqc, knn_accuracy, linear_cka
    t, p = _labels(0, (4, 32, 32), 3), _labels(1, (4, 32, 32), 3)
    np.testing.assert_array_equal(confusion_matrix(p.to(dev), t.to(dev), 3), confusion_matrix(p, t, 3))
    np.testing.assert_array_equal(batch_confusion(p.to(dev), t.to(dev), 3, ignore_index=2), batch_confusion(p, t, 3, ignore_index=2))
    gi, pi = _labels(2, (48, 48), 6), _labels(3, (48, 48), 6)
    a, b = instance_scores(gi.to(dev), pi.to(dev)), instance_scores(gi, pi)
    assert a.keys() == b.keys() and all(np.allclose(a[k], b[k], equal_nan=True) for k in a)
    f = torch.randn(40, 8, generator=torch.Generator().manual_seed(4)); y = np.arange(40) % 3
    assert psi_nqc(f.to(dev), y) == psi_nqc(f, y)
    assert knn_accuracy(f[:30].to(dev), y[:30], f[30:].to(dev), y[30:], k=5) == knn_accuracy(f[:30], y[:30], f[30:], y[30:], k=5)
    assert math.isclose(linear_cka(f.to(dev), f[:, :4].to(dev)), linear_cka(f, f[:, :4]), rel_tol=1e-9)

def _compare_losses(dev='cuda'):
    from segkit.losses import soft_dice, masked_dice_loss, cal_loss
    g = torch.Generator().manual_seed(5)
    lab = _labels(6, (2, 16, 16), 3); lab[0] %= 2                              # class 2 absent from image 0 ...
    logits, y = torch.randn(2, 3, 16, 16, generator=g), nn.functional.one_hot(lab, 3).permute(0, 3, 1, 2).float()
    m = torch.ones(2, 3); m[0, 2] = 0                                           # ... and not annotated there
    for f, args in [(soft_dice, (logits.softmax(1), y)), (masked_dice_loss, (logits, y, m)), (cal_loss, (logits, y, m))]:
        ref, got = f(*args), f(*[a.to(dev) for a in args])
        assert got.device.type == torch.device(dev).type, f.__name__
        torch.testing.assert_close(got.cpu(), ref, atol=1e-5, rtol=1e-5, msg=f.__name__)

def _compare_fastai_metrics(dev='cuda'):
    from types import SimpleNamespace
    from segkit.metrics.semantic import PooledSegMetric, PerImageSegMetric
    pred, y = torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(7)), _labels(8, (4, 16, 16), 3)
    for M in (lambda: PooledSegMetric(3), lambda: PerImageSegMetric(3)):
        vals = []
        for d in ('cpu', dev):
            met = M(); met.reset()
            for i in (0, 2): met.accumulate(SimpleNamespace(pred=pred[i:i + 2].to(d), y=y[i:i + 2].to(d)))
            vals.append(met.value)
        assert vals[0] == vals[1]

@cuda
def test_metrics_on_cuda_tensors_match_cpu(): _compare_metrics()
@cuda
def test_losses_on_cuda_match_cpu(exact_fp32): _compare_losses()
@cuda
def test_fastai_metrics_accumulate_cuda_batches(): _compare_fastai_metrics()

# ---------------------------------------------------------------- IM, morphology, embeddings, SPOCO, prediction, Mask R-CNN

def _compare_im(dev='cuda'):
    "Inconsistency masks (binary / multiclass / multilabel) and their morphology on CUDA tensors equal the numpy path."
    import pandas as pd
    from segkit.pseudo.im import im_binary, im_multiclass, im_multilabel, morph_im, dilate, erode
    g = torch.Generator().manual_seed(9)
    pb, pc = (torch.rand(2, 3, 32, 32, generator=g) > .5).to(torch.uint8), torch.randint(0, 3, (2, 3, 32, 32), generator=g)
    pl = (torch.rand(2, 3, 2, 32, 32, generator=g) > .5).to(torch.uint8)
    for task, f, x, kw in [('binary', im_binary, pb, {}), ('multiclass', im_multiclass, pc, dict(n_classes=3)), ('multilabel', im_multilabel, pl, {})]:
        ref, got = f(x.numpy(), **kw), f(x.to(dev), **kw)
        assert got.F.device.type == torch.device(dev).type, task
        np.testing.assert_array_equal(got.F.cpu().numpy(), ref.F, err_msg=task); np.testing.assert_array_equal(got.I.cpu().numpy(), ref.I, err_msg=task)
        pd.testing.assert_frame_equal(got.stats, ref.stats, check_dtype=False)
        m_ref, m_got = morph_im(ref, 3, 5, task=task, **kw), morph_im(got, 3, 5, task=task, **kw)
        np.testing.assert_array_equal(m_got.F.cpu().numpy(), m_ref.F, err_msg=task); np.testing.assert_array_equal(m_got.I.cpu().numpy(), m_ref.I, err_msg=task)
        pd.testing.assert_frame_equal(m_got.stats, m_ref.stats, check_dtype=False)
    for op in (dilate, erode): np.testing.assert_array_equal(op(pb.to(dev), 5).cpu().numpy(), op(pb.numpy(), 5))

def _compare_mean_shift(dev='cuda'):
    "The torch mean-shift finds the same clusters on CUDA as on CPU (well-separated blobs: no point sits on a kernel edge)."
    from sklearn.metrics import adjusted_rand_score
    from segkit.instances.embeddings import mean_shift
    g = torch.Generator().manual_seed(10)
    centres = torch.tensor([[0., 0, 0], [4, 0, 0], [0, 4, 0], [0, 0, 4]])
    x = (centres[:, None] + .15 * torch.randn(4, 500, 3, generator=g)).reshape(-1, 3)
    (l_ref, c_ref), (l_got, c_got) = mean_shift(x, bandwidth=1.), mean_shift(x.to(dev), bandwidth=1.)
    assert l_got.device.type == torch.device(dev).type and len(c_got) == len(c_ref) == 4
    assert adjusted_rand_score(l_ref.numpy(), l_got.cpu().numpy()) == 1.0

def _compare_spoco(dev='cuda'):
    "SPOCO's embedding terms (mean anchors: no random draw) on CUDA equal the CPU values."
    from segkit.losses import embedding_terms
    g = torch.Generator().manual_seed(11)
    emb = torch.randn(2, 4, 24, 24, generator=g)
    t = torch.full((2, 24, 24), -1, dtype=torch.int64); t[:, :8] = 0; t[:, 10:16, 2:9] = 1; t[:, 17:23, 12:20] = 2
    ref, got = embedding_terms(emb, t, anchor='mean'), embedding_terms(emb.to(dev), t.to(dev), anchor='mean')
    assert ref.keys() == got.keys()
    for k in ref: torch.testing.assert_close(torch.as_tensor(got[k]).cpu(), torch.as_tensor(ref[k]), atol=1e-4, rtol=1e-4, msg=k)

def _compare_predict_maps(dev='cuda'):
    "Tiled prediction with overlaps on CUDA equals the CPU maps (fp32, no TF32)."
    from segkit.infer import predict_maps
    from segkit.models.unet import UNet
    with torch_seeded(0): model = UNet(1, 3, depth=3, base=8).eval()
    imgs = torch.rand(3, 1, 80, 72, generator=torch.Generator().manual_seed(12)).numpy()
    ref = predict_maps(model, imgs, tile=48, overlap=16, device='cpu')
    got = predict_maps(model, imgs, tile=48, overlap=16, device=dev)
    # fp32 without TF32, yet cuDNN's convolution algorithms sum in another order than CPU's: seen up to 6e-4 on an H100
    np.testing.assert_allclose(got, ref, atol=2e-3)
    assert (got.argmax(1) == ref.argmax(1)).mean() > 0.99

def _umask_step(dev='cuda'):
    "One U-Mask R-CNN training step (all five losses + L_c finite, gradients reach the backbone) and an eval pass on `dev`."
    from segkit.models.rcnn import umask_rcnn
    with torch_seeded(0): m = umask_rcnn(k=6, size=64).to(dev)
    imgs = [torch.rand(1, 64, 64, device=dev) for _ in range(2)]
    masks = torch.zeros(2, 64, 64, dtype=torch.uint8); masks[0, 8:30, 10:28] = 1; masks[1, 34:60, 30:58] = 1
    tg = [dict(boxes=torch.tensor([[10., 8, 28, 30], [30, 34, 58, 60]], device=dev), labels=torch.ones(2, dtype=torch.int64, device=dev),
               masks=masks.to(dev), certainty_bin=torch.tensor([5, 2], device=dev)) for _ in range(2)]
    m.train(); losses = m(imgs, tg)
    assert 'loss_certainty' in losses and all(torch.isfinite(v) for v in losses.values()), losses
    sum(losses.values()).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in m.backbone.parameters())
    m.eval()
    with torch.no_grad(): out = m(imgs)
    assert len(out) == 2 and all(o['certainty_logits'].shape[1] == 6 and o['boxes'].device.type == torch.device(dev).type for o in out)

def _rcnn_learner_fit(dev='cuda'):
    "The fastai Mask R-CNN learner (U-Mask, AMP on CUDA by default) trains the two-image toy set on `dev`; validation reproducible."
    from segkit.models.rcnn import umask_rcnn
    from segkit.learner_rcnn import RCNNDataset, rcnn_dls, rcnn_learner
    rng = np.random.default_rng(0); ims, labs = [], []
    for i in range(2):
        lb = np.zeros((64, 64), np.int32); lb[4:24, 4:24] = 1; lb[34 - i:56, 30:52] = 2
        ims.append((rng.random((64, 64)) * 0.2 + (lb > 0) * 0.7).astype(np.float32)); labs.append(lb)
    tags = [[True, False]] * 2
    dls = rcnn_dls(RCNNDataset(ims, labs, certain=tags, flip=True), RCNNDataset(ims, labs, certain=tags), bs=2, device=dev)
    with torch_seeded(0): net = umask_rcnn(backbone='tiny', size=64, detections=20, rpn_post_nms_top_n_train=100, rpn_post_nms_top_n_test=50)
    learn = rcnn_learner(dls, net, lr=1e-3, aji_every=1, keep_best=None)
    with torch_seeded(1), learn.no_bar(): learn.fit(3)
    vals = np.array(learn.recorder.values, dtype=float)
    assert np.isfinite(vals[:, :2]).all() and vals[-1, 0] < vals[0, 0], vals
    assert next(learn.model.parameters()).device.type == torch.device(dev).type

@cuda
def test_im_and_morphology_on_cuda_match_cpu(): _compare_im()
@cuda
def test_rcnn_learner_trains_on_cuda(): _rcnn_learner_fit()
@cuda
def test_mean_shift_on_cuda_matches_cpu(): _compare_mean_shift()
@cuda
def test_spoco_terms_on_cuda_match_cpu(exact_fp32): _compare_spoco()
@cuda
def test_predict_maps_on_cuda_matches_cpu(exact_fp32): _compare_predict_maps()
@cuda
def test_umask_rcnn_trains_and_predicts_on_cuda(): _umask_step()

# ---------------------------------------------------------------- bench/gpu/run: bad input (runs on every machine)

import subprocess, sys
from pathlib import Path
RUN = Path(__file__).resolve().parents[1] / 'bench' / 'gpu' / 'run'

def _load_run():
    import importlib.machinery, importlib.util
    loader = importlib.machinery.SourceFileLoader('gpu_run', str(RUN))
    spec = importlib.util.spec_from_loader('gpu_run', loader); mod = importlib.util.module_from_spec(spec); loader.exec_module(mod)
    return mod

@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on machines without CUDA")
def test_gpu_run_without_cuda_exits_2_with_a_message():
    r = subprocess.run([sys.executable, str(RUN), '--no-tests', '--no-bench'], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert 'no CUDA device' in r.stderr and '--dry' in r.stderr and 'Traceback' not in r.stderr

def test_gpu_run_names_a_missing_wheel_and_the_prepare_command(tmp_path, capsys):
    import json
    run = _load_run()
    (tmp_path / 'manifest.json').write_text(json.dumps(dict(wheels=[dict(dist='captum', version='0.9.0', group='always', module='captum',
                                                                          file='captum-0.9.0-py3-none-any.whl', pure=True)], skipped={})))
    with pytest.raises(SystemExit) as e: run.read_manifest(tmp_path)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert 'captum-0.9.0-py3-none-any.whl' in err and 'bench/gpu/prepare' in err
    with pytest.raises(SystemExit) as e: run.read_manifest(tmp_path / 'absent')
    assert e.value.code == 2 and 'bench/gpu/prepare' in capsys.readouterr().err

def test_gpu_run_plans_only_what_is_missing_or_older():
    run = _load_run()
    man = dict(wheels=[dict(dist='fastai', version='2.8.7', group='always', file='f.whl'),
                       dict(dist='pytest', version='0.1', group='if_missing', file='p.whl'),            # older pin: present here
                       dict(dist='no-such-dist-xyz', version='1.0', group='if_missing', file='n.whl'),
                       dict(dist='pytest', version='999.0', group='if_missing', file='q.whl')])         # newer pin than here
    assert [(e['dist'], e['why'].split()[-1]) for e in run.plan(man)] == [('fastai', 'version'), ('no-such-dist-xyz', 'here'), ('pytest', 'older')]

def test_gpu_report_reads_the_committed_run(tmp_path):
    "bench/gpu/report.py rebuilds the committed H100 report from the committed JSON files (numbers are read, not typed)."
    import shutil
    res = RUN.parents[1] / 'results'
    for f, name in (('gpu_check-2026-11-26.json', 'gpu_check.json'), ('gpu_throughput-2026-11-26.json', 'gpu_throughput.json')):
        shutil.copy(res / 'gpu' / f, tmp_path / name)
    (tmp_path / 'gpu_throughput.md').write_text((res / 'gpu' / 'gpu_throughput-2026-11-26.md').read_text())
    r = subprocess.run([sys.executable, str(RUN.parent / 'report.py'), str(tmp_path), '2026-11-26', '--out', str(tmp_path / 'r.md'),
                        '--rerun', str(res / 'gpu' / 'gpu_check-2026-11-26-rerun.json')],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / 'r.md').read_text() == (res / 'gpu-2026-11-26.md').read_text()
    r = subprocess.run([sys.executable, str(RUN.parent / 'report.py'), str(tmp_path / 'none'), 'x'], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and 'bench/gpu/run' in r.stderr and 'Traceback' not in r.stderr
