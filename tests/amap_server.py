"""A real HTTP server on 127.0.0.1 that answers like AMap's Web Service, for tests.

It holds a small in-memory POI world and answers ``/v5/place/polygon`` (rectangles given by
two corners, pages of at most 25, nothing past its result cap), ``/v3/geocode/geo`` and
``/v3/config/district`` in AMap's documented JSON format. It checks the key, and can be told
to answer the next requests with an error infocode, to stall, or to send something that is
not JSON.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

INFO = {
    "10000": "OK",
    "10001": "INVALID_USER_KEY",
    "10003": "DAILY_QUERY_OVER_LIMIT",
    "10004": "ACCESS_TOO_FREQUENT",
    "10009": "USERKEY_PLAT_NOMATCH",
    "10019": "CUQPS_HAS_EXCEEDED_THE_LIMIT",
    "10020": "CKQPS_HAS_EXCEEDED_THE_LIMIT",
    "10021": "CQPS_HAS_EXCEEDED_THE_LIMIT",
    "10044": "USER_DAILY_QUERY_OVER_LIMIT",
    "20000": "INVALID_PARAMS",
}


def type_prefix(code: str) -> str:
    """AMap's ``060200`` means every code under ``0602``; ``050000`` every code under ``05``."""
    while len(code) > 2 and code.endswith("00"):
        code = code[:-2]
    return code


def in_rectangle(poi: dict, polygon: str) -> bool:
    (x1, y1), (x2, y2) = (tuple(float(v) for v in p.split(",")) for p in polygon.split("|"))
    lon, lat = (float(v) for v in poi["location"].split(","))
    return min(x1, x2) <= lon <= max(x1, x2) and min(y1, y2) <= lat <= max(y1, y2)


class FakeAmapServer:
    """AMap Web Service on one local port."""

    def __init__(
        self,
        key: str,
        pois: list[dict] | None = None,
        cap: int = 200,
        geocodes: dict[str, dict] | None = None,
        districts: dict[str, list[dict]] | None = None,
    ):
        self.key = key
        self.pois = sorted(pois or [], key=lambda p: p["id"])
        self.cap = cap
        self.geocodes = geocodes or {}
        self.districts = districts or {}
        self.fail_next: deque[str] = deque()  # infocodes to answer with, one per request
        self.mode = "ok"  # ok | stall | notjson | 503
        self.stall_s = 3.0
        self.requests: list[tuple[str, dict]] = []  # (path, params without the key)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code: int, body: bytes, ctype: str = "application/json"):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                url = urlparse(self.path)
                params = {k: v[0] for k, v in parse_qs(url.query).items()}
                key = params.pop("key", None)
                server.requests.append((url.path, params))
                if server.mode == "stall":
                    time.sleep(server.stall_s)
                if server.mode == "notjson":
                    self._send(200, b"<html>portal login</html>", "text/html")
                    return
                if server.mode == "503":
                    self._send(503, b"busy", "text/plain")
                    return
                self._send(200, json.dumps(server.answer(url.path, params, key), ensure_ascii=False).encode())

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def count(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p == path)

    @staticmethod
    def status(infocode: str) -> dict:
        return {"status": "1" if infocode == "10000" else "0", "info": INFO[infocode], "infocode": infocode}

    def answer(self, path: str, params: dict, key: str | None) -> dict:
        if self.fail_next:
            return self.status(self.fail_next.popleft())
        if key != self.key:
            return self.status("10001")
        if path == "/v5/place/polygon":
            return self.polygon(params)
        if path == "/v3/geocode/geo":
            return self.geocode(params)
        if path == "/v3/config/district":
            found = self.districts.get(params.get("keywords", ""), [])
            return {**self.status("10000"), "count": str(len(found)), "districts": found}
        return self.status("20000")

    def polygon(self, params: dict) -> dict:
        size = int(params.get("page_size", 10))
        page = int(params.get("page_num", 1))
        if size > 25 or page < 1 or page > 100 or "polygon" not in params:
            return self.status("20000")
        prefixes = [type_prefix(c) for c in params.get("types", "").split("|") if c]
        matched = [
            p
            for p in self.pois
            if in_rectangle(p, params["polygon"])
            and (not prefixes or any(p["typecode"].startswith(x) for x in prefixes))
        ][: self.cap]
        chunk = matched[(page - 1) * size : page * size]
        # v5 answers 'count' as the number of POIs on this page
        return {**self.status("10000"), "count": str(len(chunk)), "pois": chunk}

    def geocode(self, params: dict) -> dict:
        hit = self.geocodes.get(params.get("address", ""))
        if hit is None:
            return {**self.status("10000"), "count": "0", "geocodes": []}
        return {**self.status("10000"), "count": "1", "geocodes": [hit]}

    def __enter__(self) -> FakeAmapServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
