"""GPU path (skipped without CUDA): data and model on the GPU, mixed precision, prediction, and the demo recipe."""
import numpy as np
import pytest
import torch
from segkit.core import synth_shapes
from segkit.learner import seg_dls, seg_learner, predict_masks
from fastai.callback.fp16 import MixedPrecision

pytestmark = pytest.mark.cuda

def test_amp_training_on_gpu():
    s = synth_shapes(16, 64, seed=0)
    dls = seg_dls((s.images[:12], s.masks[:12]), (s.images[12:], s.masks[12:]), bs=4)   # device chosen now: CUDA
    assert dls.device.type == 'cuda'
    learn = seg_learner(dls, 4, depth=3, base=16)
    assert any(isinstance(cb, MixedPrecision) for cb in learn.cbs)
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(3, 3e-3)
    assert np.isfinite(learn.recorder.values[-1]).all()
    pred = predict_masks(learn.model, s.images[12:])
    assert pred[0].shape == (64, 64)

def test_demo_recipe_on_gpu(tmp_path):
    from segkit.experiments import run_recipe
    run = run_recipe('demo', out=tmp_path, epochs=2, n=24, size=64, verbose=False)
    assert run.config['env']['device'].startswith('cuda') and run.status['state'] == 'complete'
