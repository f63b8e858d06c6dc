"""Issue 5 glue: the DynamicUnet wrapper, the partial-label learner (presence-aware Dice, early stopping, best weights)
and the CoHeG recipes end to end on a tiny synthetic stand-in (resumable, Table A.3 layout)."""
import json
import numpy as np
import pytest
import torch
import torchvision
from segkit.models.dynamic import dynamic_unet, resnet_body
from segkit.learner import partial_learner
from segkit.metrics.semantic import PresentDice
from segkit.labels.coheg import CoHeG, coheg_dls, ablation
from segkit.core import synth_shapes

def test_dynamic_unet_one_channel_and_weights(tmp_path):
    net = dynamic_unet(2, 'resnet18', n_in=1, img_size=(64, 64))
    assert net(torch.randn(1, 1, 64, 64)).shape == (1, 2, 64, 64)
    # a 1-channel torchvision-layout state dict loads unchanged
    m = torchvision.models.resnet18(weights=None); m.conv1 = torch.nn.Conv2d(1, 64, 7, 2, 3, bias=False)
    torch.save(m.state_dict(), tmp_path / 'one.pth')
    body = resnet_body('resnet18', n_in=1, weights_path=tmp_path / 'one.pth')
    assert torch.equal(body[0].weight, m.conv1.weight) and torch.equal(body[4][0].conv1.weight, m.layer1[0].conv1.weight)
    # 3-channel weights: the first filters are summed over RGB
    rgb = torchvision.models.resnet18(weights=None); torch.save({'model': rgb.state_dict()}, tmp_path / 'rgb.pth')
    body = resnet_body('resnet18', n_in=1, weights_path=tmp_path / 'rgb.pth')
    assert torch.allclose(body[0].weight, rgb.conv1.weight.sum(1, keepdim=True))
    with pytest.raises(FileNotFoundError, match='weights_path'): resnet_body(weights_path=tmp_path / 'none.pth')
    torch.save({'conv1.weight': rgb.conv1.weight}, tmp_path / 'part.pth')
    with pytest.raises(ValueError, match='lacks'): resnet_body('resnet18', weights_path=tmp_path / 'part.pth')

def test_present_dice_pools_only_annotated_samples():
    class L: pass
    l = L(); l.pred = torch.zeros(2, 3, 2, 2); l.pred[0, 1] = 1; l.pred[1, 2] = 1       # sample 0 → all class 1, sample 1 → all class 2
    y = torch.zeros(2, 3, 2, 2); y[0, 1, 0] = 1; y[0, 0, 1] = 1; y[1, 2] = 1
    m = torch.tensor([[1., 1., 0.], [1., 0., 1.]])
    l.yb = (y, m); d1, d2 = PresentDice(3, 1), PresentDice(3, 2)
    for d in (d1, d2): d.reset(); d.accumulate(l)
    assert d1.value == pytest.approx(2 * 2 / (4 + 2))        # sample 0 only: pred 4 px, target 2 px, overlap 2
    assert d2.value == pytest.approx(1.0)                     # sample 1 only
    # unannotated: a class whose samples are all m = 0 is NaN, not 0 or 1
    d0 = PresentDice(3, 2); d0.reset(); l.yb = (y, torch.tensor([[1., 1., 0.], [1., 1., 0.]])); d0.accumulate(l)
    assert np.isnan(d0.value)
    with pytest.raises(ValueError, match='cls'): PresentDice(3, 3)

def test_partial_learner_stops_early_and_restores_best(tmp_path):
    sh = synth_shapes(20, 32, seed=1)
    dls = coheg_dls(CoHeG(sh.images[:12], sh.masks[:12], sh.codes, rate=0.3, seed=0), sh.images[12:], sh.masks[12:], bs=4, device='cpu')
    learn = partial_learner(dls, 4, 'masked_dice', codes=sh.codes, patience=1, ckpt_dir=tmp_path, depth=2, base=4)
    with learn.no_bar(): learn.fit(30, 1e-1)                  # a too-high lr stalls quickly: early stopping must end the fit
    vals = [v[-1] for v in learn.recorder.values]
    assert len(vals) < 30
    best = np.nanmax(vals)
    assert learn.validate()[-1] == pytest.approx(best, abs=1e-6)   # the best epoch's weights are back
    assert (tmp_path / 'best.pth').exists()

def test_coheg_recipe_tiny_resumes(tmp_path):
    from segkit.experiments import run_recipe, Run
    import segkit.recipes.coheg  # noqa: F401  (registers the recipes)
    kw = dict(source='synthetic_shapes', classes=['disk', 'square'], seeds=2, rates=[0.0, 0.5], losses=['llambda', 'missing_bg'],
              epochs=1, crop=None, depth=2, base=4, verbose=False)
    run = run_recipe('coheg-ablation', out=tmp_path, **kw)
    rep = (run.path / 'report.md').read_text()
    assert '| rate | disk | square | mean | ρ realised | ψ_PFR (mean) |' in rep and 'llambda: Dice (Table A.3 layout)' in rep
    assert (run.path / 'figures' / 'results.png').exists()
    res = __import__('pandas').read_csv(run.path / 'results.csv')
    assert len(res) == 2 * 2 * 2 and set(res.loss) == {'llambda', 'missing_bg'}
    # resume after losing the last cell: only that cell is recomputed
    steps = sorted((run.path / 'steps').glob('*.json'))
    keep = {p: p.stat().st_mtime_ns for p in steps[:-1]}
    steps[-1].unlink(); (run.path / 'status.json').write_text(json.dumps({'state': 'incomplete'}))
    run_recipe('coheg-ablation', resume=run.path, verbose=False)
    assert all(p.stat().st_mtime_ns == t for p, t in keep.items()) and steps[-1].exists()
