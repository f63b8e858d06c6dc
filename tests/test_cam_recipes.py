"End-to-end checks of the `cam-mounds` / `cam-nuclei` recipes and their helpers (tiny sizes, CPU)."
import json
import numpy as np
import pandas as pd
import pytest
import torch

torch.set_num_threads(1)

from segkit.experiments import run_recipe, Run
import segkit.recipes.cams as C

TINY_MOUNDS = dict(n=40, size=32, archs=['resnet18', 'vgg11_slim'], seeds=2, epochs=1, bs=8,
                   methods=['gradcam', 'smooth_guided_gradcam'], n_overlay=2, device='cpu')
TINY_NUCLEI = dict(patch=32, per_image=2, archs=['resnet18'], seeds=1, epochs=1, bs=8,
                   methods=['gradcam', 'smooth_guided_gradcam'], n_test=4, n_overlay=2, device='cpu')


@pytest.fixture(scope='module')
def mounds_run(tmp_path_factory):
    return run_recipe('cam-mounds', out=tmp_path_factory.mktemp('runs'), verbose=False, **TINY_MOUNDS)


def test_mounds_run_outputs(mounds_run):
    p = mounds_run.path
    assert mounds_run.status['state'] == 'complete'
    steps = sorted(f.name for f in (p / 'steps').glob('*.json'))
    assert steps == ['cams-gradcam.json', 'cams-smooth_guided_gradcam.json', 'train-resnet18-seed0.json', 'train-resnet18-seed1.json',
                     'train-vgg11_slim-seed0.json', 'train-vgg11_slim-seed1.json']
    for a in ('resnet18', 'vgg11_slim'):
        for s in (0, 1): assert (p / 'checkpoints' / f'{a}-seed{s}.pth').exists()
        assert (p / 'figures' / f'overlay-{a}.png').exists()
    md = (p / 'report.md').read_text()
    for head in ('Table 5.1 layout', 'Dice of CRF masks (Table 5.2 layout', 'Dice of OTSU masks', 'Findings (computed from this run)',
                 '| method | resnet18 | vgg11_slim | mean | variance |', '| network | precision | recall'):
        assert head in md, head
    res = json.loads((p / 'steps' / 'train-resnet18-seed0.json').read_text())
    assert {'precision', 'recall', 'tp', 'fp', 'fn', 'tn', 'verdict'} <= set(res)
    m = pd.read_csv(p / 'metrics.csv')
    assert {'split', 'metric', 'value'} == set(m.columns) and len(m)


def test_table_matches_per_image_dice(mounds_run):
    "The report's Table 5.2 numbers are means of the per-image Dice, and mean/variance are across networks (ddof=1)."
    per = pd.read_csv(mounds_run.path / 'dice.csv')
    crf = per[per['mask'] == 'crf'].groupby(['method', 'network'])['dice'].mean().unstack()
    t = C.dice_table(per[per['mask'] == 'crf'].groupby(['method', 'network'], sort=False)['dice'].mean().reset_index())
    for m in t.index:
        v = crf.loc[m, ['resnet18', 'vgg11_slim']].to_numpy(float)
        assert t.loc[m, 'mean'] == pytest.approx(v.mean())
        assert t.loc[m, 'variance'] == pytest.approx(((v - v.mean()) ** 2).sum() / (len(v) - 1))


def test_resume_does_not_recompute(mounds_run, monkeypatch):
    p = mounds_run.path
    files = list((p / 'steps').glob('*.json')) + list((p / 'checkpoints').glob('*.pth'))
    before = {f: f.stat().st_mtime_ns for f in files}
    (p / 'report.md').unlink()
    mounds_run._set_status('incomplete')
    def boom(*a, **k): raise AssertionError('recomputed a finished step')
    monkeypatch.setattr(C, 'train_classifier', boom); monkeypatch.setattr(C, 'method_scores', boom)
    run = run_recipe('cam-mounds', resume=p, verbose=False)
    assert run.status['state'] == 'complete' and (p / 'report.md').exists()
    assert {f: f.stat().st_mtime_ns for f in files} == before


def test_dice_table_hand_computed():
    "Table 5.2 of the thesis: GradCAM 0.4083, 0.5149, 0.3537 → mean 0.4256, sample variance 0.0067."
    df = pd.DataFrame(dict(method=['GradCAM'] * 3 + ['LayerCAM'] * 3, network=['VGG16', 'ResNet34', 'DenseNet121'] * 2,
                           dice=[0.4083, 0.5149, 0.3537, 0.6043, 0.4041, 0.213]))
    t = C.dice_table(df)
    assert list(t.columns) == ['VGG16', 'ResNet34', 'DenseNet121', 'mean', 'variance']
    g = [0.4083, 0.5149, 0.3537]; mu = sum(g) / 3
    assert t.loc['GradCAM', 'mean'] == pytest.approx(mu)
    assert t.loc['GradCAM', 'variance'] == pytest.approx(sum((x - mu) ** 2 for x in g) / 2)
    assert round(t.loc['GradCAM', 'variance'], 4) == 0.0067 and round(t.loc['LayerCAM', 'variance'], 4) == 0.0383
    one = C.dice_table(df[df.network == 'VGG16'])
    assert np.isnan(one.loc['GradCAM', 'variance'])


def test_overlay_colours():
    im = np.linspace(0, 1, 16, dtype=np.float32).reshape(4, 4)
    t = np.zeros((4, 4), bool); p = np.zeros((4, 4), bool)
    t[0, :2] = True; p[0, 1:3] = True           # (0,0) FN, (0,1) TP, (0,2) FP
    ov = C.tpfpfn_overlay(im, p, t, alpha=1.0)
    assert ov[0, 1].tolist() == [0, 1, 0] and ov[0, 2].tolist() == [1, 0, 0] and ov[0, 0].tolist() == [0, 0, 1]
    assert ov[3, 3].tolist() == [1, 1, 1] and ov[0, 3].tolist() == pytest.approx([3 / 15] * 3)   # untouched grey
    half = C.tpfpfn_overlay(im, p, t, alpha=0.5)
    assert half[0, 1].tolist() == pytest.approx([0.5 * 1 / 15, 0.5 * 1 / 15 + 0.5, 0.5 * 1 / 15])
    with pytest.raises(ValueError, match='equal shapes'): C.tpfpfn_overlay(im, p[:2], t)


def test_nuclei_recipe(tmp_path):
    run = run_recipe('cam-nuclei', out=tmp_path, verbose=False, **TINY_NUCLEI)
    p = run.path
    assert sorted(f.name for f in (p / 'steps').glob('*.json')) == ['cams-gradcam.json', 'cams-smooth_guided_gradcam.json', 'train-resnet18-seed0.json']
    md = (p / 'report.md').read_text()
    assert 'nuclei' in md and '| method | resnet18 | mean | variance |' in md
    per = pd.read_csv(p / 'dice.csv')
    assert len(per) == 2 * 2 * 4 and per['dice'].between(0, 1).all()


def test_nuclei_patches_labels():
    ds = C.nuclei_patches(patch=32, per_image=1, min_px=40, seed=3)
    for j in range(len(ds)):
        n = int(ds[j]['mask'].sum())
        assert (n >= 40) if ds[j]['label'] else n == 0
    assert (ds.meta.groupby('point')['label'].mean() == 0.5).all()
    with pytest.raises(ValueError, match='smaller than `patch`'): C.nuclei_patches(patch=4096, per_image=1)


def test_demo_cam_step(tmp_path):
    run = Run.create('demo', dict(seed=0, preset='quick'), tmp_path)
    cfg = dict(seed=0, source=None, path=None, device='cpu')
    out = C.demo_cam_step(run, cfg, patch=32, epochs=1, n_test=3, per_image=2)
    assert set(out['dice']) == {'gradcam', 'smooth_guided_gradcam'}
    assert out['markdown'][0].startswith('## ') and any('figures/cam.png' in l for l in out['markdown'])
    assert {r['metric'] for r in out['metrics']} >= {'cam classifier precision', 'cam dice gradcam (CRF)'}
    steps = sorted(f.name for f in (run.path / 'steps').glob('*.json'))
    assert steps == ['cam-gradcam.json', 'cam-smooth_guided_gradcam.json', 'cam-train.json']
    before = {f: f.stat().st_mtime_ns for f in (run.path / 'steps').glob('*.json')}
    again = C.demo_cam_step(run, cfg, patch=32, epochs=1, n_test=3, per_image=2)
    assert again['dice'] == out['dice'] and {f: f.stat().st_mtime_ns for f in before} == before


def test_scene_params_and_layers():
    with pytest.raises(ValueError, match='unknown SceneParams'): C.scene_params({'nope': 1})
    from segkit.models.classifiers import site_classifier
    assert C.method_kwargs('gradcam', site_classifier('vgg11', hidden=8, verbose=False)) == {'layer': 'features.18'}
    assert C.method_kwargs('eigencam', site_classifier('resnet18', verbose=False)) == {'layer': 'layer4'}
