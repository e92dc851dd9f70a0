"""Private key files must not be readable by other users.

A gateway's TLS key lets its holder be the gateway; its signing key lets its holder speak
for the agency. ``serve`` refuses to start (and a reload refuses to pick up) a key file
that other users can read, the way OpenSSH refuses an exposed identity file.

The rule follows PostgreSQL's for its server key: a key owned by the user running the
gateway must grant nothing to group or others (0600 or less); a key owned by root may
also be read by its group (0640 or less), which is how deployments hand a key to a
service account (systemd ``root:borderx 0640``, a Kubernetes Secret with ``fsGroup`` and
``defaultMode: 0440``). World access is refused either way.
"""

from __future__ import annotations

import stat
from pathlib import Path

from borderx.errors import ConfigError


def check_private_key_file(path: Path, what: str) -> None:
    """Raise ConfigError when the key file at ``path`` is readable (or writable) by others."""
    try:
        st = path.stat()
    except OSError as exc:
        raise ConfigError(f"{what} {path}: cannot read it ({exc.strerror})") from exc
    mode = stat.S_IMODE(st.st_mode)
    # a symlink is followed: the mode that matters is the one of the file read
    allowed = 0o740 if st.st_uid == 0 else 0o700
    exposed = mode & ~allowed
    if exposed:
        who = "others" if exposed & 0o007 else "its group"
        raise ConfigError(
            f"{what} {path}: mode {mode:04o} lets {who} read or change this private key; "
            f"run chmod 600 {path} (or 640 with owner root and the gateway's group)"
        )
