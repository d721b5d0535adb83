"""A real HTTP server on 127.0.0.1 that answers like Overpass and Nominatim, for tests.

It serves recorded answers (JSON made from a real OSM extract) and can be told to fail
with a status code, to stall past the client's timeout, or to know no place at all.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote_plus, urlparse

STATUS_TEXT = (
    "Connected as: 2130706433\n"
    "Current time: 2026-11-28T00:00:00Z\n"
    "Announced endpoint: none\n"
    "Rate limit: 2\n"
    "2 slots available now.\n"
    "Currently running queries (pid, space limit, time limit, start time):\n"
)


class FakeOSMServer:
    """Overpass (/api/status, /api/interpreter) and Nominatim (/search) on one port."""

    def __init__(
        self,
        overpass_answer: dict,
        place_bbox: tuple[float, float, float, float],
        place_name: str,
        features_answer: dict | None = None,
    ):
        self.overpass_answer = overpass_answer
        self.features_answer = features_answer or {"version": 0.6, "elements": []}
        self.place_bbox = place_bbox
        self.place_name = place_name
        self.mode = "ok"  # ok | 429 | 503 | stall | empty
        self.stall_s = 5.0
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def _send(self, code: int, body: bytes, ctype: str = "application/json"):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                server.requests.append(f"GET {self.path}")
                url = urlparse(self.path)
                if url.path.endswith("/status"):
                    self._send(200, STATUS_TEXT.encode(), "text/plain")
                elif url.path.endswith("/search"):
                    q = parse_qs(url.query).get("q", [""])[0]
                    self._send(200, json.dumps(server.nominatim(q)).encode())
                else:
                    self._send(404, b"{}")

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = unquote_plus(self.rfile.read(length).decode())
                server.requests.append(f"POST {self.path}")
                # a network query asks for highway ways; anything else is a features query
                answer = server.overpass_answer if 'way["highway"]' in body else server.features_answer
                if server.mode in {"429", "503"}:
                    self._send(int(server.mode), b"<html>busy</html>", "text/html")
                elif server.mode == "stall":
                    time.sleep(server.stall_s)
                    self._send(200, json.dumps(answer).encode())
                elif server.mode == "empty":
                    self._send(200, json.dumps({"version": 0.6, "elements": []}).encode())
                else:
                    self._send(200, json.dumps(answer).encode())

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def nominatim(self, query: str) -> list[dict]:
        if query != self.place_name:
            return []
        w, s, e, n = self.place_bbox
        ring = [[w, s], [e, s], [e, n], [w, n], [w, s]]
        return [
            {
                "place_id": 1,
                "osm_type": "relation",
                "osm_id": 1,
                "boundingbox": [str(s), str(n), str(w), str(e)],
                "lat": str((s + n) / 2),
                "lon": str((w + e) / 2),
                "display_name": self.place_name,
                "class": "boundary",
                "type": "administrative",
                "place_rank": 16,
                "importance": 0.5,
                "geojson": {"type": "Polygon", "coordinates": [ring]},
            }
        ]

    def __enter__(self) -> FakeOSMServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
