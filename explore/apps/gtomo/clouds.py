"""Dust clouds: HDBSCAN clusters of the voxels denser than a threshold.

The voxels above ``threshold`` (A0 density, mag/pc) are clustered on their positions with HDBSCAN
(Campello, Moulavi & Sander 2013; scikit-learn's implementation), which finds clusters of any shape and
leaves isolated dense voxels as noise. For each cloud: its voxel count, a mass proxy (the sum of density x
voxel volume, in mag pc^2: proportional to the dust mass for a fixed extinction per unit dust column), the
density-weighted centroid, its distance and direction from the Sun, its extent along x, y and z, the
peak density, and the convex hull of its voxel centres (volume and vertices).
"""

from __future__ import annotations

import pathlib
from typing import Any

import astropy.units as u
import numpy as np
from astropy.table import Table
from scipy.spatial import ConvexHull, QhullError
from sklearn.cluster import HDBSCAN

from .cube import DustCube, xyz_to_galactic
from .integrate import _open

__all__ = ["CloudFinder", "find_clouds"]


class CloudFinder:
    """Find dust clouds in a density cube (scikit-learn style: parameters in the constructor,
    ``fit(cube)`` learns, results end in ``_``).

    Parameters
    ----------
    threshold : float or Quantity
        Density above which a voxel belongs to a cloud (mag/pc if a plain number).
    min_cluster_size : int
        Smallest cloud, in voxels.
    min_samples : int, optional
        HDBSCAN's density smoothing (default: ``min_cluster_size``).
    region : sequence of 3 (min, max) pairs, optional
        Restrict the search to this box (pc, heliocentric x, y, z).
    max_voxels : int
        Refuse to cluster more voxels than this (raise the threshold or narrow the region instead).
    allow_single_cluster : bool
        Let HDBSCAN return one cloud when the dense voxels form one (otherwise it splits a lone cloud
        into parts, which is what a search around one cloud must avoid).

    Attributes
    ----------
    points_ : numpy.ndarray
        (n, 3) positions (pc) of the voxels above the threshold.
    density_ : numpy.ndarray
        Their density (mag/pc).
    labels_ : numpy.ndarray
        Cloud index of each voxel (-1: noise).
    clouds_ : astropy.table.Table
        One row per cloud, sorted by decreasing mass proxy (``id`` matches ``labels_``).
    hulls_ : dict
        Cloud id -> (m, 3) hull vertices in pc (None when the cloud is flat, e.g. one voxel thick).

    Examples
    --------
    >>> finder = CloudFinder(threshold=0.005, min_cluster_size=10).fit(cube)   # doctest: +SKIP
    >>> finder.clouds_["distance", "l", "b", "mass_proxy"]
    """

    def __init__(
        self,
        threshold: float | u.Quantity,
        *,
        min_cluster_size: int = 10,
        min_samples: int | None = None,
        region: Any = None,
        max_voxels: int = 200_000,
        allow_single_cluster: bool = True,
    ) -> None:
        self.threshold = threshold
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.region = region
        self.max_voxels = max_voxels
        self.allow_single_cluster = allow_single_cluster

    def fit(self, cube: DustCube | str | pathlib.Path) -> CloudFinder:
        """Cluster the dense voxels of ``cube``."""
        dens = _open(cube)
        thr = float(u.Quantity(self.threshold, u.mag / u.pc).value)
        if not np.isfinite(thr):
            raise ValueError(f"the density threshold must be a number (mag/pc); got {self.threshold!r}")
        if self.min_cluster_size < 2:
            raise ValueError(f"min_cluster_size must be at least 2 voxels; got {self.min_cluster_size}")
        slices = self._region_slices(dens)
        block = dens.subcube(*slices)
        with np.errstate(invalid="ignore"):
            idx = np.argwhere(block > thr)
        if len(idx) > self.max_voxels:
            raise ValueError(
                f"{len(idx):,} voxels lie above {thr:g} mag/pc (limit {self.max_voxels:,}); raise the threshold "
                "or restrict the region"
            )
        offsets = np.array([s.start for s in slices])
        sun = np.asarray(dens.sun_index)
        step = dens.step_pc
        self.points_ = (idx + offsets - sun) * step
        self.density_ = block[tuple(idx.T)].astype(float) if len(idx) else np.empty(0)
        if len(idx) >= max(self.min_cluster_size, 2):
            model = HDBSCAN(
                min_cluster_size=self.min_cluster_size, min_samples=self.min_samples,
                allow_single_cluster=self.allow_single_cluster, copy=True,
            )
            self.labels_ = model.fit_predict(self.points_)
        else:
            self.labels_ = np.full(len(idx), -1)
        self._summarise(step)
        return self

    def _region_slices(self, dens: DustCube) -> tuple[slice, slice, slice]:
        if self.region is None:
            return (slice(0, dens.shape[0]), slice(0, dens.shape[1]), slice(0, dens.shape[2]))
        box = np.asarray(u.Quantity(self.region, u.pc).value, dtype=float)
        if box.shape != (3, 2) or np.any(box[:, 1] < box[:, 0]):
            raise ValueError(f"region must be three (min, max) pairs in pc for x, y, z; got {self.region!r}")
        out = []
        for (lo, hi), n, s in zip(box, dens.shape, dens.sun_index, strict=True):
            i0 = max(int(np.ceil(lo / dens.step_pc + s - 1e-9)), 0)
            i1 = min(int(np.floor(hi / dens.step_pc + s + 1e-9)), n - 1)
            if i1 < i0:
                raise ValueError(f"region {self.region!r} does not overlap the cube {dens!r}")
            out.append(slice(i0, i1 + 1))
        return tuple(out)  # type: ignore[return-value]

    def _summarise(self, step: float) -> None:
        rows = []
        self.hulls_: dict[int, np.ndarray | None] = {}
        labels = self.labels_
        vol = step**3
        for label in sorted(set(labels.tolist()) - {-1}):
            member = labels == label
            pts = self.points_[member]
            rho = self.density_[member]
            weight = rho / rho.sum() if rho.sum() > 0 else np.full(len(rho), 1 / len(rho))
            cx, cy, cz = weight @ pts
            lon, lat, dist = xyz_to_galactic(cx, cy, cz)
            hull_volume = np.nan
            vertices = None
            try:
                hull = ConvexHull(pts)
                hull_volume = float(hull.volume)
                vertices = pts[hull.vertices]
            except (QhullError, ValueError):
                pass  # flat or tiny cloud: no 3D hull
            rows.append({
                "label": int(label),
                "n_voxels": int(member.sum()),
                "mass_proxy": float(rho.sum() * vol),
                "peak_density": float(rho.max()),
                "x": float(cx), "y": float(cy), "z": float(cz),
                "distance": float(dist), "l": float(lon), "b": float(lat),
                "extent_x": float(np.ptp(pts[:, 0]) + step),
                "extent_y": float(np.ptp(pts[:, 1]) + step),
                "extent_z": float(np.ptp(pts[:, 2]) + step),
                "hull_volume": hull_volume,
                "_vertices": vertices,
            })
        rows.sort(key=lambda r: -r["mass_proxy"])
        relabel = {r["label"]: i for i, r in enumerate(rows)}
        self.labels_ = np.array([relabel.get(int(v), -1) for v in labels], dtype=int)
        names = ["n_voxels", "mass_proxy", "peak_density", "x", "y", "z", "distance", "l", "b",
                 "extent_x", "extent_y", "extent_z", "hull_volume"]
        units = {"mass_proxy": u.mag * u.pc**2, "peak_density": u.mag / u.pc, "x": u.pc, "y": u.pc, "z": u.pc,
                 "distance": u.pc, "l": u.deg, "b": u.deg, "extent_x": u.pc, "extent_y": u.pc,
                 "extent_z": u.pc, "hull_volume": u.pc**3}
        table = Table()
        table["id"] = np.arange(len(rows), dtype=int)
        for name in names:
            table[name] = np.array([r[name] for r in rows], dtype=int if name == "n_voxels" else float)
            if name in units:
                table[name].unit = units[name]
        self.clouds_ = table
        for i, r in enumerate(rows):
            self.hulls_[i] = r["_vertices"]


def find_clouds(
    cube: DustCube | str | pathlib.Path, threshold: float | u.Quantity, **kwargs: Any
) -> Table:
    """The clouds table of :class:`CloudFinder` in one call."""
    return CloudFinder(threshold, **kwargs).fit(cube).clouds_
