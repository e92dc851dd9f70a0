"""The TAXII side of ``make bench-peers``: a poster and a consumer, run by the peers' own venv.

This file imports only the standard library and ``taxii2client`` (pinned in
``requirements.txt`` beside it), because it runs under ``.venv-peers/bin/python``, never
under the project's environment. Each mode prints JSON lines with wall-clock times
(``time.time()``, one machine) for the orchestrator (``__main__``) to subtract:

- ``post URL USER PASSWORD OBJECTS BATCH``: posts the STIX objects of the OBJECTS file (a
  JSON list) in envelopes of BATCH, one after the other, as a producer would; prints
  ``{"first_post": t, "posted": t, "objects": n}``.
- ``consume URL USER PASSWORD N TIMEOUT``: prints ``{"ready": t}`` once it reached the
  collection, then polls it until it holds N distinct objects: each pass pages through
  Get Objects (``as_pages``, the server's largest page) and keeps the ids it has not seen
  (``consume`` says why not ``added_after``); prints ``{"pass": k, "held": n, "first_page":
  t}`` after each pass and ``{"first_page": t, "done": t, "held": n, "passes": k}`` at the
  end (``done`` is null if TIMEOUT seconds passed first; a pass under way is not cut
  short, so the orchestrator keeps its own deadline too).
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from taxii2client.v21 import Collection, as_pages

PAGE = 1000  # per request; the server's max_page_size caps it (the orchestrator sets 1,000)
POLL_PAUSE = 0.5  # seconds between passes that found nothing new


def emit(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


def post(url: str, user: str, password: str, objects_file: str, batch: int) -> None:
    with open(objects_file, encoding="utf-8") as f:
        objects = json.load(f)
    collection = Collection(url, user=user, password=password)
    first_post = time.time()
    for start in range(0, len(objects), batch):
        envelope = {"objects": objects[start : start + batch]}
        status = collection.add_objects(envelope, wait_for_completion=False)
        if status.failure_count:
            raise SystemExit(f"medallion refused {status.failure_count} objects: {status.failures[:3]}")
    emit({"first_post": first_post, "posted": time.time(), "objects": len(objects)})


def consume(url: str, user: str, password: str, n: int, timeout: float) -> None:
    """Poll with full passes, keeping the ids not seen before.

    Not ``added_after``: taxii2-client hands back the envelope without the
    X-TAXII-Date-Added headers a cursor would come from, and on medallion's memory backend
    that filter is itself quadratic (every object is looked up in the manifest), so an
    incremental pass costs more than a full one at these sizes (measured, one run each:
    17.6 s against 5.8 s until the consumer held 1,000). Full passes are the peer's fastest
    consumer here.
    """
    collection = Collection(url, user=user, password=password)
    assert collection.can_read, "the collection must be readable"
    emit({"ready": time.time()})
    held: set[str] = set()
    first_page: float | None = None
    passes = 0
    deadline = time.monotonic() + timeout
    while len(held) < n and time.monotonic() < deadline:
        passes += 1
        before = len(held)
        for envelope in as_pages(collection.get_objects, per_request=PAGE):
            found = envelope.get("objects", [])
            if found and first_page is None:
                first_page = time.time()
            held.update(obj["id"] for obj in found)
        emit({"pass": passes, "held": len(held), "first_page": first_page})
        if len(held) == before:
            time.sleep(POLL_PAUSE)
    done = time.time() if len(held) >= n else None
    emit({"first_page": first_page, "done": done, "held": len(held), "passes": passes})


def main(argv: list[str]) -> None:
    mode, url, user, password, *rest = argv
    if mode == "post":
        post(url, user, password, rest[0], int(rest[1]))
    elif mode == "consume":
        consume(url, user, password, int(rest[0]), float(rest[1]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
