"""Pieces of the plantseg recipe added for issue 20 (p3): the cells3d 3D path, the pooled
boundary PR step, `merged_pairs` and claims on a named main preset. Real data (cells3d_nuclei, nuclei_tissue); an untrained
tiny U-Net stands in for the boundary net (the pipeline is checked, not its quality)."""
import numpy as np
import pandas as pd
import pytest
import torch
from segkit.data.sources import get_source
from segkit.models.unet import UNet
from segkit.recipes import plantseg as R

@pytest.fixture(scope='module')
def c3():
    return get_source('cells3d_nuclei')

@pytest.fixture(scope='module')
def net():
    torch.manual_seed(0)
    return UNet(1, 2, depth=2, base=4).eval()

def test_volume_rows_score_in_3d(c3, net):
    test = c3.splits()['test'][:3]
    rows = R._volume_rows(c3, 'instances', test, net, R.PlantSegCfg())
    assert [r['method'] for r in rows] == ['dtws', *R.PARTITIONS] and {r['preset'] for r in rows} == {'volume_3d'}
    assert all(np.isfinite(r['are']) for r in rows)

def test_pr_rows_pool_per_preset(c3, net):
    test = c3.splits()['test'][:2]
    pr = R._pr_rows(net, [('a', c3, test), ('b', c3, test[:1])], 'instances')
    curve, summ = pd.DataFrame(pr['curve']), pd.DataFrame(pr['summary'])
    assert len(curve) == 2 * len(R.PR_TOLERANCES) * 100 and set(summ.preset) == {'a', 'b'}
    assert ((summ.ap >= 0) & (summ.ap <= 1)).all() and (summ.images.tolist() == [2] * len(R.PR_TOLERANCES) + [1] * len(R.PR_TOLERANCES))

def test_merged_pairs_counts_objects_sharing_a_segment():
    lab = np.repeat(np.array([[1, 1, 2, 2, 3, 3]]), 4, 0)
    obj = np.repeat(np.array([[1, 2, 3, 0, 4, 5]]), 4, 0)
    assert R.merged_pairs(lab, obj) == 2                   # (1, 2) in segment 1, (4, 5) in segment 3
    assert R.merged_pairs(np.zeros_like(lab), obj) == 0

def test_claims_on_a_named_main_preset():
    rows = [dict(preset='cells3d_nuclei', image=i, method=m, beta=.6, are=a, voi_split=vs, voi_merge=.1, n_segments=5)
            for i in range(3) for m, a, vs in [('dtws', .05, .3), ('multicut', .03, .1), ('gasp', .03, .1), ('mws', .03, .1)]]
    c = R.claims(pd.DataFrame(rows), None, .6, main='cells3d_nuclei').set_index('claim')
    assert c.verdict.iloc[0] == 'reproduced' and 'not assessed' in c.verdict.iloc[2]
    assert R.claims(pd.DataFrame(rows), None, .6).verdict.iloc[0].startswith('not assessed')   # no 'mild' rows
