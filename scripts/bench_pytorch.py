"""
PyTorch timing of the training step that `npm run bench` times (run by `npm run bench --
--compare-pytorch`; can also be run alone from the repository root):

    /usr/bin/python3 scripts/bench_pytorch.py --threads 2 --steps 30 --warmup 5 --batch 128

The network of scripts/pytorch_reference.py (six 3x3 convolutions 1-16-16-pool-32-32-pool-64-2,
ReLU after all but the last, max pools 3/2/1, global average pool), a softmax head (2 -> 10 linear,
no bias, cross-entropy), Adam lr 1e-3 with L2 weight decay 1e-4; synthetic MNIST-shaped input
(normal pixels, random labels) in 4 fixed batches reused cyclically, as the bench does. Each step
reads the loss back (loss.item()), like the bench. Prints one JSON line.
"""
import argparse, json, os, sys, time

p = argparse.ArgumentParser()
p.add_argument('--threads', type=int, default=1)
p.add_argument('--steps', type=int, default=30)
p.add_argument('--warmup', type=int, default=5)
p.add_argument('--batch', type=int, default=128)
p.add_argument('--seed', type=int, default=1)
p.add_argument('--channels-last', action='store_true', help='NHWC memory format (oneDNN); default NCHW')
a = p.parse_args()

import torch, torch.nn as nn, torch.nn.functional as F

torch.set_num_threads(a.threads)
torch.manual_seed(a.seed)


class Net(nn.Module):
    def __init__(s):
        super().__init__()
        ch = [(1, 16), (16, 16), (16, 32), (32, 32), (32, 64), (64, 2)]
        s.c = nn.ModuleList([nn.Conv2d(i, o, 3, 1, 1) for i, o in ch])
        for c in s.c:
            nn.init.kaiming_normal_(c.weight, mode='fan_out', nonlinearity='relu')
            nn.init.zeros_(c.bias)

    def forward(s, x):
        c = s.c
        x = F.relu(c[0](x)); x = F.relu(c[1](x)); x = F.max_pool2d(x, 3, 2, 1)
        x = F.relu(c[2](x)); x = F.relu(c[3](x)); x = F.max_pool2d(x, 3, 2, 1)
        x = F.relu(c[4](x)); x = c[5](x)
        return x.mean((2, 3))


net = Net()
W = nn.Parameter(torch.empty(2, 10))
nn.init.xavier_normal_(W)
fmt = torch.channels_last if a.channels_last else torch.contiguous_format
if a.channels_last:
    net = net.to(memory_format=torch.channels_last)
opt = torch.optim.Adam(list(net.parameters()) + [W], lr=1e-3, weight_decay=1e-4)
g = torch.Generator().manual_seed(42)
NB = 4
xs = [torch.randn(a.batch, 1, 28, 28, generator=g).contiguous(memory_format=fmt) for _ in range(NB)]
ys = [torch.randint(0, 10, (a.batch,), generator=g) for _ in range(NB)]


def step(i):
    x, y = xs[i % NB], ys[i % NB]
    opt.zero_grad(set_to_none=True)
    loss = F.cross_entropy(net(x) @ W, y)
    loss.backward()
    opt.step()
    return loss.item()


for i in range(a.warmup):
    step(i)
times = []
cpu0 = time.process_time()
t0 = time.perf_counter()
last = 0.0
for i in range(a.steps):
    ts = time.perf_counter()
    last = step(a.warmup + i)
    times.append(time.perf_counter() - ts)
sec = time.perf_counter() - t0
cpu = time.process_time() - cpu0
times.sort()
print(json.dumps({
    'framework': 'pytorch',
    'torch': torch.__version__,
    'python': sys.executable,
    'threads': torch.get_num_threads(),
    'channelsLast': a.channels_last,
    'imagesPerSecond': round(a.steps * a.batch / sec),
    'msPerStep': round(1000 * sec / a.steps, 2),
    'medianMsPerStep': round(1000 * times[len(times) // 2], 2),
    'minMsPerStep': round(1000 * times[0], 2),
    'cpuMsPerStep': round(1000 * cpu / a.steps, 2),
    'loadAverage': round(os.getloadavg()[0], 2),
    'steps': a.steps, 'warmup': a.warmup, 'batch': a.batch,
    'finalLoss': round(last, 4),
}), flush=True)
