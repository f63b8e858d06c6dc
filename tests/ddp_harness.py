"""Two-process self-checks of the distributed pretext tasks (moved here from `segkit.selfsl.dist`).

`dist_selfcheck` spawns W gloo CPU processes and compares losses, row gradients and MoCo's queue with one process;
`ddp_selfcheck` trains every method a few steps in fastai `Learner`s under `torchrun` (this file is the workers'
script) and compares the whole task state with one process on the concatenated batch.
"""
from __future__ import annotations
import json, os, subprocess, sys, tempfile
from pathlib import Path
import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch import nn
from fastai.torch_core import rank_distrib
from segkit.models.encoders import get_encoder
from segkit.selfsl.pretext import PRETEXTS, get_pretext, pretext_learner
from segkit.selfsl.dist import distributed, distributed_task, launched_world

def _inputs(n, d, seed):
    g = torch.Generator().manual_seed(seed)
    f = lambda: torch.randn(n, d, generator=g)
    return dict(z1=f(), z2=f(), q=torch.nn.functional.normalize(f(), dim=1), k=torch.nn.functional.normalize(f(), dim=1))

def _tasks(d, queue_size, seed):
    enc = lambda: get_encoder('unet', depth=1, base=4)
    return dict(simclr=get_pretext('simclr', enc(), proj_dim=d, seed=seed), barlow_twins=get_pretext('barlow_twins', enc(), proj_dim=d, hidden=d, seed=seed),
                moco=get_pretext('moco', enc(), proj_dim=d, queue_size=queue_size, seed=seed))

def _compute(tasks, x, sl=slice(None)):
    "Losses, row gradients and the MoCo queue for the rows `sl` of the inputs `x`."
    out = {}
    for name in ('simclr', 'barlow_twins'):
        z1, z2 = x['z1'][sl].clone().requires_grad_(), x['z2'][sl].clone().requires_grad_()
        l = tasks[name].loss((z1, z2)); l.backward()
        out[name] = dict(loss=l.detach(), g1=z1.grad, g2=z2.grad)
    m = tasks['moco'].train()
    out['moco'] = dict(loss=m.loss((x['q'][sl], x['k'][sl])).detach(), queue=m.queue.keys.clone(), ptr=m.queue.ptr.clone())
    return out

def _worker(rank, world, init_file, n, d, queue_size, seed, out_dir, wrap=True):
    torch.set_num_threads(1)
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank, world_size=world)
    try:
        tasks = {k: distributed_task(t) if wrap else t for k, t in _tasks(d, queue_size, seed).items()}
        m = n // world
        torch.save(_compute(tasks, _inputs(n, d, seed), slice(rank * m, (rank + 1) * m)), Path(out_dir) / f'rank{rank}.pt')
    finally: dist.destroy_process_group()

def dist_selfcheck(world:int=2, n:int=8, d:int=16, queue_size:int=32, seed:int=0,
                   wrap:bool=True, # False: plain per-process tasks (to see the check fail)
                  ) -> dict:
    "Run the losses in `world` CPU processes (gloo) and return max |difference| from the single-process computation."
    import torch.multiprocessing as mp
    if n % world: raise ValueError(f"`n`: {n} rows cannot be split evenly over {world} processes")
    ref = _compute(_tasks(d, queue_size, seed), _inputs(n, d, seed))
    with tempfile.TemporaryDirectory() as tmp:
        mp.spawn(_worker, args=(world, f'{tmp}/init', n, d, queue_size, seed, tmp, wrap), nprocs=world, join=True)
        res = [torch.load(Path(tmp) / f'rank{r}.pt', weights_only=True) for r in range(world)]
    m, diff = n // world, {}
    for name in ('simclr', 'barlow_twins'):
        diff[f'{name}_loss'] = max(float((r[name]['loss'] - ref[name]['loss']).abs()) for r in res)
        g = lambda key: torch.cat([r[name][key] for r in res]) / world   # DDP averages over the processes
        diff[f'{name}_grad'] = max(float((g('g1') - ref[name]['g1']).abs().max()), float((g('g2') - ref[name]['g2']).abs().max()))
    diff['moco_loss'] = float((torch.stack([r['moco']['loss'] for r in res]).mean() - ref['moco']['loss']).abs())
    diff['moco_queue'] = max(float((r['moco']['queue'] - ref['moco']['queue']).abs().max()) for r in res)
    diff['moco_ptr'] = max(int((r['moco']['ptr'] - ref['moco']['ptr']).abs()) for r in res)
    return diff

class _FixedViews:
    "Deterministic views for the check: odd calls return the batch, even calls a contrast change of it."
    def __init__(self): self.gen, self.i = torch.Generator(), 0
    def __call__(self, x):
        self.i += 1
        return x if self.i % 2 else 1.5 * x - 0.25

def _no_bn(m:nn.Module) -> nn.Module:
    for name, c in m.named_children():
        if isinstance(c, nn.modules.batchnorm._BatchNorm): setattr(m, name, nn.Identity())
        else: _no_bn(c)
    return m

def _check_learner(method, n, bs, seed=0, wrap=True):
    from fastai.data.core import Datasets
    from fastai.optimizer import SGD
    torch.manual_seed(seed)
    enc = get_encoder('convnextv2_atto', n_in=1) if method == 'fcmae' else get_encoder('unet', depth=2, base=4)
    cls = PRETEXTS[method]
    task = _no_bn(get_pretext(method, enc, seed=seed, **cls.check_kwargs))
    task.aug = _FixedViews()
    if wrap: task = distributed_task(task)
    g, s = torch.Generator().manual_seed(seed + 1), cls.check_size
    u = torch.linspace(0, 6.3, s)
    f = 0.5 + 3 * torch.rand(n, 2, generator=g)                           # images differ in texture frequency and direction
    x = (torch.sin(f[:, 0, None, None] * u[:, None] + f[:, 1, None, None] * u) + 0.3 * torch.rand(n, s, s, generator=g))[:, None]
    items = list(range(n))
    dls = Datasets(items, [lambda i: x[i], lambda i: x[i]], splits=[items, items]).dataloaders(bs=bs, shuffle=False, drop_last=True, device=torch.device('cpu'))
    return pretext_learner(dls, task, opt_func=SGD, lr=0.05), task

def _state(task): return {k: v.detach().clone().cpu() for k, v in task.state_dict().items()}

def _ddp_check_worker(cfg_path:str):
    "A torchrun worker: train each method under `distributed()`, save its state per rank."
    cfg = json.loads(Path(cfg_path).read_text()); torch.set_num_threads(1)
    for method in cfg['methods']:
        learn, task = _check_learner(method, cfg['bs'] * launched_world(), cfg['bs'], wrap=cfg['wrap'])
        with learn.no_bar(), learn.no_logging(), distributed(learn): learn.fit(cfg['steps'], 0.05)
        torch.save(dict(state=_state(task), loss=float(learn.recorder.losses[-1])), Path(cfg['out']) / f"{method}-rank{rank_distrib()}.pt")

def ddp_selfcheck(methods=('autoencoder', 'simclr', 'byol', 'moco', 'barlow_twins', 'densecl', 'detco'),
                  world:int=2, bs:int=4, steps:int=3, timeout:int=600,
                  wrap:bool=True, # False: plain tasks in the workers (local losses and queues) — the check must then fail
                 ) -> pd.DataFrame:
    "Train `methods` in `world` torchrun CPU processes and in this one; per method the largest state differences (between ranks, from one process) and of the final loss."
    for m in methods: PRETEXTS[m]   # unknown names fail here, listing the known ones
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / 'cfg.json'; cfg.write_text(json.dumps(dict(methods=list(methods), bs=bs, steps=steps, out=tmp, wrap=wrap)))
        env = dict(os.environ, OMP_NUM_THREADS='1', SEGKIT_DDP_CHECK=str(cfg))
        cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', f'--nproc_per_node={world}', str(Path(__file__).resolve())]
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        if p.returncode:
            errs = [l for l in p.stderr.splitlines() if 'Error' in l and not l.lstrip().startswith('raise')]
            raise RuntimeError(f"torchrun workers failed (exit {p.returncode}): " + ' | '.join(dict.fromkeys(errs[:6])) + f"\n{p.stderr[-1500:]}")
        res = {m: [torch.load(Path(tmp) / f'{m}-rank{r}.pt', weights_only=True) for r in range(world)] for m in methods}
    rows = []
    for m in methods:
        st = [r['state'] for r in res[m]]
        between = max(float((s[k].double() - st[0][k].double()).abs().max()) for s in st[1:] for k in st[0])
        row = dict(method=m, between_ranks=between, vs_single=np.nan, loss_diff=np.nan, moved=np.nan, n_tensors=len(st[0]))
        if m != 'fcmae':
            learn, task = _check_learner(m, bs * world, bs * world)
            init = _state(task)
            with learn.no_bar(), learn.no_logging(): learn.fit(steps, 0.05)
            ref = _state(task)
            row['vs_single'] = max(float((st[0][k].double() - ref[k].double()).abs().max()) for k in ref)
            row['moved'] = max(float((init[k].double() - ref[k].double()).abs().max()) for k in ref)   # training changed the state this much
            row['loss_diff'] = abs(np.mean([r['loss'] for r in res[m]]) - float(learn.recorder.losses[-1]))
        rows.append(row)
    df = pd.DataFrame(rows).set_index('method')
    df.insert(2, 'relative', df['vs_single'] / df['moved'])   # difference from one process, relative to how far training moved the state
    return df

if __name__ == '__main__' and os.environ.get('SEGKIT_DDP_CHECK'): _ddp_check_worker(os.environ['SEGKIT_DDP_CHECK'])
