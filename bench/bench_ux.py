"""Benchmarks of the `p3-ux` branch (issue 15, item 6): what verifying the data cache costs when a source is opened.

`cd bench && python -c "import bench_ux; from harness import run_benchmarks; run_benchmarks(['cache_verify_stat', 'nuclei_open_verified'], out='results/ux')"`
(the coordinator may add `bench_ux` to `bench/run.py`'s imports instead). Needs the fetched `mnfinder` cache.
"""
from __future__ import annotations
from harness import benchmark

@benchmark('cache_verify_stat', 'verify_package: sizes + mtimes (every load)', 'verify_package(full=True): sha256 of every file (--verify)',
           'the cached mnfinder==1.2.3 package (254 files, 94 MB)', max_repeats=5)
def _cache_verify():
    from segkit.data.sources import fetch_package, verify_package
    root = fetch_package('mnfinder', '1.2.3')
    return lambda: verify_package(root), lambda: verify_package(root, full=True)

@benchmark('nuclei_open_verified', "get_source('nuclei'): opened through the verified cache", "get_source('nuclei', path=…): the same files, no verification",
           'building the 48-image nuclei source (pixel hashes for the duplicate check, metadata join)', max_repeats=5)
def _nuclei_open():
    from segkit.data.sources import fetch_package, get_source
    root = fetch_package('mnfinder', '1.2.3') / 'mnfinder'
    return lambda: get_source('nuclei'), lambda: get_source('nuclei', path=root)
