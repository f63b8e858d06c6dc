"""`segkit predict` / `predict_files` (issue 15 item 7): model loading by kind, tiled inference, outputs, CSV, one-line errors."""
import json, warnings
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from skimage.measure import label as sk_label
from segkit.core import synth_blobs, INSTANCE
from segkit.models.unet import UNet
from segkit.models.weights import WeightsMismatch
from segkit.registry import UnknownName
from segkit.data.sources import _write_tif
from segkit.learner import predict_masks
from segkit.predict import (PREDICTORS, Predictor, unet_arch, save_model_spec, find_checkpoint, load_predictor, model_input,
                            predict_image, list_images, predict_files)
from segkit.cli import main

def _ckpt(folder, spec=True, **arch):
    "A tiny U-Net checkpoint in the `EpochCheckpoint` layout, with (or without) its model.json."
    arch = dict(dict(n_in=1, n_out=2, depth=1, base=4), **arch)
    with torch.random.fork_rng(): torch.manual_seed(0); m = UNet(**arch)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({'model': m.state_dict(), 'opt': {}, 'epoch': 2}, folder / 'last.pth')
    if spec: save_model_spec(folder, 'unet', arch, ('background', 'nucleus'), task=INSTANCE)
    return folder / 'last.pth', m

class Threshold(nn.Module):
    "An exact 'network' for blob images: class-1 logit 20·(x − 0.5), so argmax is the foreground x > 0.5."
    def __init__(self):
        super().__init__(); self.conv = nn.Conv2d(1, 2, 1)
        with torch.no_grad(): self.conv.weight[:] = torch.tensor([0., 20.]).view(2, 1, 1, 1); self.conv.bias[:] = torch.tensor([0., -10.])
    def forward(self, x): return self.conv(x)

def test_every_predictor_kind_passes_its_smoke():
    assert 'unet' in PREDICTORS.names()
    for n in PREDICTORS.names(): assert isinstance(PREDICTORS.check(n), Predictor)

@pytest.mark.parametrize('arch', [dict(n_in=1, n_out=2, depth=1, base=4), dict(n_in=3, n_out=4, depth=3, base=6, up='upconv'),
                                  dict(n_in=2, n_out=3, depth=2, base=5, skips=False, norm=False)])
def test_unet_arch_rebuilds_the_network_from_its_tensors(arch):
    sd = UNet(**arch).state_dict()
    got = unet_arch(sd)
    assert {k: got[k] for k in arch} == arch
    UNet(**got).load_state_dict(sd)   # strict: every tensor fits

def test_bare_checkpoint_without_model_json(tmp_path):
    ck, m = _ckpt(tmp_path, spec=False, n_out=3, depth=2)
    p = load_predictor(ck, device='cpu')
    assert (p.kind, p.n_in, p.codes, p.task) == ('unet', 1, ('0', '1', '2'), 'semantic')
    x = np.random.default_rng(0).random((1, 24, 40)).astype(np.float32)
    with torch.no_grad(): ref = m.eval()(torch.from_numpy(x)[None]).softmax(1)[0].numpy()
    np.testing.assert_allclose(p.maps(x, tile=64), ref, atol=1e-5)   # same weights, one tile = the whole image

def test_one_tile_equals_whole_image_and_tiles_cover_everything(tmp_path):
    ck, m = _ckpt(tmp_path)
    p = load_predictor(ck, device='cpu')
    img = synth_blobs(1, 48, seed=1).images[0]
    whole = predict_masks(m, [model_input(img, 1)])[0]
    np.testing.assert_array_equal(predict_image(p, img, tile=64, postprocess='none')['mask'], whole)
    tiled = predict_image(p, img, tile=20, overlap=6)
    assert tiled['probs'].shape == (2, 48, 48) and np.allclose(tiled['probs'].sum(0), 1, atol=1e-5)

def test_instances_and_csv_match_the_ground_truth(tmp_path):
    s = synth_blobs(3, 64, noise=0.0, seed=3)
    for k, im in enumerate(s.images): _write_tif(tmp_path / 'ims' / f'b{k}.tif', im)
    pred = Predictor('threshold', Threshold().eval(), 1, ('background', 'blob'), INSTANCE, normalize='none')
    df = predict_files(pred, tmp_path / 'ims', tmp_path / 'out', tile=40, overlap=8, postprocess='components', progress=False)
    csv = pd.read_csv(tmp_path / 'out' / 'predictions.csv').set_index('name')
    for k, im in enumerate(s.images):
        truth = sk_label(im > 0.5)
        got = __import__('tifffile').imread(tmp_path / 'out' / 'instances' / f'b{k}.tif')
        assert got.shape == im.shape and got.max() == truth.max()
        area = np.bincount(truth.ravel())[1:]
        assert csv.loc[f'b{k}', 'objects'] == len(area) == df.loc[f'b{k}', 'objects']
        assert csv.loc[f'b{k}', 'area_median'] == pytest.approx(np.median(area))
        assert csv.loc[f'b{k}', 'frac_blob'] == pytest.approx((im > 0.5).mean())
    meta = json.loads((tmp_path / 'out' / 'predict.json').read_text())
    assert meta['postprocess'] == 'components' and meta['n_images'] == 3

def test_png_output_probs_and_nested_names(tmp_path):
    ck, _ = _ckpt(tmp_path / 'm')
    for sub in ('a', 'b'):
        (tmp_path / 'ims' / sub).mkdir(parents=True)
        np.save(tmp_path / 'ims' / sub / 'x.npy', np.random.default_rng(0).random((30, 33)).astype(np.float32))
    df = predict_files(ck, tmp_path / 'ims', tmp_path / 'out', tile=16, overlap=4, fmt='png', probs=True, device='cpu', progress=False)
    assert list(df.index) == ['a/x', 'b/x']
    for sub in ('a', 'b'):
        assert (tmp_path / 'out' / 'masks' / sub / 'x.png').exists() and (tmp_path / 'out' / 'instances' / sub / 'x.png').exists()
        assert __import__('tifffile').imread(tmp_path / 'out' / 'probs' / sub / 'x.tif').shape == (2, 30, 33)

def test_run_folder_of_the_demo_recipe(tmp_path):
    from segkit.experiments import run_recipe
    run = run_recipe('demo', source='synthetic_blobs', out=tmp_path, epochs=1, n=12, size=32, crop=None, depth=1, base=4, bs=4,
                     steps=[], device='cpu', verbose=False)
    assert (run.path / 'checkpoints' / 'model.json').exists()
    assert find_checkpoint(run.path) == run.path / 'checkpoints' / 'last.pth'
    ims = synth_blobs(2, 40, seed=9).images
    for k, im in enumerate(ims): np.save(tmp_path / f'new{k}.npy', im)
    df = predict_files(run.path, [tmp_path / 'new0.npy', tmp_path / 'new1.npy'], tmp_path / 'pred', tile=32, overlap=8, device='cpu', progress=False)
    assert list(df.index) == ['new0', 'new1'] and 'objects' in df and 'frac_object' in df   # instance source: instances by default
    st = json.loads((run.path / 'status.json').read_text()); st['state'] = 'incomplete'
    (run.path / 'status.json').write_text(json.dumps(st))
    with pytest.warns(UserWarning, match="in state 'incomplete'"): load_predictor(run.path, device='cpu')

def test_bad_inputs_give_one_clear_error(tmp_path):
    ck, _ = _ckpt(tmp_path / 'm')
    np.save(tmp_path / 'rgb.npy', np.zeros((20, 20, 3), np.float32))
    np.save(tmp_path / 'stack.npy', np.zeros((2, 3, 20, 20), np.float32))
    with pytest.raises(FileNotFoundError, match="no such file or folder"): list_images([tmp_path / 'nope.tif'])
    with pytest.raises(ValueError, match="is not an image file"): list_images([ck])
    with pytest.raises(ValueError, match="the model takes 1 channel"): predict_files(ck, tmp_path / 'rgb.npy', tmp_path / 'o', progress=False)
    with pytest.raises(ValueError, match="expected a 2D image"): predict_files(ck, tmp_path / 'stack.npy', tmp_path / 'o', progress=False)
    with pytest.raises(ValueError, match="overlap < tile"): predict_files(ck, tmp_path / 'rgb.npy', tmp_path / 'o', tile=32, overlap=32)
    with pytest.raises(UnknownName, match="unknown instance post-processor 'nope'"): predict_files(ck, tmp_path / 'rgb.npy', tmp_path / 'o', postprocess='nope')
    (tmp_path / 'twice').mkdir(); np.save(tmp_path / 'twice' / 'rgb.npy', np.zeros((4, 4)))
    with pytest.raises(ValueError, match="would both be written as 'rgb'"): list_images([tmp_path / 'rgb.npy', tmp_path / 'twice'])
    bad = tmp_path / 'bad' / 'last.pth'; bad.parent.mkdir(); bad.write_bytes(ck.read_bytes()[:200])
    with pytest.raises(ValueError, match="is not a readable torch checkpoint"): load_predictor(bad)
    spec = json.loads((tmp_path / 'm' / 'model.json').read_text())
    (tmp_path / 'm' / 'model.json').write_text(json.dumps({**spec, 'arch': {**spec['arch'], 'base': 8}}))
    with pytest.raises(WeightsMismatch, match="weights do not fit UNet"): load_predictor(ck)
    (tmp_path / 'm' / 'model.json').write_text(json.dumps({**spec, 'kind': 'maskrcnn'}))
    with pytest.raises(UnknownName, match="unknown predictor kind 'maskrcnn'; known: mask_rcnn, umask_rcnn, unet"): load_predictor(ck)
    with pytest.raises(FileNotFoundError, match="holds no checkpoint yet"): find_checkpoint(tmp_path / 'twice')

def test_cli_exit_codes_and_one_line_errors(tmp_path, capsys):
    ck, _ = _ckpt(tmp_path / 'm')
    (tmp_path / 'ims').mkdir(); np.save(tmp_path / 'ims' / 'a.npy', np.zeros((20, 24), np.float32))
    assert main(['predict', str(ck), str(tmp_path / 'ims'), '--out', str(tmp_path / 'o'), '--tile', '16', '--overlap', '4',
                 '--instances', 'distance_watershed', '--post', 'min_distance=2']) == 0
    assert '1 images → ' in capsys.readouterr().out and (tmp_path / 'o' / 'instances' / 'a.tif').exists()
    for args, msg in [([str(tmp_path / 'x.pth'), str(tmp_path / 'ims')], 'no such run folder or checkpoint'),
                      ([str(ck), str(tmp_path / 'none')], 'no such file or folder'),
                      ([str(ck), str(tmp_path / 'ims'), '--fmt', 'jpg'], "`fmt`"),
                      ([str(ck), str(tmp_path / 'ims'), '--post', 'min_distance'], '--post: expected key=value')]:
        assert main(['predict', *args, '--out', str(tmp_path / 'o2')]) == 2
        err = capsys.readouterr().err
        assert msg in err and err.count('\n') == 1, err

def test_names_with_dots_keep_them(tmp_path):
    "'scan.lif - Series001.tif' and 'scan.tif' are two outputs (a `with_suffix` bug wrote both as 'scan.tif')."
    ck, _ = _ckpt(tmp_path / 'm')
    (tmp_path / 'ims').mkdir()
    for n in ('scan.lif - Series001.tif', 'scan.tif'): _write_tif(tmp_path / 'ims' / n, np.random.default_rng(0).random((20, 24)).astype(np.float32))
    df = predict_files(ck, tmp_path / 'ims', tmp_path / 'o', tile=16, overlap=4, device='cpu', progress=False)
    assert sorted(df.index) == ['scan', 'scan.lif - Series001']
    assert sorted(p.name for p in (tmp_path / 'o' / 'masks').iterdir()) == ['scan.lif - Series001.tif', 'scan.tif']
