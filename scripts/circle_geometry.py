"""
Class-level Circle loss (docs/quick-profile.md) of ideal 2-D arrangements of ten class weights, every
sample exactly on its own class weight: ten evenly spaced, two groups of five at 90 or 180 degrees,
four groups. Shows which arrangement the loss prefers for each (gamma, m). NumPy only:

    python3 scripts/circle_geometry.py
"""
import numpy as np

def loss(angles, g, m):
    W = np.stack([np.cos(angles), np.sin(angles)], 1)
    total = 0.0
    for y in range(len(angles)):
        s = W @ W[y]
        an = np.maximum(s + m, 0); ap = max(1 + m - s[y], 0)
        z = g * an * (s - m); z[y] = g * ap * (s[y] - (1 - m))
        total += -z[y] + np.log(np.exp(z - z.max()).sum()) + z.max()
    return total / len(angles)

C = 10
arrangements = {
    'even': np.arange(C) * 2 * np.pi / C,
    'two groups at 90': np.array([0.0] * 5 + [np.pi / 2] * 5),
    'two groups at 180': np.array([0.0] * 5 + [np.pi] * 5),
    'four groups': np.repeat([0, np.pi / 2, np.pi, 3 * np.pi / 2], [3, 3, 2, 2]).astype(float),
}
for g, m in [(4, .6), (16, .6), (32, .4), (32, .25), (16, .8), (32, .9), (64, .25)]:
    print(f'gamma {g:>3} m {m:<4}', '  '.join(f'{k}: {loss(a, g, m):.3f}' for k, a in arrangements.items()))
