"""Losses: L_DSC ignores missing classes, L_λ equals its formula, CAL's defining property, baselines and full-label losses."""
import pytest
import torch
import torch.nn.functional as F
from segkit.losses import (soft_dice, masked_dice_loss, cal_loss, LLambda, masked_ce_loss, missing_as_background,
                           marginal_loss, DiceLoss, BCEDiceLoss, FocalLoss)

def _batch(seed=0, B=2, C=3, H=12, W=12):
    g = torch.Generator().manual_seed(seed)
    lab = torch.randint(0, C, (B, H, W), generator=g)
    y = F.one_hot(lab, C).permute(0, 3, 1, 2).float()
    m = torch.ones(B, C); m[0, 2] = 0; y[0, 2] = 0          # sample 0: class 2 not annotated
    return torch.randn(B, C, H, W, generator=g, requires_grad=True), y, m

def test_masked_dice_ignores_missing_classes():
    logits, y, m = _batch()
    masked_dice_loss(logits, y, m).backward()
    g1 = logits.grad.clone(); logits.grad = None
    # the same loss written out: sample 0 averages classes 0 and 1 only, sample 1 all three
    d = soft_dice(logits.softmax(1), y)
    ((((1 - d[0, :2]).mean()) + (1 - d[1]).mean()) / 2).backward()
    assert torch.allclose(g1, logits.grad, atol=1e-7)
    # changing the prediction's missing channel only through the softmax coupling: its own Dice term has no weight
    d2 = soft_dice(logits.softmax(1), y)
    assert masked_dice_loss(logits, y, m).item() == pytest.approx((((1 - d2[0, :2]).mean()) + (1 - d2[1]).mean()).item() / 2)

def test_l_lambda_formula_by_hand():
    # one sample, 1×2 image, classes bg, A, B; B missing. Probabilities set directly through log-probabilities.
    p = torch.tensor([[[[0.2, 0.7]], [[0.5, 0.2]], [[0.3, 0.1]]]])          # (1, 3, 1, 2), columns: pixel 0, pixel 1
    logits = p.log()
    y = torch.tensor([[[[0., 1.]], [[1., 0.]], [[0., 0.]]]]); m = torch.tensor([[1., 1., 0.]])
    eps = 1.0
    dice = lambda i: (2 * (y[0, i] * p[0, i]).sum() + eps) / (y[0, i].sum() + p[0, i].sum() + eps)
    l_dsc = ((1 - dice(0)) + (1 - dice(1))) / 2
    l_cal = (0.3 * 1) / 2                      # B's probability at A's labelled pixel (pixel 0); background excluded; /pixels
    assert masked_dice_loss(logits, y, m).item() == pytest.approx(l_dsc.item(), rel=1e-6)
    assert cal_loss(logits, y, m).item() == pytest.approx(l_cal, rel=1e-6)
    assert cal_loss(logits, y, m, normalize=None).item() == pytest.approx(0.3, rel=1e-6)
    assert LLambda(0.4)(logits, y, m).item() == pytest.approx(0.6 * l_dsc.item() + 0.4 * l_cal, rel=1e-6)
    assert LLambda(0.0)(logits, y, m).item() == pytest.approx(l_dsc.item(), rel=1e-6)

def test_cal_zero_without_missing_predictions_in_labelled_areas():
    logits, y, m = _batch(1)
    assert cal_loss(logits, y, torch.ones_like(m)).item() == 0          # nothing missing: nothing to penalise
    big = torch.where(y.bool(), torch.full_like(y, 30.), torch.full_like(y, -30.))
    assert cal_loss(big, y, m).item() < 1e-10                           # predictions stay inside labelled classes

def test_baselines():
    logits, y, m = _batch(2)
    full = missing_as_background(y, m)
    assert (full[0][y[0, 0].bool() | (y[0].sum(0) == 0)] == 0).all()    # unannotated pixels → background
    assert torch.isfinite(masked_ce_loss(logits, y, m)) and torch.isfinite(marginal_loss(logits, y, m))
    # with every class annotated, the marginal loss is plain cross-entropy
    allm = torch.ones_like(m); y2 = F.one_hot(full, 3).permute(0, 3, 1, 2).float()
    assert marginal_loss(logits, y2, allm).item() == pytest.approx(F.cross_entropy(logits, full).item(), rel=1e-5)
    assert masked_ce_loss(logits, y2, allm).item() == pytest.approx(F.cross_entropy(logits, full).item(), rel=1e-5)

def test_full_label_losses_train_a_pixel_classifier():
    torch.manual_seed(0)
    x = torch.randn(4, 1, 8, 8); t = (x[:, 0] > 0).long()
    for loss in (DiceLoss(), FocalLoss(), lambda o, t: BCEDiceLoss()(o, F.one_hot(t, 2).permute(0, 3, 1, 2))):
        net = torch.nn.Conv2d(1, 2, 1); opt = torch.optim.Adam(net.parameters(), 0.1)
        for _ in range(60): opt.zero_grad(); loss(net(x), t).backward(); opt.step()
        assert (net(x).argmax(1) == t).float().mean() > 0.95

def test_bad_inputs():
    logits, y, m = _batch()
    with pytest.raises(ValueError, match='alpha'): LLambda(1.0)
    with pytest.raises(ValueError, match='a class marked missing'): masked_dice_loss(logits, torch.ones_like(y), m)
    with pytest.raises(ValueError, match='class-presence vector'): cal_loss(logits, y, m[:, :2])
    with pytest.raises(ValueError, match='per-class masks'): masked_dice_loss(logits, y[:, :2], m)
    with pytest.raises(ValueError, match='normalize'): cal_loss(logits, y, m, normalize='image')

# ---- exclusion loss, registry, α schedule --------------------------------------------------------------------------
from segkit.losses import exclusion_loss, MissingAsBackground, MarginalExclusion, AlphaSchedule, get_partial_loss, list_partial_losses

def test_exclusion_loss_by_hand_and_properties():
    # 1 sample, classes bg, A, B; A annotated on pixels 0-1, B missing; 4 pixels in a row
    p = torch.tensor([[[[0.6, 0.1, 0.8, 0.9]], [[0.2, 0.3, 0.1, 0.05]], [[0.2, 0.6, 0.1, 0.05]]]])
    y = torch.zeros(1, 3, 1, 4); y[0, 1, 0, :2] = 1; y[0, 0] = 1 - y[0, 1]
    m = torch.tensor([[1., 1., 0.]])
    e = torch.tensor([1., 1., 0., 0.]); pB = p[0, 2, 0]
    dice = 2 * (e * pB).sum() / (e.sum() + pB.sum() + 1e-6)
    assert exclusion_loss(p.log(), y, m).item() == pytest.approx(dice.item(), rel=1e-5)
    ce = -(e * torch.log(1 - pB)).mean()
    assert exclusion_loss(p.log(), y, m, kind='ce').item() == pytest.approx(ce.item(), rel=1e-5)
    assert exclusion_loss(p.log(), y, m, kind='both').item() == pytest.approx((dice + ce).item(), rel=1e-5)
    # nothing missing: the default ('missing') term is 0; 'all' still penalises A's probability nowhere (no other class annotated)
    assert exclusion_loss(p.log(), y, torch.ones(1, 3)).item() == 0
    # B predicted only outside A's pixels: no exclusion penalty
    q = p.clone(); q[0, 2, 0, :2] = 1e-6; q = q / q.sum(1, keepdim=True)
    assert exclusion_loss(q.log(), y, m).item() < 1e-4
    with pytest.raises(ValueError, match='kind'): exclusion_loss(p.log(), y, m, kind='x')

def test_exclusion_gradient_only_through_missing_class_in_annotated_area():
    logits, y, m = _batch()
    logits2 = logits.detach().clone().requires_grad_(True)
    exclusion_loss(logits2, y, m).backward()
    assert logits2.grad[1].abs().sum() == 0                     # sample 1 misses nothing
    assert logits2.grad[0].abs().sum() > 0

def test_registry_and_baselines_are_finite_and_differentiable():
    logits, y, m = _batch()
    assert {'llambda', 'masked_dice', 'missing_bg', 'ignore', 'marginal', 'marginal_exclusion'} <= set(list_partial_losses())
    for name in list_partial_losses():
        lg = logits.detach().clone().requires_grad_(True)
        l = get_partial_loss(name)(lg, y, m); l.backward()
        assert torch.isfinite(l) and torch.isfinite(lg.grad).all(), name
    with pytest.raises(KeyError, match='known: ignore'): get_partial_loss('nope')
    # MissingAsBackground('ce') is cross-entropy on the missing-as-background label map
    t = missing_as_background(y, m)
    assert MissingAsBackground('ce')(logits, y, m).item() == pytest.approx(F.cross_entropy(logits, t).item())
    assert MarginalExclusion(beta=0)(logits, y, m).item() == pytest.approx(marginal_loss(logits, y, m).item())

def test_alpha_schedule_sets_alpha_and_rejects_bad_values():
    from fastai.learner import Learner
    from fastai.data.core import DataLoaders
    from fastai.data.load import DataLoader
    import fastai.callback.progress  # noqa: F401
    _, y, m = _batch(B=4)
    x = torch.randn(4, 1, 12, 12)
    ds = list(zip(x, y, m))
    dls = DataLoaders(DataLoader(ds, bs=2), DataLoader(ds, bs=2)); dls.n_inp = 1
    seen = []
    class Net(torch.nn.Module):
        def __init__(self): super().__init__(); self.c = torch.nn.Conv2d(1, 3, 1)
        def forward(self, x): return self.c(x)
    loss = LLambda(0.4)
    class Spy(AlphaSchedule):
        def after_loss(self):
            if self.training: seen.append(self.learn.loss_func.alpha)
    learn = Learner(dls, Net(), loss_func=loss, cbs=Spy(lambda t: 0.8 * t))
    with learn.no_bar(), learn.no_logging(): learn.fit(1)
    assert seen == pytest.approx([0.0, 0.4])                   # pct_train 0 and 0.5 over the 2 training batches
    learn = Learner(dls, Net(), loss_func=LLambda(0.4), cbs=AlphaSchedule(lambda t: 1.0))
    with pytest.raises(ValueError, match='0 ≤ α < 1'), learn.no_bar(), learn.no_logging(): learn.fit(1)
