"""`segkit predict` for Mask R-CNN runs: instances in score order, `objects.csv` with a certainty column for U-Mask R-CNN;
the U-Net predictor's forward pass is `segkit.infer.predict_maps` (same output as the old tiled loop)."""
import json
import numpy as np, pandas as pd, pytest, torch
from segkit.core import torch_seeded, INSTANCE
from segkit.data.block import predict_tiled
from segkit.predict import (save_model_spec, load_predictor, predict_files, predict_image, model_input, _rcnn_example,
                            _unet_example, unet_predictor, RCNNPredictor)

def _run(tmp, kind, post=None):
    spec, sd = _rcnn_example(kind)
    sd['roi_heads.mask_predictor.mask_fcn_logits.bias'] += 5.                     # untrained: make the masks non-empty
    (tmp / 'checkpoints').mkdir(parents=True)
    torch.save({'model': sd, 'epoch': 0}, tmp / 'checkpoints' / 'last.pth')
    save_model_spec(tmp / 'checkpoints', kind, {**spec['arch'], 'box_score_thresh': 0.0},   # untrained: keep every detection
                    ('background', 'nucleus'), task=INSTANCE, post=post or {})
    return tmp

@pytest.mark.parametrize('kind', ['mask_rcnn', 'umask_rcnn'])
def test_predict_files_on_a_detector_run(tmp_path, kind):
    post = dict(theta_certain=0., theta_uncertain=0.) if kind == 'umask_rcnn' else dict(score_thresh=0.)
    run = _run(tmp_path / 'run', kind, post)
    imgs = tmp_path / 'imgs'; imgs.mkdir()
    rng = np.random.default_rng(0)
    for k in range(2): np.save(imgs / f'{k}.npy', rng.random((48 + 8 * k, 56), dtype=np.float32))
    with torch_seeded(0): df = predict_files(run, imgs, tmp_path / 'out', progress=False, device='cpu')
    meta = json.loads((tmp_path / 'out' / 'predict.json').read_text())
    assert meta['kind'] == kind and meta['postprocess'].startswith('detector')
    objs = pd.read_csv(tmp_path / 'out' / 'objects.csv', dtype={'name': str})
    assert len(objs) > 0
    assert ('certainty' in objs) == (kind == 'umask_rcnn') and ('certainty_mean' in df) == (kind == 'umask_rcnn')
    import tifffile
    for name, g in objs.groupby('name'):
        lab = tifffile.imread(tmp_path / 'out' / 'instances' / f'{name}.tif')
        assert g.id.tolist() == list(range(1, lab.max() + 1))                         # every painted object has one row
        assert g.area.tolist() == np.bincount(lab.ravel())[1:].tolist()
        assert (np.diff(g.score.to_numpy()) <= 0).all()                               # ids in descending score
        assert df.loc[name, 'objects'] == len(g)
    if kind == 'umask_rcnn': assert objs.certainty.between(0, 1).all()

def test_detector_uses_native_resolution_and_restores_the_model(tmp_path):
    pred = load_predictor(_run(tmp_path / 'r', 'mask_rcnn', dict(score_thresh=0.)), device='cpu')
    x = np.random.default_rng(1).random((1, 100, 40), dtype=np.float32)
    out = predict_image(pred, x[0], postprocess='none')
    assert out['instances'].shape == (100, 40) and out['probs'].shape == (2, 100, 40)
    assert ((out['probs'][1] > 0.5) == (out['instances'] > 0)).all()               # the class map is the union of the instances
    assert pred.model.transform.min_size == (64,) and pred.model.transform.max_size == 64

def test_unet_forward_is_predict_maps():
    spec, sd = _unet_example()
    pred = unet_predictor(spec, sd, 'cpu')
    img = np.random.default_rng(2).random((90, 130), dtype=np.float32) * 100
    x = model_input(img, 1)
    np.testing.assert_allclose(pred.maps(x, tile=48, overlap=8), predict_tiled(pred.model, x, tile=48, overlap=8), atol=1e-6)

def test_bad_detector_specs(tmp_path):
    from segkit.predict import rcnn_predictor
    spec, sd = _rcnn_example('mask_rcnn')
    with pytest.raises(ValueError, match='needs `arch`'): rcnn_predictor(dict(kind='mask_rcnn'), sd)
    with pytest.raises(ValueError, match='one object class'): rcnn_predictor({**spec, 'codes': ['a', 'b', 'c']}, sd)
