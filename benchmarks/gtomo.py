"""G-Tomo benchmark: integrated extinction for 1e6 random targets in the 25 pc cube's volume.

The cube is the deterministic demo density on the exact grid of the published 25 pc map (601 x 601 x 81
voxels of 10 pc, +-3 kpc in x and y, +-400 pc in z), built in memory. Targets are uniform in that box.

The baseline does what the original G-Tomo app does: per target, sample the density every 5 pc from the
Sun with scipy's RegularGridInterpolator (linear) and sum the samples times 5 pc. It is timed on a
subset and scaled to all targets. The largest difference between the two is printed, and both are
compared with a fine (0.1 pc) midpoint sum on a few targets to show which one is right.

Both are timed ``--repeat`` times and the best time is used (as ``timeit`` does): the machine is shared,
and other work slows the two-threaded kernel more than the one-threaded baseline. The load average at the
start, every time and the CPU time are printed so that a run on a busy machine can be recognised.

Usage::

    python benchmarks/gtomo.py            # 1e6 targets, baseline on 300
    python benchmarks/gtomo.py --quick    # 1e5 targets, baseline on 60
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller run (1e5 targets)")
    parser.add_argument("--targets", type=int, default=None, help="number of targets")
    parser.add_argument("--baseline", type=int, default=None, help="targets timed with the baseline")
    parser.add_argument("--repeat", type=int, default=3, help="timings of each method; the best is used")
    parser.add_argument("--seed", type=int, default=2022)
    args = parser.parse_args()
    n_targets = args.targets or (100_000 if args.quick else 1_000_000)
    n_base = args.baseline or (60 if args.quick else 300)

    import numba
    from scipy.interpolate import RegularGridInterpolator

    from explore.apps.gtomo.cube import DustCube, galactic_to_xyz, xyz_to_galactic
    from explore.apps.gtomo.demo import demo_density
    from explore.apps.gtomo.integrate import integrate_extinction
    from explore.apps.gtomo.raytrace import sample_points

    t0 = time.perf_counter()
    data, step, sun = demo_density("25pc")
    cube = DustCube(data, step, sun)
    print(f"cube: {cube.shape[0]}x{cube.shape[1]}x{cube.shape[2]} at {step:g} pc ({data.nbytes / 1e6:.0f} MB float32)")
    print(f"cube_build_s: {time.perf_counter() - t0:.2f}")
    print(f"threads: {numba.get_num_threads()}")
    print("load_average_1_5_15_min: " + " ".join(f"{v:.2f}" for v in os.getloadavg()))

    rng = np.random.default_rng(args.seed)
    ext = cube.extent.value
    xyz = rng.uniform(ext[:, 0], ext[:, 1], size=(n_targets, 3))
    l_deg, b_deg, dist = xyz_to_galactic(xyz[:, 0], xyz[:, 1], xyz[:, 2])
    dist = np.maximum(dist, 1e-3)

    t0 = time.perf_counter()
    integrate_extinction(cube, l_deg[:100], b_deg[:100], dist[:100])
    print(f"warmup_s (numba compile or cache load): {time.perf_counter() - t0:.2f}")

    times, cpu = [], []
    for _ in range(max(args.repeat, 1)):
        t0, c0 = time.perf_counter(), time.process_time()
        result = integrate_extinction(cube, l_deg, b_deg, dist)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    ours_s = min(times)
    a0 = result.a0.value
    print(f"targets: {n_targets}")
    print(f"flagged: {int((result.flag != 0).sum())}")
    print(f"exact_s: {ours_s:.2f} (best of {len(times)}: {', '.join(f'{t:.2f}' for t in times)})")
    print(f"exact_cpu_s: {min(cpu):.2f} (all threads)")
    print(f"exact_targets_per_s: {n_targets / ours_s:,.0f}")

    axes = tuple(a.value for a in cube.axes)
    rgi = RegularGridInterpolator(axes, data, method="linear", bounds_error=False, fill_value=np.nan)
    sub = rng.choice(n_targets, size=n_base, replace=False)
    baseline = np.empty(n_base)
    base_times = []
    for _ in range(max(args.repeat, 1)):
        t0 = time.perf_counter()
        for i, n in enumerate(sub):
            s = np.arange(0.0, dist[n], 5.0)
            pts = np.stack(galactic_to_xyz(l_deg[n], b_deg[n], s), axis=1)
            baseline[i] = np.nansum(rgi(pts)) * 5.0
        base_times.append(time.perf_counter() - t0)
    base_s = min(base_times)
    base_scaled = base_s / n_base * n_targets
    print(f"baseline_targets_timed: {n_base}")
    print(f"baseline_s_per_target: {base_s / n_base * 1e3:.2f} ms")
    print(f"baseline_scaled_s: {base_scaled:.0f}")
    print(f"speedup: {base_scaled / ours_s:.0f}x")

    diff = np.abs(a0[sub] - baseline)
    worst = int(np.argmax(diff))
    print(f"max_abs_diff_vs_baseline_mag: {diff[worst]:.4f} (A0 = {a0[sub][worst]:.3f} at {dist[sub][worst]:.0f} pc)")
    print(f"median_abs_diff_vs_baseline_mag: {np.median(diff):.5f}")

    # which is right: a 0.1 pc midpoint sum of the same trilinear field on a few of the subset
    check = sub[np.argsort(diff)[-5:]]
    ref = []
    for n in check:
        m = int(np.ceil(dist[n] / 0.1))
        s = (np.arange(m) + 0.5) * dist[n] / m
        pos = cube.to_index(*galactic_to_xyz(l_deg[n], b_deg[n], s))
        ref.append(sample_points(data, *pos).sum() * dist[n] / m)
    ref = np.asarray(ref)
    base_check = baseline[np.argsort(diff)[-5:]]
    print(f"exact_vs_fine_midpoint_max_abs_mag: {np.max(np.abs(a0[check] - ref)):.2e}")
    print(f"baseline_vs_fine_midpoint_max_abs_mag: {np.max(np.abs(base_check - ref)):.2e}")


if __name__ == "__main__":
    main()
