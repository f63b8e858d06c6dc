"""Pretext tasks: losses against their published formulas computed by hand, momentum schedules and queues,
FCMAE masking, seeded augmentation, and every method training a few steps in a fastai Learner."""
import math
import pytest
import torch
import torch.nn.functional as F
from segkit.core import synth_blobs
from segkit.learner import seg_dls
from segkit.models.encoders import get_encoder
from segkit.selfsl.pretext import (AUG_PRESETS, BatchAug, view_aug, nt_xent, byol_loss, cosine_tau, ema_update, info_nce,
                                   Queue, barlow_twins_loss, dense_match, dense_info_nce, random_patch_mask,
                                   masked_patch_mse, get_pretext, list_pretexts, pretext_learner, register_pretext,
                                   PretextTask, PRETEXTS, smoke_pretext)

G = lambda s=0: torch.Generator().manual_seed(s)

# ---- augmentation

def test_views_are_seeded_and_keep_shape_and_device():
    x = torch.rand(4, 1, 40, 40)
    for p in AUG_PRESETS:
        a, b = view_aug(p, seed=1)(x), view_aug(p, seed=1)(x)
        assert a.shape == x.shape and torch.equal(a, b) and torch.isfinite(a).all()
    assert not torch.equal(view_aug('microscopy', seed=1)(x), view_aug('microscopy', seed=2)(x))
    assert view_aug('microscopy', size=24)(x).shape == (4, 1, 24, 24)

def test_light_preset_only_permutes_pixels():
    x = torch.rand(6, 1, 16, 16)
    v = view_aug('light', seed=0)(x)
    assert torch.allclose(v.flatten(1).sort(1).values, x.flatten(1).sort(1).values, atol=1e-5)

def test_intensity_preset_is_a_per_image_gain_and_shift():
    "`intensity` moves no pixel: every view is a·x + b with a in [0.6, 1.4] and b in [−0.05, 0.1], drawn per image."
    x = torch.rand(8, 2, 16, 16)
    v = view_aug('intensity', seed=3)(x)
    X = torch.stack([x.flatten(1), torch.ones_like(x.flatten(1))], 2)                 # least squares v = a·x + b per image
    ab = torch.linalg.lstsq(X, v.flatten(1)[..., None]).solution[..., 0]
    assert torch.allclose(X @ ab[..., None], v.flatten(1)[..., None], atol=1e-4)     # exactly affine: no blur, noise or move
    assert ((ab[:, 0] >= 0.6 - 1e-4) & (ab[:, 0] <= 1.4 + 1e-4)).all() and ((ab[:, 1] >= -0.05 - 1e-4) & (ab[:, 1] <= 0.1 + 1e-4)).all()
    assert ab[:, 1].std() > 0.01 and ab[:, 0].std() > 0.05                          # drawn per image

def test_augmentation_presets_are_a_registry():
    assert AUG_PRESETS.names() == ['intensity', 'light', 'microscopy', 'monuseg', 'terrain']
    for p in AUG_PRESETS.names(): assert AUG_PRESETS.check(p).shape == (2, 1, 16, 16)
    assert AUG_PRESETS.help('light').startswith('flips')

def test_bad_augmentation_input():
    with pytest.raises(KeyError, match='known'): view_aug('colour')
    with pytest.raises(ValueError, match=r'\(N, C, H, W\)'): BatchAug()(torch.rand(1, 8, 8))

# ---- losses against direct formula computations

def _sim(a, b): return float(F.normalize(a, dim=0) @ F.normalize(b, dim=0))

def test_nt_xent_equals_formula():
    z1, z2, t = torch.randn(4, 6, generator=G(1)), torch.randn(4, 6, generator=G(2)), 0.2
    z = list(torch.cat([z1, z2])); n = len(z)
    def ell(i, j): return -math.log(math.exp(_sim(z[i], z[j]) / t) / sum(math.exp(_sim(z[i], z[k]) / t) for k in range(n) if k != i))
    direct = sum(ell(k, k + 4) + ell(k + 4, k) for k in range(4)) / n
    assert abs(float(nt_xent(z1, z2, t)) - direct) < 1e-5

def test_nt_xent_agrees_with_lightly_if_installed():
    lightly_loss = pytest.importorskip('lightly.loss')
    z1, z2 = torch.randn(5, 8, generator=G(3)), torch.randn(5, 8, generator=G(4))
    ref = lightly_loss.NTXentLoss(temperature=0.5)(z1, z2)
    assert torch.allclose(nt_xent(z1, z2, 0.5), ref, atol=1e-5)

def test_byol_loss_and_schedule():
    p, z = torch.randn(3, 4, generator=G(5)), torch.randn(3, 4, generator=G(6))
    direct = sum(float(((F.normalize(p[i], dim=0) - F.normalize(z[i], dim=0)) ** 2).sum()) for i in range(3)) / 3
    assert abs(float(byol_loss(p, z)) - direct) < 1e-5
    assert cosine_tau(0) == pytest.approx(0.996) and cosine_tau(1) == pytest.approx(1.0)
    assert cosine_tau(0.5) == pytest.approx(0.998)       # 1 − 0.004·(cos(π/2) + 1)/2
    taus = [cosine_tau(k / 10) for k in range(11)]
    assert all(a <= b for a, b in zip(taus, taus[1:]))

def test_ema_update_and_buffers():
    a, b = torch.nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    with torch.no_grad(): a.weight.fill_(2.); b.weight.fill_(1.); a.running_mean.fill_(5.)
    ema_update(a, b, 0.75)
    assert torch.allclose(b.weight, torch.full((3,), 1.25)) and torch.equal(b.running_mean, a.running_mean)

def test_info_nce_equals_formula():
    q, k = F.normalize(torch.randn(3, 4, generator=G(7)), dim=1), F.normalize(torch.randn(3, 4, generator=G(8)), dim=1)
    neg, t = F.normalize(torch.randn(5, 4, generator=G(9)), dim=1), 0.2
    direct = [-math.log(math.exp(float(q[i] @ k[i]) / t) / (math.exp(float(q[i] @ k[i]) / t) + sum(math.exp(float(q[i] @ m) / t) for m in neg))) for i in range(3)]
    assert abs(float(info_nce(q, k, neg, t)) - sum(direct) / 3) < 1e-5

def test_queue_is_fifo():
    Q = Queue(4, 1)
    Q.push(torch.tensor([[1.], [2.], [3.]])); assert Q.keys[:3, 0].tolist() == [1, 2, 3] and int(Q.ptr) == 3
    Q.push(torch.tensor([[4.], [5.]]));       assert Q.keys[:, 0].tolist() == [5, 2, 3, 4] and int(Q.ptr) == 1
    Q.push(torch.arange(10., 16.)[:, None]);  assert sorted(Q.keys[:, 0].tolist()) == [12, 13, 14, 15]   # only the newest `size`
    k = Q(); Q.push(torch.zeros(1, 1)); assert not torch.equal(k, Q.keys)                                   # `Q()` is a copy

def test_barlow_twins_equals_formula():
    z1, z2, lam = torch.randn(7, 3, generator=G(10), dtype=torch.float64), torch.randn(7, 3, generator=G(11), dtype=torch.float64), 0.05
    def std(z):
        m = z.mean(0); s = ((z - m) ** 2).mean(0).add(1e-5).sqrt(); return (z - m) / s
    a, b = std(z1), std(z2)
    C = [[sum(float(a[n, i] * b[n, j]) for n in range(7)) / 7 for j in range(3)] for i in range(3)]
    direct = sum((1 - C[i][i]) ** 2 for i in range(3)) + lam * sum(C[i][j] ** 2 for i in range(3) for j in range(3) if i != j)
    assert abs(float(barlow_twins_loss(z1, z2, lam)) - direct) < 1e-9
    assert float(barlow_twins_loss(z1, z1, lam)) < float(barlow_twins_loss(z1, z2, lam))

def test_dense_losses():
    f1 = torch.randn(2, 5, 3, 3, generator=G(12))
    perm = torch.randperm(9, generator=G(13))
    f2 = f1.flatten(2)[:, :, perm].view(2, 5, 3, 3)
    match = dense_match(f1, f2)
    assert torch.equal(perm[match], torch.arange(9).expand(2, 9))     # each location finds itself
    q = F.normalize(torch.randn(2, 4, 9, generator=G(14)), dim=1); k = F.normalize(torch.randn(2, 4, 9, generator=G(15)), dim=1)
    neg = F.normalize(torch.randn(6, 4, generator=G(16)), dim=1)
    direct = sum(float(info_nce(q[n, :, r][None], k[n, :, int(match[n, r])][None], neg)) for n in range(2) for r in range(9)) / 18
    assert abs(float(dense_info_nce(q, k, match, neg)) - direct) < 1e-5

def test_patch_mask_ratio_and_masked_loss():
    m = random_patch_mask(5, (4, 6), 0.5, G(0))
    assert m.shape == (5, 4, 6) and m.sum((1, 2)).tolist() == [12.] * 5
    assert not torch.equal(m[0], m[1])
    with pytest.raises(ValueError, match='mask_ratio'): random_patch_mask(1, (2, 2), 1.0)
    pred, target = torch.randn(5, 16, 4, 6, generator=G(1)), torch.randn(5, 16, 4, 6, generator=G(2))
    l0 = masked_patch_mse(pred, target, m, norm_pix=False)
    direct = sum(float(((pred[b, :, i, j] - target[b, :, i, j]) ** 2).mean()) for b in range(5) for i in range(4) for j in range(6) if m[b, i, j]) / 60
    assert abs(float(l0) - direct) < 1e-5
    assert torch.allclose(masked_patch_mse(pred + 100 * (1 - m)[:, None], target, m, norm_pix=False), l0)

# ---- tasks

def test_fcmae_masks_the_ratio_and_hides_masked_pixels():
    task = get_pretext('fcmae', 'convnextv2_atto', mask_ratio=0.5).eval()
    x = torch.randn(3, 1, 128, 64, generator=G(3))
    task.mask_gen.manual_seed(0); pred, target, m = task(x)
    assert m.shape == (3, 4, 2) and m.sum((1, 2)).tolist() == [4.] * 3
    assert pred.shape == target.shape == (3, 32 * 32, 4, 2)
    hidden = F.interpolate(m[:, None], size=x.shape[-2:], mode='nearest')
    task.mask_gen.manual_seed(0); pred2, _, _ = task(x + 5 * hidden * torch.randn_like(x))
    assert torch.allclose(pred, pred2, atol=1e-5)
    with pytest.raises(ValueError, match='multiple of the patch size'): task(torch.randn(1, 1, 48, 64))

def test_registry_and_bad_input():
    assert list_pretexts() == PRETEXTS.names() == ['autoencoder', 'barlow_twins', 'byol', 'densecl', 'detco', 'fcmae', 'moco', 'simclr']
    with pytest.raises(KeyError, match='known: autoencoder'): get_pretext('swav')
    with pytest.raises(ValueError, match='already registered'): register_pretext('simclr')(PretextTask)
    with pytest.raises(TypeError, match='PretextTask'): register_pretext('not_a_task')(torch.nn.Linear)
    register_pretext('simclr')(PRETEXTS['simclr'])                      # the same class again (a re-run cell): fine
    assert PRETEXTS['simclr'].name == 'simclr' and set(PRETEXTS.table().columns) >= {'help', 'min_bs', 'global_batch_loss'}
    with pytest.raises(TypeError, match='Encoder'): get_pretext('simclr', torch.nn.Conv2d(1, 2, 3))
    for name in ('simclr', 'byol', 'barlow_twins'):
        with pytest.raises(ValueError, match='at least 2'): get_pretext(name, 'resnet18')(torch.rand(1, 1, 32, 32), torch.rand(1, 1, 32, 32))
    with pytest.raises(ValueError, match='multiple'): get_pretext('fcmae', 'resnet18', patch_size=16)

def test_byol_target_follows_the_cosine_schedule():
    task = get_pretext('byol', 'resnet18')
    with torch.no_grad():
        for p in task.encoder.parameters(): p.add_(1.)
    w_on, w_tg = task.encoder.body.conv1.weight.clone(), task.target_encoder.body.conv1.weight.clone()
    task.momentum_step(0.5)
    assert torch.allclose(task.target_encoder.body.conv1.weight, 0.998 * w_tg + 0.002 * w_on, atol=1e-6)

def test_moco_queue_fills_only_in_training():
    task = get_pretext('moco', 'resnet18', queue_size=16)
    x = torch.rand(4, 1, 32, 32)
    task.eval(); task.loss(task(*task.views(x))); assert int(task.queue.ptr) == 0
    task.train(); out = task(*task.views(x)); task.loss(out)
    assert int(task.queue.ptr) == 4 and torch.allclose(task.queue.keys[:4], out[1])

def _dls(size, n_train=8, n_valid=4, bs=4):
    s = synth_blobs(n_train + n_valid, size, seed=0)
    return seg_dls((s.images[:n_train], s.masks[:n_train]), (s.images[n_train:], s.masks[n_train:]), bs=bs, device='cpu', flip=False)

CASES = [('autoencoder', 'resnet18', {}), ('simclr', 'resnet18', {}), ('byol', 'resnet18', {}), ('moco', 'resnet18', dict(queue_size=32)),
         ('barlow_twins', 'resnet18', {}), ('densecl', 'resnet18', dict(queue_size=32)), ('detco', 'resnet18', dict(queue_size=32, grid=2)),
         ('fcmae', 'convnextv2_atto', {})]

@pytest.mark.parametrize('name,encoder,kw', CASES, ids=[c[0] for c in CASES])
def test_trains_in_a_fastai_learner(name, encoder, kw):
    torch.manual_seed(0)
    enc = get_encoder(encoder)
    task = get_pretext(name, enc, seed=0, **kw)
    w0 = {k: v.clone() for k, v in enc.state_dict().items()}
    targets = {n: p.clone() for n, p in task.named_parameters() if n.startswith(('target_', 'key_'))}
    learn = pretext_learner(_dls(64 if name == 'fcmae' else 32), task, lr=1e-3)
    learn.fit(1)                                                   # 2 steps + a validation pass
    tr, va = learn.recorder.values[-1][:2]
    assert math.isfinite(tr) and math.isfinite(va)
    assert any(not torch.equal(w0[k], v) for k, v in enc.state_dict().items() if v.is_floating_point())
    params = dict(task.named_parameters())
    for n in targets:
        assert not params[n].requires_grad and params[n].grad is None
    if targets: assert any(not torch.equal(targets[n], params[n]) for n in targets)     # moved by the EMA step
    trainable = {id(p) for p in learn.opt.all_params(with_grad=False).itemgot(0)}
    assert all(id(params[n]) not in trainable for n in targets)

def test_validation_views_are_fixed():
    task = get_pretext('simclr', 'resnet18', seed=0)
    learn = pretext_learner(_dls(32), task)
    a, b = learn.validate()[0], learn.validate()[0]
    assert a == pytest.approx(b, abs=1e-6)

def test_too_small_batch_in_learner():
    learn = pretext_learner(_dls(32, n_train=5, n_valid=1, bs=4), get_pretext('barlow_twins', 'resnet18'))
    with pytest.raises(ValueError, match='at least 2'): learn.validate()

# ---- agreement with lightly (optional: `make install` adds it with --no-deps; skipped when it is missing)

def test_barlow_twins_agrees_with_lightly_if_installed():
    lightly_loss = pytest.importorskip('lightly.loss')
    z1, z2 = torch.randn(16, 32, generator=G(11)), torch.randn(16, 32, generator=G(12))
    for lam in (5e-3, 0.05):
        assert torch.allclose(barlow_twins_loss(z1, z2, lam), lightly_loss.BarlowTwinsLoss(lambda_param=lam)(z1, z2), rtol=1e-5)

def test_byol_loss_agrees_with_lightly_if_installed():
    "BYOL's normalised MSE is 2 − 2·cos, i.e. 2 + 2·lightly's NegativeCosineSimilarity."
    lightly_loss = pytest.importorskip('lightly.loss')
    p, z = torch.randn(6, 8, generator=G(13)), torch.randn(6, 8, generator=G(14))
    assert torch.allclose(byol_loss(p, z), 2 + 2 * lightly_loss.NegativeCosineSimilarity()(p, z), atol=1e-6)

def test_momentum_agrees_with_lightly_if_installed():
    utils = pytest.importorskip('lightly.models.utils')
    sched = pytest.importorskip('lightly.utils.scheduler')
    n = 11                                                   # lightly's schedule reaches 1 at step n − 1
    for s in range(n): assert cosine_tau(s / (n - 1)) == pytest.approx(sched.cosine_schedule(s, n, 0.996, 1.0), abs=1e-9)
    a, b = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    b2 = torch.nn.Linear(3, 2); b2.load_state_dict(b.state_dict())
    ema_update(a, b, 0.9); utils.update_momentum(a, b2, 0.9)
    assert all(torch.allclose(x, y) for x, y in zip(b.parameters(), b2.parameters()))

# ---- registry conformance: every method's smoke check (tiny encoder, one forward, loss and SGD step)

@pytest.mark.parametrize('name', PRETEXTS.names())
def test_smoke_every_method(name):
    torch.set_num_threads(1)
    state = torch.random.get_rng_state()
    l = PRETEXTS.check(name)
    assert math.isfinite(l) and l == smoke_pretext(name)                   # seeded: the same loss again
    assert math.isfinite(smoke_pretext(name, step=True, bs=4))
    assert torch.equal(state, torch.random.get_rng_state())               # library code leaves the global RNG alone

def test_streams_not_offsets():
    "Queues and masks draw from named streams of the seed, not from `seed + 1`."
    from segkit.core import stream_seed
    e = lambda: get_encoder('unet', depth=1, base=4)
    d = get_pretext('densecl', e(), seed=3, queue_size=8, proj_dim=4)
    q = torch.nn.functional.normalize(torch.randn(8, 4, generator=torch.Generator().manual_seed(stream_seed(3, 'queue'))), dim=1)
    assert torch.equal(d.queue.keys, q) and not torch.equal(d.queue.keys, d.dense_queue.keys)
    assert not torch.equal(get_pretext('moco', e(), seed=0, queue_size=8, proj_dim=4).queue.keys,
                           get_pretext('densecl', e(), seed=1, queue_size=8, proj_dim=4).dense_queue.keys)
