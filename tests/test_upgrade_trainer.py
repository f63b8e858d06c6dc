"""One small 2-class trainer (issue 18 house duplication): `pseudo.upgrade.train_segmenter` trains through `pseudo.neuboot.fit_unet`."""
import numpy as np
import pytest
import torch
from segkit.core import synth_blobs, stream_seed
from segkit.pseudo.neuboot import fit_unet
from segkit.pseudo.upgrade import TrainOpts, train_segmenter, make_net

def test_train_segmenter_is_fit_unet_at_a_constant_lr():
    bl = synth_blobs(4, 32, seed=0)
    opts = TrainOpts(epochs=1, epoch_len=4, crop=16, bs=2, depth=1, base=4, device='cpu')
    m, info = train_segmenter(bl.images[:2], bl.masks[:2], bl.images[2:], bl.masks[2:], opts, seed=3)
    bin_ = lambda ms: [(np.asarray(a) > 0).astype(np.int64) for a in ms]
    ref = fit_unet((list(bl.images[:2]), bin_(bl.masks[:2])), (list(bl.images[2:]), bin_(bl.masks[2:])), epochs=1, lr=opts.lr, bs=2, crop=16,
                   epoch_len=4, valid_crop=None, seed=stream_seed(3, 'segmenter', '0'), device='cpu', schedule='constant',
                   model=lambda n_in: make_net('unet', n_in, 2, 1, 4))
    assert info['retries'] == 0 or info['untrainable']
    for (k, a), b in zip(m.state_dict().items(), ref.state_dict().values()): assert torch.equal(a, b), k

def test_fit_unet_schedule_is_checked():
    bl = synth_blobs(2, 16, seed=0)
    with pytest.raises(ValueError, match='schedule'):
        fit_unet((bl.images[:1], bl.masks[:1]), (bl.images[1:], bl.masks[1:]), schedule='cosine')
