#!/usr/bin/env python3
"""Write `bench/results/gpu-<date>.md` from the files one `bench/gpu/run` left (gpu_check.json, gpu_throughput.json/.md):
the device, the CUDA test summary, the throughput table and the issue's targets, every number read from those files.

Usage: bench/gpu/report.py RESULTS_DIR DATE [--rerun CHECK_JSON ...] [--out bench/results/gpu-DATE.md]
(--rerun: gpu_check.json files of later `bench/gpu/run --no-bench` runs, listed as re-runs of the CUDA tests)"""
from __future__ import annotations
import argparse, json, sys
from pathlib import Path

TARGETS = [('unet_thesis', 'amp_bf16', 2.0, 'AMP vs fp32 step speed-up of the thesis U-Net (target ≥ 2× on an H100/H200)'),
           ('unet_thesis', 'amp_bf16_channels_last', 2.0, 'the same with channels_last (target ≥ 2×)')]

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('folder'); ap.add_argument('date'); ap.add_argument('--out'); ap.add_argument('--rerun', nargs='*', default=[])
    a = ap.parse_args(argv)
    d = Path(a.folder)
    try: chk, th = json.loads((d / 'gpu_check.json').read_text()), json.loads((d / 'gpu_throughput.json').read_text())
    except FileNotFoundError as e: print(f"report.py: {e.filename} missing: run bench/gpu/run first", file=sys.stderr); return 2
    table = (d / 'gpu_throughput.md').read_text().split('\n', 2)[2].strip()
    env, py = chk['env'], chk['pytest']
    R = {(r['case'], r['mode']): r for r in th['records']}
    L = [f"# GPU check of {a.date} on {env['device_name']}", '',
         f"`bench/gpu/run` in {chk['seconds']} s in all (install, CUDA tests, throughput): torch {env['torch']}, CUDA {env['cuda']}, "
         f"cuDNN {env['cudnn']}, driver {env['driver']}, {env['memory_GiB']} GiB, bf16 {env['bf16']}.", '',
         "## CUDA tests", '', f"`pytest -m cuda tests/test_cuda.py`: **{py['summary']}** (exit {py['rc']}, {py['seconds']} s).", '',
         "## Targets", '', '| target | measured | holds |', '|---|---:|---|']
    for case, mode, want, what in TARGETS:
        r = R[(case, mode)]; L.append(f"| {what} | {r['speedup_vs_fp32']:.2f}× | {'yes' if r['speedup_vs_fp32'] >= want else 'no'} |")
    for (case, mode), r in R.items():
        if case == 'unet_thesis':
            s = r['mm_conv_share_of_step_time']
            L.append(f"| matmul/conv share of step time, {case} {mode} (target ≥ 50 %) | {100 * s:.0f} % | {'yes' if s >= .5 else 'no'} |")
    for f in a.rerun:
        r = json.loads(Path(f).read_text())
        L += ['', f"Re-run of the CUDA tests later the same day on the merged code (`bench/gpu/run --no-bench`, {Path(f).name}): "
                  f"**{r['pytest']['summary']}** (exit {r['pytest']['rc']}), {r['seconds']} s in all on {r['env']['device_name']}."]
    L += ['', '## Throughput', '', table, '']
    out = Path(a.out or Path(__file__).resolve().parents[1] / 'results' / f'gpu-{a.date}.md')
    out.write_text('\n'.join(L)); print(f"wrote {out}")
    return 0

if __name__ == '__main__': sys.exit(main())
