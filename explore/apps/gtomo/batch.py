"""The extinction of a whole target table: what the batch run and ``explore gtomo extinction`` share."""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Sequence

import astropy.units as u
import numpy as np
from astropy.table import Table

from .cube import DustCube
from .integrate import ErrorKind, Flag, integrate_extinction
from .law import ExtinctionLaw, _band_key
from .targets import targets_from_table

__all__ = ["band_column", "extinction_table", "flag_counts"]


def band_column(band: str) -> str:
    """Output column name of a converted extinction: ``"E(B-V)" -> "ebv"``, ``"V" -> "a_v"``, ``"Ks" -> "a_ks"``."""
    if band.strip().lower() in {"e(b-v)", "ebv", "e_bv"}:
        return "ebv"
    return "a_" + _band_key(band).lower()


def extinction_table(
    cube: DustCube | str | pathlib.Path,
    table: Table,
    *,
    error_cube: DustCube | str | pathlib.Path | None = None,
    error_kind: ErrorKind = "auto",
    beyond: str = "nan",
    law: str = "G23",
    rv: float = 3.1,
    bands: Sequence[str] = (),
    progress: Callable[[int, int], None] | None = None,
) -> Table:
    """The input table plus ``a0`` (mag), ``a0_err`` (mag, with an error cube), converted extinctions
    (one column per band, see :func:`band_column`) and ``flag`` (:class:`~.integrate.Flag` bits).

    Rows that cannot be computed keep their input values, get NaN and a flag; no row is dropped.

    Raises
    ------
    TargetTableError
        If the table lacks the needed columns.
    ValueError
        If a column it would add already exists, or a band or law is unknown.
    """
    law_obj = ExtinctionLaw(law, rv)
    ratios = {band_column(band): law_obj.ratio(band) for band in bands}
    targets = targets_from_table(table)
    added = ["a0", "a0_err", "flag", *ratios]
    clash = [name for name in added if name in table.colnames]
    if clash:
        raise ValueError(f"the target table already has column(s) {', '.join(clash)}, which G-Tomo writes; rename them")
    result = integrate_extinction(
        cube, targets.l, targets.b, targets.distance,
        error_cube=error_cube, error_kind=error_kind, beyond=beyond,  # type: ignore[arg-type]
        progress=progress,
    )
    out = table.copy()
    out["a0"] = result.a0.to(u.mag)
    if result.a0_err is not None:
        out["a0_err"] = result.a0_err.to(u.mag)
    for name, ratio in ratios.items():
        out[name] = result.a0.to(u.mag) * ratio
    flag = result.flag | targets.flag
    out["flag"] = flag.astype(np.int16)
    out.meta["gtomo_law"] = f"{law} R(V)={rv:g}"
    out.meta["gtomo_flags"] = "; ".join(f"{int(f)}={f.name}" for f in Flag)
    return out


def flag_counts(flag: np.ndarray) -> dict[str, int]:
    """How many rows carry each flag bit, plus ``"clean"`` for rows with none."""
    counts = {"clean": int((flag == 0).sum())}
    for f in Flag:
        counts[str(f.name)] = int(((flag & int(f)) != 0).sum())
    return counts
