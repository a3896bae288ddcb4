"""Files under RIGHTSFLOW_HOME are for the account that runs rightsflow alone.

The home holds plain personal data (the demo service stores ``stores/*.db``), the register,
logs, keys and the S3 and Temporal data: files 0600, folders 0700. :func:`private_umask` makes
everything a process creates from then on private (the stack, the worker and the CLI call it at
start; child processes inherit it); :func:`make_private` tightens what an earlier release or
another tool left more open (``rightsflow up`` runs it over the home).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077


def private_umask() -> int:
    """Make files this process (and its children) creates 0600 and folders 0700; returns the old umask."""
    return os.umask(PRIVATE_UMASK)


def make_private(root: Path) -> int:
    """chmod every file under ``root`` to drop group and other access (folders 0700, files keep
    their owner bits); symlinks are not followed. Returns how many entries were changed."""
    root = Path(root)
    if not root.exists():
        return 0
    changed = 0
    for path in [root, *root.rglob("*")]:
        try:
            st = path.lstat()
        except OSError:
            continue  # removed while we walked
        if stat.S_ISLNK(st.st_mode):
            continue
        mode = stat.S_IMODE(st.st_mode)
        wanted = 0o700 if stat.S_ISDIR(st.st_mode) else mode & 0o700
        if mode != wanted:
            try:
                os.chmod(path, wanted)
                changed += 1
            except OSError:
                continue  # not ours (a file another account put there): left as it is
    return changed
