"""S-Disco speed: weirdness scores, the random-forest score and selection spectra.

Run ``python benchmarks/sdisco.py`` (1e5 spectra of 800 pixels, several minutes on 2 cores) or
``--quick`` (2e4). Prints ``name: value`` lines.

* Scores 2-4 (total, spectral-NN, spatial-NN; k = 250) on spectra of the demo survey binned to 800
  pixels, against scikit-learn on the same data (``pairwise_distances_chunked``, ``NearestNeighbors``),
  and the achieved GFLOP/s of the exact distance pass against a NumPy float32 matrix-product peak
  measured in the same run: in wall-clock time, and per CPU second (which other jobs on the machine
  do not change much). scikit-learn's all-pairs times are measured on a block of query rows against
  all N spectra and scaled linearly to N queries (the work is linear in the number of queries);
  the block size is printed.
* The random-forest score on 1e4 spectra against the straightforward all-pairs implementation (the
  N x N similarity matrix, tree by tree): time ratio and peak memory (tracemalloc) of both; then 1e5
  with ours alone.
* Mean / median / 16-84 % spectrum of a 1e5-star selection out of 1e6 spectra.
"""

from __future__ import annotations

import argparse
import gc
import os
import time
import tracemalloc

import numpy as np


def line(name: str, value: object, unit: str = "") -> None:
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    print(f"{name}: {text}{(' ' + unit) if unit else ''}", flush=True)


def load() -> None:
    """The machine's load average (1, 5, 15 min): other jobs share the cores."""
    line("load_average_1_5_15_min", " ".join(f"{x:.2f}" for x in os.getloadavg()))


def timed(fn, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


def matmul_peak(p: int = 800, repeat: int = 5) -> tuple[float, float]:
    """Float32 GFLOP/s of ``A @ B.T`` with the inner dimension of the spectra, two ways.

    * one 4096 x 4096 product on all BLAS threads: best wall-clock rate of ``repeat``;
    * 768 x 768 products on one BLAS thread (how the distance pass runs them, one per core), per second
      of CPU time: what one core delivers while it runs, whatever other jobs take of the machine.
    """
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    a = rng.standard_normal((4096, p), dtype=np.float32)
    b = rng.standard_normal((4096, p), dtype=np.float32)
    a @ b.T
    best = np.inf
    for _ in range(repeat):
        _, dt = timed(np.matmul, a, b.T)
        best = min(best, dt)
    all_threads = 2.0 * 4096 * 4096 * p / best / 1e9
    m, reps = 768, 20
    out = np.empty((m, m), np.float32)
    best = np.inf
    with threadpool_limits(1, user_api="blas"):
        for _ in range(repeat + 1):
            cpu = time.process_time()
            for r in range(reps):
                np.matmul(a[(r * m) % 3072:][:m], b[(r * 2 * m) % 3072:][:m].T, out=out)
            best = min(best, time.process_time() - cpu)
    per_core = 2.0 * m * m * p * reps / best / 1e9
    return all_threads, per_core


def peak_memory(fn, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
    gc.collect()
    tracemalloc.start()
    out, dt = timed(fn, *args, **kwargs)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return out, dt, peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2e4 spectra, 2e5 for the selection")
    parser.add_argument("--part", action="append", choices=("distances", "forest", "selection"),
                        help="run only these parts (repeat); default all")
    args = parser.parse_args()
    n = 20_000 if args.quick else 100_000
    n_rf = 4_000 if args.quick else 10_000
    n_big = 200_000 if args.quick else 1_000_000
    k = 250

    from explore.apps.sdisco.demo import make_demo_survey
    from explore.apps.sdisco.features import SpectralFeatures

    line("mode", "quick" if args.quick else "full")
    load()
    survey, dt = timed(make_demo_survey, n, bin_factor=9)
    line("demo_survey_stars", len(survey))
    line("demo_survey_pixels", survey.n_pixels)
    line("demo_survey_seconds", dt, "s")
    X = SpectralFeatures(space="spectra", max_bad_fraction=1.0).fit_transform(survey)
    keep = np.isfinite(X).all(axis=1)
    X = np.ascontiguousarray(X[keep])
    table = survey.table[keep]
    line("features", f"{X.shape[0]} x {X.shape[1]} (normalised flux, masked pixels filled)")

    parts = set(args.part or ("distances", "forest", "selection"))
    if "distances" in parts:
        run_distances(X, table, k, args.quick)
        load()
    if "forest" in parts:
        run_forest(survey, keep, n_rf)
        load()
    if "selection" in parts:
        run_selection(X, n_big)
        load()


def run_distances(X: np.ndarray, table, k: int, quick: bool) -> None:  # noqa: ANN001
    from sklearn.metrics import pairwise_distances_chunked
    from sklearn.neighbors import NearestNeighbors

    from explore.apps.sdisco.weirdness import SpatialWeirdness, TotalWeirdness, distance_scores

    n, p = X.shape
    all_threads, per_core = matmul_peak(p)
    cores = len(os.sched_getaffinity(0))
    peak = max(all_threads, cores * per_core)
    line("numpy_matmul_gflops_one_product_all_threads", all_threads, "GFLOP/s (best wall-clock rate)")
    line("numpy_matmul_gflops_per_core_cpu_second", per_core, "GFLOP/s (one BLAS thread, per CPU second)")
    line("numpy_matmul_peak_gflops", peak, f"GFLOP/s (the better of the first and {cores} cores x the second)")

    # warm the compiled kernels on a small piece
    block = 768
    distance_scores(X[:3000], k=k, block_size=block)
    cpu = time.process_time()
    out, t_ours = timed(distance_scores, X, k=k, block_size=block)
    cpu = time.process_time() - cpu
    flops = 2.0 * p * n * (n + block) / 2  # the upper triangle of blocks, diagonal blocks whole
    line("ours_total_and_knn_seconds", t_ours, "s")
    line("ours_total_and_knn_cpu_seconds", cpu, "s (all threads; below cores x seconds when other jobs run)")
    line("ours_distance_gflops", flops / t_ours / 1e9, "GFLOP/s")
    line("ours_distance_gflops_per_cpu_second", flops / cpu / 1e9, "GFLOP/s")
    line("ours_distance_fraction_of_peak_per_cpu_second", flops / cpu / 1e9 / per_core)
    line("ours_distance_fraction_of_peak", flops / t_ours / 1e9 / peak)

    m = 2000 if not quick else 1000
    rows = np.arange(m)

    def sk_total() -> np.ndarray:
        return np.concatenate([c.sum(1) / (n - 1) for c in pairwise_distances_chunked(X[rows], X)])

    sk_tot, t = timed(sk_total)
    t_sk_total = t * n / m
    line("sklearn_query_block", m)
    line("sklearn_pairwise_distances_seconds_scaled", t_sk_total, "s")
    nn = NearestNeighbors(n_neighbors=k + 1, algorithm="brute").fit(X)
    (dist, _), t = timed(nn.kneighbors, X[rows])
    t_sk_knn = t * n / m
    line("sklearn_nearestneighbors_seconds_scaled", t_sk_knn, "s")
    line("check_total_max_rel_diff", float(np.max(np.abs(out["total"][rows] - sk_tot) / sk_tot)))
    line("check_knn_max_rel_diff", float(np.max(np.abs(out["knn"][rows] - dist[:, 1:].mean(1)) / out["knn"][rows])))
    line("ratio_total_plus_knn_vs_sklearn", (t_sk_total + t_sk_knn) / t_ours, "x")
    line("ratio_total_vs_sklearn_pairwise", t_sk_total / t_ours, "x (one pass gives both scores)")
    line("ratio_knn_vs_sklearn_nearestneighbors", t_sk_knn / t_ours, "x (one pass gives both scores)")

    est, t_est = timed(TotalWeirdness(method="sample", n_reference=8192, random_state=0).fit, X)
    rel = np.abs(est.scores_ - out["total"]) / out["total"]
    line("ours_total_sampled_8192_seconds", t_est, "s")
    line("ours_total_sampled_median_rel_error", float(np.median(rel)))
    line("ours_total_sampled_within_3_sigma", float(np.mean(np.abs(est.scores_ - out["total"]) < 3 * est.scores_error_)))

    pos = np.column_stack([np.asarray(table[c], float) for c in ("x", "y", "z")])
    has = np.isfinite(pos).all(axis=1)
    Xs, ps = np.ascontiguousarray(X[has]), pos[has]
    SpatialWeirdness(k=k).fit(Xs[:3000], ps[:3000])
    sw, t_sp = timed(SpatialWeirdness(k=k).fit, Xs, ps)
    line("ours_spatial_seconds", t_sp, "s")

    def sk_spatial() -> tuple[np.ndarray, float]:
        nbr = NearestNeighbors(n_neighbors=k + 1, algorithm="kd_tree").fit(ps).kneighbors(ps, return_distance=False)
        t0 = time.perf_counter()
        sub = np.arange(min(m * 5, len(ps)))
        vals = np.empty(sub.size)
        for s in range(0, sub.size, 200):
            r = sub[s: s + 200]
            diff = Xs[nbr[r, 1:]] - Xs[r, None, :]
            vals[s: s + r.size] = np.sqrt((diff * diff).sum(-1)).mean(1)
        return vals, (time.perf_counter() - t0) * len(ps) / sub.size

    (vals, t_dist_scaled), t_all = timed(sk_spatial)
    t_sk_sp = t_all - t_dist_scaled * len(vals) / len(ps) + t_dist_scaled
    line("sklearn_spatial_seconds_scaled", t_sk_sp, "s (kd-tree search + NumPy distances, scaled from a block)")
    line("check_spatial_max_rel_diff", float(np.max(np.abs(sw.scores_[: len(vals)] - vals) / vals)))
    line("ratio_spatial_vs_sklearn", t_sk_sp / t_sp, "x")



def run_forest(survey, keep: np.ndarray, n_rf: int) -> None:  # noqa: ANN001
    from explore.apps.sdisco.features import SpectralFeatures
    from explore.apps.sdisco.weirdness import WeirdnessForest, forest_weirdness_all_pairs

    pca = SpectralFeatures(space="pca", n_components=8, random_state=0, max_bad_fraction=1.0).fit_transform(survey)
    F = np.ascontiguousarray(pca[keep])
    small = F[:n_rf]
    model, t_fit = timed(WeirdnessForest(n_trees=200, random_state=0).fit, small)
    line("rf_trees", 200)
    line("rf_features", "8 leading principal components")
    line(f"rf_{n_rf}_ours_fit_and_score_seconds", t_fit, "s")
    refit = WeirdnessForest(n_trees=200, random_state=0)
    _, t_ours_rf, mem_ours = peak_memory(refit.fit, small)
    line(f"rf_{n_rf}_ours_peak_memory_mb", mem_ours, "MB")
    ref, t_ref, mem_ref = peak_memory(forest_weirdness_all_pairs, model, small)
    line(f"rf_{n_rf}_all_pairs_scoring_seconds", t_ref, "s (forest already fitted)")
    line(f"rf_{n_rf}_all_pairs_peak_memory_mb", mem_ref, "MB")
    line(f"rf_{n_rf}_max_abs_diff_vs_all_pairs", float(np.max(np.abs(ref - model.scores_))))
    # scoring alone: ours from the fitted forest, as the reference
    _, t_score = timed(model.score_samples, small)
    line(f"rf_{n_rf}_ours_scoring_seconds", t_score, "s")
    line(f"rf_{n_rf}_ratio_scoring", t_ref / t_score, "x")
    line(f"rf_{n_rf}_ratio_fit_plus_scoring", (t_fit - t_score + t_ref) / t_fit, "x")
    line(f"rf_{n_rf}_ratio_peak_memory", mem_ref / mem_ours, "x")
    big, t_big, mem_big = peak_memory(WeirdnessForest(n_trees=200, random_state=0).fit, F)
    line(f"rf_{len(F)}_ours_seconds", t_big, "s")
    line(f"rf_{len(F)}_ours_peak_memory_mb", mem_big, "MB")
    del big, model



def run_selection(X: np.ndarray, n_big: int) -> None:
    from explore.apps.sdisco.selection import selection_spectrum
    from explore.astro.spectra import Spectra

    n, p = X.shape
    rng = np.random.default_rng(0)
    reps = int(np.ceil(n_big / n))
    flux = np.tile(X[:, :p], (reps, 1))[:n_big]
    ids = np.char.add("s", np.arange(n_big).astype(str))
    big_set = Spectra(np.arange(p) + 15000.0, flux, ids=ids, normalised=True)
    sel = np.sort(rng.choice(n_big, 100_000, replace=False))
    selection_spectrum(big_set, sel[:100])
    stats, t_sel = timed(selection_spectrum, big_set, sel)
    line("selection_set_size", n_big)
    line("selection_size", sel.size)
    line("selection_mean_median_band_seconds", t_sel, "s")
    line("check_selection_median_max_abs_diff", float(np.max(np.abs(stats.median - np.median(flux[sel], axis=0)))))


if __name__ == "__main__":
    main()
