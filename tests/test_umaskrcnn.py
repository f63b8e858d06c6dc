"""`umaskrcnn` recipe parts: config validation, AUROC vs scikit-learn, category scores, table/KDE writers on a tiny fake run, claims."""
import numpy as np, pandas as pd, pytest, torch
from sklearn.metrics import roc_auc_score
from segkit.experiments import cfg_from
import segkit.recipes.umaskrcnn as U  # registers the recipe until the provider is added at merge

@pytest.mark.parametrize('opt, word', [(dict(k=1), 'k'), (dict(sigma=-0.1), 'sigma'), (dict(xi=0), 'xi'), (dict(theta_mask=1.2), 'theta_mask'),
                                       (dict(binning='odd'), 'binning'), (dict(backbone='vgg'), 'backbone'), (dict(scale=0), 'scale')])
def test_bad_config_fails_in_one_line(opt, word):
    with pytest.raises(ValueError) as e: cfg_from(U.UMaskCfg, overrides=opt, recipe='umaskrcnn')
    msg = str(e.value)
    assert word in msg and '\n' not in msg

def test_presets():
    q, f = cfg_from(U.UMaskCfg), cfg_from(U.UMaskCfg, 'full')
    assert (q.backbone, q.seeds) == ('tiny', 1)
    assert (f.backbone, f.seeds, f.lr, f.k, f.sigma, f.xi, f.theta_certain) == ('resnet50_fpn', 4, 1e-4, 6, 0.245, 0.412, 0.75)

@pytest.mark.parametrize('seed', range(5))
def test_auroc_equals_sklearn(seed):
    r = np.random.default_rng(seed)
    y = r.random(80) < 0.3 + 0.1 * seed
    c = np.round(r.random(80) + 0.3 * y, 1)                      # rounded: many ties
    assert U.certainty_auroc(c, y) == pytest.approx(roc_auc_score(y, c), abs=1e-12)

def test_auroc_edge_cases():
    assert U.certainty_auroc([0.1, 0.9], [False, True]) == 1.0
    assert U.certainty_auroc([0.9, 0.1], [False, True]) == 0.0
    assert np.isnan(U.certainty_auroc([0.1, 0.9], [False, False]))
    with pytest.raises(ValueError, match='`certain`'): U.certainty_auroc([0.1, 0.9], [True])
    with pytest.raises(ValueError, match='`conf`'): U.certainty_auroc([np.nan, 0.9], [True, False])

def test_category_scores_oracle_and_background():
    gt = np.zeros((24, 24), int); gt[1:7, 1:7] = 1; gt[12:18, 12:18] = 2
    fp = np.zeros((24, 24), bool); fp[20:23, 1:4] = True           # a prediction on background
    pred = np.stack([gt == 1, gt == 2, fp])
    s = U.category_scores(gt, [True, False], pred)
    assert s['certain']['fp'] == 1 and s['uncertain']['fp'] == 1    # counts against both categories
    assert s['certain']['tp'] == 1 and s['uncertain']['tp'] == 1 and s['combined']['tp'] == 2
    s = U.category_scores(gt, [True, False], pred[:2], pred_certain=[True, True])
    assert s['certain']['aji_plus'] == pytest.approx(0.5) and s['uncertain']['aji_plus'] == 0
    with pytest.raises(ValueError, match='`pred_certain`'): U.category_scores(gt, [True, False], pred, [True])

def _fake(umask_aji=0.8, spread=True, unet_aji=0.6):
    "Per-image rows of a tiny fake run: Mask R-CNN, U-Mask (plain/θ) and, unless `unet_aji` is None, the U-Net row (split by ground truth)."
    scale = {U.UMASK: umask_aji, U.MRCNN: 0.8, U.UNET: unet_aji}
    rows = [dict(model=m, variant=v, split=c, seed=s, image=i, aji_plus=a * scale[m] / 0.8, aji=a, panoptic_quality=a, f1=a)
            for m, v in ((U.MRCNN, 'plain-oracle'), (U.UMASK, 'plain-oracle'), (U.UMASK, 'theta'))
                        + (((U.UNET, U.UNET_VARIANT),) if unet_aji is not None else ())
            for c, a in (('certain', 0.8), ('uncertain', 0.2), ('combined', 0.79)) for s in (0, 1) for i in range(3)]
    conf = [0.9, 0.85, 0.95, 0.1, 0.3, 0.2] if spread else [0.5] * 6
    objs = pd.DataFrame(dict(seed=0, image=0, object=range(1, 7), certain=[True] * 3 + [False] * 3,
                             reason=[''] * 3 + ['blur', 'touching', 'blur'], area=50, confidence=conf, pred_certain=np.array(conf) > 0.5))
    return pd.DataFrame(rows), objs

def test_writers_on_a_tiny_fake_run(tmp_path):
    per, objs = _fake()
    res = U.write_results(tmp_path, per, objs, preset='full')
    for f in ('per_image', 'objects', 'table', 'table_7_4', 'kde', 'auroc', 'claims'): assert (tmp_path / f'{f}.csv').exists(), f
    t74 = pd.read_csv(tmp_path / 'table_7_4.csv', index_col=0)
    assert list(t74.columns) == ['uncertain', 'certain', 'combined'] and 'umask_rcnn / theta' in t74.index
    assert t74.loc['umask_rcnn / theta', 'certain'].startswith('0.800 ± 0.000')
    kde = pd.read_csv(tmp_path / 'kde.csv')
    assert list(kde.columns) == ['x', 'certain', 'uncertain', 'all'] and kde.x.iloc[[0, -1]].tolist() == [0, 1]
    assert kde.x[kde.certain.idxmax()] > 0.7 > 0.3 > kde.x[kde.uncertain.idxmax()]
    assert np.trapezoid(kde.certain, kde.x) == pytest.approx(1, abs=0.1)
    au = pd.read_csv(tmp_path / 'auroc.csv').set_index('pair')
    assert au.loc['certain vs uncertain', 'auroc'] == 1 and set(au.index) == {'certain vs uncertain', 'certain vs blur', 'certain vs touching'}
    assert list(res['claims'].verdict) == ['reproduced'] * 6
    fig = U.kde_figure(kde, objs); assert len(fig.axes[0].lines) == 4

def test_claims_not_assessed_when_a_net_did_not_learn(tmp_path):
    per, objs = _fake(umask_aji=0.0)                                   # U-Mask detects nothing
    v = U.write_results(tmp_path / 'a', per, objs, preset='full')['claims'].verdict.tolist()
    assert v[:2] == ['reproduced', 'reproduced'] and v[2:] == ['not assessed (net did not learn)'] * 4
    per, objs = _fake(spread=False)                                    # a constant certainty head
    v = U.write_results(tmp_path / 'b', per, objs, preset='full')['claims'].verdict.tolist()
    assert v[:4] == ['not assessed (net did not learn)'] * 4 and v[4:] == ['reproduced'] * 2
    per, objs = _fake()
    assert set(U.write_results(tmp_path / 'c', per, objs, preset='quick')['claims'].verdict) == {'trend not assessed (quick)'}

def test_claims_can_fail(tmp_path):
    per, objs = _fake()
    objs['confidence'] = objs.confidence[::-1].to_numpy()              # head inverted: certain objects get low confidence
    cl = U.write_results(tmp_path, per, objs, preset='full')['claims']
    assert cl.verdict.iloc[0] == 'not reproduced' and cl.value.iloc[0] == 0

def test_native_size_restores_the_transform():
    m = U.mask_rcnn(backbone='tiny', size=64, detections=10)
    with U.native_size(m, (40, 90)): assert (m.transform.min_size, m.transform.max_size) == ((40,), 90)
    assert (m.transform.min_size, m.transform.max_size) == ((64,), 64)
    assert U.thesis_pad(1920) == 33 and U.thesis_pad(869) == 15

def test_rcnn_dataset_thesis_padding():
    from segkit.learner_rcnn import RCNNDataset
    lb = np.zeros((60, 1920), np.int32); lb[20:30, 100:110] = 1; lb[40:50, 1900:1910] = 2
    im = lb.astype(np.float32)
    t = RCNNDataset([im], [lb], pad='thesis')[0][1]
    assert t['boxes'].tolist() == [[67., 0., 143., 60.], [1867., 7., 1920., 60.]]     # 33 px, clipped to the image
    half = RCNNDataset([im[:, :960]], [lb[:, :960]], pad='thesis')
    assert half.pads == [16] and half[0][1]['boxes'].tolist() == [[84., 4., 126., 46.]]   # 16.5 rounds to even
    with pytest.raises(ValueError, match="`pad`: expected pixels ≥ 0 or 'thesis'"): RCNNDataset([im], [lb], pad='wide')
    with pytest.raises(ValueError, match='`pad`'): RCNNDataset([im], [lb], pad=-1)

def test_unet_row_in_the_table_writer(tmp_path):
    per, objs = _fake(unet_aji=0.6)
    res = U.write_results(tmp_path, per, objs, preset='full')
    t74 = pd.read_csv(tmp_path / 'table_7_4.csv', index_col=0)
    row = f'{U.UNET} / {U.UNET_VARIANT}'
    assert row in t74.index and t74.loc[row, 'combined'].startswith(f'{0.79 * 0.6 / 0.8:.3f}')
    assert t74.loc[row, 'certain'].startswith('0.600') and t74.loc[row, 'uncertain'].startswith('0.150')
    cl = res['claims'].set_index('claim')
    c = [x for x in cl.index if 'Scherr U-Net' in x]; assert len(c) == 1
    assert cl.loc[c[0], 'value'] == pytest.approx(0.79 - 0.79 * 0.6 / 0.8) and cl.loc[c[0], 'verdict'] == 'reproduced'

def test_unet_claim_can_fail_and_needs_the_row(tmp_path):
    per, objs = _fake(unet_aji=0.9)                                    # the U-Net beats U-Mask
    assert U.write_results(tmp_path / 'a', per, objs, preset='full')['claims'].verdict.iloc[-1] == 'not reproduced'
    per, objs = _fake(unet_aji=0.01)                                   # the U-Net did not learn
    assert U.write_results(tmp_path / 'b', per, objs, preset='full')['claims'].verdict.iloc[-1] == 'not assessed (net did not learn)'
    per, objs = _fake(unet_aji=None)                                   # no U-Net row (unet_epochs=0)
    cl = U.write_results(tmp_path / 'c', per, objs, preset='full')['claims']
    assert cl.verdict.iloc[-1] == 'not assessed (net did not learn)' and np.isnan(cl.value.iloc[-1])

def test_score_unet_rows_split_by_ground_truth():
    gt = np.zeros((32, 32), np.int32); gt[4:12, 4:12] = 1; gt[18:28, 16:26] = 2
    data = dict(test=dict(idx=np.array([7]), images=[(gt > 0).astype(np.float32)], labels=[gt], certain=[np.array([True, False])],
                          reason=[np.array(['', 'blur'])]))
    from segkit.models.unet import UNet
    torch.manual_seed(0); net = UNet(1, 2, depth=2, base=4)           # untrained: the rows' shape is what is tested
    cfg = U.UMaskCfg()
    out = U._score({U.UNET: net}, cfg, data, 0)
    df = pd.DataFrame(out['rows'])
    assert set(df.model) == {U.UNET} and set(df.variant) == {U.UNET_VARIANT} and set(df.split) == {'certain', 'uncertain', 'combined'}
    assert df.set_index('split').n_objects.to_dict() == {'certain': 1, 'uncertain': 1, 'combined': 2}
    assert df.image.eq(7).all() and out['objects'] == {}
