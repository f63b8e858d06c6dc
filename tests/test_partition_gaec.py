"""GAEC on the attractive part of the graph (issue 20 performance): `multicut(..., 'gaec')` equals bioimage-cpp's GAEC on the
whole graph, label for label — on random graphs with real-valued costs, on graphs with tied integer costs (which take the
whole-graph path) and on a RAG of real nuclei grown into touching cells."""
import numpy as np
import pytest
bic = pytest.importorskip('bioimage_cpp')
from segkit.instances.partition import multicut, _gaec_attractive, rag_features, edge_costs, dt_watershed, RagFeatures

def _full(n, uv, c):
    mc = bic.graph.multicut
    g = bic.graph.UndirectedGraph.from_edges(n, np.asarray(uv, np.uint64).reshape(-1, 2))
    return np.asarray(mc.GreedyAdditiveMulticut().optimize(mc.MulticutObjective(g, np.asarray(c, np.float64))), np.int64)

def _graphs(kind, n_graphs=150):
    for seed in range(n_graphs):
        rng = np.random.default_rng([seed, kind])
        n = int(rng.integers(2, 60))
        uv = np.sort(rng.integers(0, n, (int(rng.integers(1, 4 * n)), 2)), 1)
        uv = np.unique(uv[uv[:, 0] != uv[:, 1]], axis=0)
        if len(uv) == 0: continue
        c = rng.normal(-1, 1, len(uv)) if kind == 0 else rng.integers(-3, 3, len(uv)).astype(float)
        yield n, uv, c

@pytest.mark.parametrize('kind', [0, 1])          # 0: real-valued costs (subgraph path), 1: integer costs with ties (whole graph)
def test_gaec_on_attractive_subgraph_equals_full_solve(kind):
    n_sub = 0
    for n, uv, c in _graphs(kind):
        np.testing.assert_array_equal(multicut((n, uv), c, 'gaec'), _full(n, uv, c))
        att = c > 0
        n_sub += bool(att.any() and not att.all() and len(np.unique(c[att])) == att.sum())
    assert (n_sub > 100) if kind == 0 else True      # the subgraph path did run on most real-valued graphs

def test_gaec_subgraph_on_a_rag_of_real_cells():
    from segkit.data.sources import get_source
    from skimage.segmentation import expand_labels, find_boundaries
    from skimage.filters import gaussian
    lab = get_source('nuclei').arrays([0])[1][0][:256, :256]
    cells = expand_labels(lab, 12)
    p = np.clip(gaussian(find_boundaries(cells).astype(float), 1.) * 3 + np.random.default_rng(0).normal(0, .05, cells.shape), 0, 1)
    r = rag_features(dt_watershed(p, sigma_seeds=0., min_size=5), p)
    c = edge_costs(r.mean, r.size, 0.6)
    assert 0 < (c > 0).sum() < len(c) and len(np.unique(c[c > 0])) == (c > 0).sum()    # the subgraph path runs
    np.testing.assert_array_equal(multicut(r, c, 'gaec'), _full(r.n_nodes, r.uvs, c))
    np.testing.assert_array_equal(multicut(r.graph, c, 'gaec'), multicut(r, c, 'gaec'))     # a bare graph: edges read from it
