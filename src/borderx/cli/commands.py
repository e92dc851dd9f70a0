"""The list of command modules, in the order ``borderx --help`` shows them."""

from __future__ import annotations

from types import ModuleType

from borderx.cli import (
    admin_cmd,
    config_cmd,
    demo_cmd,
    directory_cmd,
    doctor_cmd,
    dsse_cmd,
    import_cmd,
    keys_cmd,
    lookup_cmd,
    pki_cmd,
    publish_cmd,
    screen_cmd,
    search_cmd,
    serve_cmd,
    status_cmd,
    store_cmd,
)

MODULES: list[ModuleType] = [
    pki_cmd,
    config_cmd,
    keys_cmd,
    serve_cmd,
    demo_cmd,
    status_cmd,
    publish_cmd,
    import_cmd,
    screen_cmd,
    search_cmd,
    lookup_cmd,
    admin_cmd,
    doctor_cmd,
    store_cmd,
    dsse_cmd,
    directory_cmd,
]
