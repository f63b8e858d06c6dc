"""Training-step throughput on one device: thesis U-Net at 256², bs 32, fp32 vs AMP (bf16) vs AMP + channels_last, and the
SimCLR and FCMAE pretext steps; peak device memory; the share of step time spent in matmul/convolution kernels.

`measure(dev, dry=False)` returns the records; `write(records, env, out)` writes `gpu_throughput.json` and `.md`.
Dry mode (CPU, tiny sizes) checks the code path end to end where no GPU is available; its numbers mean nothing.
"""
from __future__ import annotations
import contextlib, json, re, time
from pathlib import Path
import torch
import torch.nn.functional as F

MODES = {'fp32': dict(amp=False, channels_last=False), 'amp_bf16': dict(amp=True, channels_last=False),
         'amp_bf16_channels_last': dict(amp=True, channels_last=True)}
# ATen ops whose own (self) kernel time counts as matmul/convolution time
MM_CONV = re.compile(r'conv|(^|::|_)mm$|addmm|bmm|matmul|linear|_scaled_mm|gemm')

def _sync(dev):
    if dev.type == 'cuda': torch.cuda.synchronize(dev)

def _unet_step(dev, bs, size, channels_last, dry=False):
    from segkit.models.unet import UNet
    torch.manual_seed(0)
    model = UNet(1, 2, depth=2 if dry else 4, base=8 if dry else 64).to(dev)   # the thesis configuration (max-unpool decoder)
    x = torch.randn(bs, 1, size, size, device=dev); y = (x[:, 0] > 0).long()
    if channels_last: model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    return model, lambda: F.cross_entropy(model(x), y)

def _pretext_step(name, encoder, dev, bs, size, channels_last, dry=False):
    from segkit.selfsl.pretext import get_pretext
    torch.manual_seed(0)
    task = get_pretext(name, encoder, seed=0).to(dev).train()
    x = torch.rand(bs, 1, size, size, device=dev)
    if channels_last: task = task.to(memory_format=torch.channels_last)
    def loss():
        views = task.views(x)                            # the augmentations are part of the step
        if channels_last: views = [v.contiguous(memory_format=torch.channels_last) for v in views]
        return task.loss(task(*views), x)
    return task, loss

CASES = {  # name -> (builder(dev, bs, size, channels_last), what)
    'unet_thesis': (_unet_step, 'thesis U-Net (depth 4, 64 base maps, max-unpool), 1→2 classes, cross-entropy'),
    'simclr': (lambda *a, **k: _pretext_step('simclr', 'resnet18', *a, **k), 'SimCLR pretext step, ResNet-18 encoder, two views'),
    'fcmae': (lambda *a, **k: _pretext_step('fcmae', 'convnextv2_atto', *a, **k), 'FCMAE pretext step, ConvNeXtV2-atto encoder'),
}

def _self_time(e, dev):
    if dev.type == 'cuda':
        for a in ('self_device_time_total', 'self_cuda_time_total'):
            if hasattr(e, a): return getattr(e, a)
        return 0.
    return e.self_cpu_time_total

def mm_conv_share(step, dev, n:int=3) -> dict:
    "Share of the kernel time (and of the wall time) of `n` steps spent in matmul/convolution ops, from the torch profiler."
    from torch.profiler import profile, ProfilerActivity
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == 'cuda' else [])
    _sync(dev)
    with profile(activities=acts) as prof:
        t = time.perf_counter()
        for _ in range(n): step()
        _sync(dev); wall_us = (time.perf_counter() - t) * 1e6
    ev = [e for e in prof.key_averages() if e.key.startswith('aten::')]
    total = sum(_self_time(e, dev) for e in ev)
    mm = sum(_self_time(e, dev) for e in ev if MM_CONV.search(e.key))
    top = sorted(((e.key, _self_time(e, dev)) for e in ev if MM_CONV.search(e.key)), key=lambda kv: -kv[1])[:4]
    return dict(mm_conv_share_of_kernel_time=round(mm / total, 3) if total else None,
                mm_conv_share_of_step_time=round(mm / wall_us, 3) if wall_us else None,
                mm_conv_ops=', '.join(k for k, _ in top))

def run_case(name:str, mode:str, dev, bs:int, size:int, warmup:int, iters:int, dry:bool=False) -> dict:
    build, what = CASES[name]
    m = MODES[mode]
    if dev.type == 'cuda': torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats(dev)
    model, loss_fn = build(dev, bs, size, m['channels_last'], dry=dry)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], 1e-4)
    amp = torch.autocast(dev.type, dtype=torch.bfloat16) if m['amp'] else contextlib.nullcontext()
    def step():
        opt.zero_grad(set_to_none=True)
        with amp: loss = loss_fn()
        loss.backward(); opt.step()
        return loss
    for _ in range(warmup): loss = step()
    if not torch.isfinite(loss): raise RuntimeError(f"{name}/{mode}: non-finite loss {float(loss)}")
    _sync(dev); t = time.perf_counter()
    for _ in range(iters): step()
    _sync(dev); dt = (time.perf_counter() - t) / iters
    rec = dict(case=name, what=what, mode=mode, batch=bs, size=size, iters=iters, step_ms=round(dt * 1e3, 2),
               images_per_s=round(bs / dt, 1),
               peak_memory_MiB=round(torch.cuda.max_memory_allocated(dev) / 2**20) if dev.type == 'cuda' else None)
    rec.update(mm_conv_share(step, dev, n=1 if dry else 3))
    del model, opt
    return rec

def measure(dev, dry:bool=False, cases=None, modes=None, log=print) -> list[dict]:
    "All cases × modes on `dev`: bs 32 at 256² (dry: bs 2 at 64², a depth-2 U-Net with 8 base maps, 1 warm-up, 2 timed steps)."
    bs, size, warmup, iters = (2, 64, 1, 2) if dry else (32, 256, 5, 20)
    out = []
    for name in cases or CASES:
        for mode in modes or MODES:
            try: r = run_case(name, mode, dev, bs, size, warmup, iters, dry)
            except Exception as e:                        # one failing case must not lose the others
                if dev.type == 'cuda': torch.cuda.empty_cache()
                out.append(dict(case=name, mode=mode, error=f"{type(e).__name__}: {str(e)[:300]}"))
                log(f"  {name:12s} {mode:24s} FAILED: {out[-1]['error']}"); continue
            base = next((o for o in out if o['case'] == name and o['mode'] == 'fp32' and 'error' not in o), None)
            r['speedup_vs_fp32'] = round(r['images_per_s'] / base['images_per_s'], 2) if base else 1.0
            out.append(r)
            log(f"  {name:12s} {mode:24s} {r['images_per_s']:9.1f} img/s  {r['step_ms']:8.2f} ms/step  "
                f"peak {r['peak_memory_MiB']} MiB  mm/conv {r['mm_conv_share_of_kernel_time']} of kernel time")
    return out

def write(records:list, env:dict, out, stem:str='gpu_throughput') -> tuple[Path, Path]:
    "Write `<out>/<stem>.json` and a markdown table `<out>/<stem>.md`."
    out = Path(out); out.mkdir(parents=True, exist_ok=True)
    js = out / f'{stem}.json'; js.write_text(json.dumps(dict(env=env, records=records), indent=1))
    lines = [f"# Training-step throughput on {env.get('device_name', '?')}", "",
             f"{'DRY RUN on CPU with tiny sizes: these numbers only show that the script works.' if env.get('dry') else 'Batch 32 of 1×256×256 images, one Adam step each: mean over 20 timed steps after 5 warm-up steps.'}", "",
             "| case | mode | batch | size | images/s | ms/step | × fp32 | peak memory (MiB) | matmul/conv share of kernel time | of step time | top matmul/conv ops |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in records:
        if 'error' in r: lines.append(f"| {r['case']} | {r['mode']} | FAILED: {r['error']} |" + ' |' * 8); continue
        lines.append(f"| {r['case']} | {r['mode']} | {r['batch']} | {r['size']}² | {r['images_per_s']} | {r['step_ms']} | {r['speedup_vs_fp32']} | "
                     f"{r['peak_memory_MiB'] if r['peak_memory_MiB'] is not None else '–'} | {r['mm_conv_share_of_kernel_time']} | {r['mm_conv_share_of_step_time']} | {r['mm_conv_ops']} |")
    lines += ["", "Cases: " + '; '.join(f"{k}: {v[1]}" for k, v in CASES.items()) + "."
              + (" Dry run: bs 2 at 64², the U-Net with depth 2 and 8 base maps." if env.get('dry') else ''),
              "AMP = `torch.autocast` with bfloat16 (no grad scaler); channels_last = model and inputs in NHWC memory format.",
              "The matmul/conv share sums the self kernel time of ATen convolution and matrix-multiply ops from the torch profiler "
              "over 3 more steps, divided by all ATen kernel time (and by the wall time of those steps).", "",
              "Environment: " + ', '.join(f"{k} {v}" for k, v in env.items() if k not in ('dry',)) + "."]
    md = out / f'{stem}.md'; md.write_text('\n'.join(lines) + '\n')
    return js, md
