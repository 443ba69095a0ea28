"""A local stand-in for ODE REST: http.server in a thread, answering from real and written answers.

Imported by the ODE tests (planetary and platform): ``with ode_server(routes) as url: ...``.
"""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Route = Callable[[dict[str, str]], tuple[int, bytes]]


@contextlib.contextmanager
def ode_server(answer: Route) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """Serve ``answer(params) -> (status, body)`` on 127.0.0.1; yields (url, requests seen)."""
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
            seen.append(params)
            status, body = answer(params)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/live2", seen
    finally:
        server.shutdown()
        server.server_close()


def moon_product(k: int, lon_c: float, lat_c: float, incidence: float, **extra: str) -> dict[str, Any]:
    """An LROC NAC product written in exactly ODE's JSON layout (every value a string)."""
    w, e, s, n = lon_c - 0.1, lon_c + 0.1, lat_c - 0.4, lat_c + 0.4
    ring = f"{e:.3f} {s:.3f}, {w:.3f} {s:.3f}, {w:.3f} {n:.3f}, {e:.3f} {n:.3f}, {e:.3f} {s:.3f}"
    pid = f"M{104000000 + k:09d}LE"
    product = {
        "pdsid": pid, "ihid": "LRO", "iid": "LROC", "pt": "EDRNAC", "Target_name": "MOON",
        "Data_Set_Id": "LRO-L-LROC-2-EDR-V1.0",
        "Center_latitude": f"{lat_c:.3f}", "Center_longitude": f"{lon_c % 360:.3f}",
        "Emission_angle": "1.5", "Incidence_angle": f"{incidence:.2f}", "Phase_angle": f"{incidence + 1:.2f}",
        "Map_scale": "0.5",
        "Footprint_C0_geometry": f"POLYGON (({ring}))",
        "Footprint_NP_geometry": "MULTIPOLYGON EMPTY", "Footprint_SP_geometry": "MULTIPOLYGON EMPTY",
        "UTC_start_time": f"2010-01-{1 + k % 28:02d}T10:00:00.000", "UTC_stop_time": f"2010-01-{1 + k % 28:02d}T10:00:20.000",
        "LabelURL": f"https://pds.lroc.asu.edu/data/LRO-L-LROC-2-EDR-V1.0/{pid}.LBL",
        "Product_files": {"Product_file": {"FileName": f"{pid}.IMG", "KBytes": "261452", "Type": "Product",
                                           "URL": f"https://pds.lroc.asu.edu/data/{pid}.IMG", "Description": "PRODUCT DATA FILE"}},
    }
    product.update(extra)
    return product


def answer(products: list[dict[str, Any]] | dict[str, Any]) -> bytes:
    n = 1 if isinstance(products, dict) else len(products)
    return json.dumps({"ODEResults": {"Status": "Success", "Count": str(n),
                                      "Products": {"Product": products}}}).encode()


IIPT = {"ODEResults": {"Status": "Success", "IIPTSets": {"IIPTSet": [
    {"ODEMetaDB": "Moon", "IHID": "LRO", "IHName": "Lunar Reconnaissance Orbiter", "IID": "LROC",
     "IName": "Lunar Reconnaissance Orbiter Camera", "PT": "EDRNAC", "PTName": "Experiment Data Record Narrow Angle Camera",
     "DataSetId": "LRO-L-LROC-2-EDR-V1.0", "NumberProducts": "2171245", "ValidFootprints": "T"},
    {"ODEMetaDB": "Moon", "IHID": "CLEM", "IHName": "Clementine", "IID": "LWIR", "IName": "Long Wave Infrared Camera",
     "PT": "EDR", "PTName": "Experiment Data Record", "DataSetId": "CLEM1-L-LWIR-2-EDR-V1.0",
     "NumberProducts": "220000", "ValidFootprints": "F"},
]}}}
