"""Content-addressed, write-once evidence store with a hash check on every read (C9)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
from pathlib import Path

from domain.platform.errors import N_, DomainError, NotFound

READ_ONLY = 0o444
_SHA256_NAME = re.compile(r"[0-9a-f]{64}")


class MediaCorrupted(DomainError):
    """A stored file no longer matches its SHA-256 name: an alarm, never a fallback (C9)."""


class MediaStore:
    """Evidence files under `root/ab/cd/<sha256>`, written once and never replaced (C9)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, data: bytes) -> str:
        """Store bytes once under their SHA-256 and return it; never overwrite (C9)."""
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(digest)
        if path.exists():
            self._verified_bytes(digest, path)
            return digest
        path.parent.mkdir(parents=True, exist_ok=True)
        self._write_once(path, data)
        return digest

    def read(self, sha256: str) -> bytes:
        """Bytes of a stored file, refused unless they still match their hash (C9)."""
        path = self._path(_checked_name(sha256))
        if not path.is_file():
            raise NotFound(N_("This photo or file is not in the evidence store."), sha256=sha256)
        return self._verified_bytes(sha256, path)

    async def aput(self, data: bytes) -> str:
        """`put` off the event loop (C9)."""
        return await asyncio.to_thread(self.put, data)

    async def aread(self, sha256: str) -> bytes:
        """`read` off the event loop (C9)."""
        return await asyncio.to_thread(self.read, sha256)

    async def adelete(self, sha256: str) -> None:
        """Remove a file no record refers to any more, such as a purged draft's photo (C10);
        the caller checks that nothing refers to it."""
        path = self._path(_checked_name(sha256))
        await asyncio.to_thread(path.unlink, True)

    def _path(self, digest: str) -> Path:
        """Location of a file named by its (already checked) digest."""
        return self.root / digest[:2] / digest[2:4] / digest

    @staticmethod
    def _verified_bytes(digest: str, path: Path) -> bytes:
        """Read a stored file and raise the corruption alarm on a hash mismatch (C9)."""
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != digest:
            raise MediaCorrupted(
                N_("The stored file %(sha256)s no longer matches its checksum: "
                   "the evidence may have been altered. Report this to IT."),
                sha256=digest,
            )
        return data

    @staticmethod
    def _write_once(path: Path, data: bytes) -> None:
        """Write a read-only temp file, fsync it, then link it in without replacing (C9)."""
        fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as temp:
                temp.write(data)
                temp.flush()
                os.fchmod(temp.fileno(), READ_ONLY)
                os.fsync(temp.fileno())
            # os.link fails on an existing name where os.replace would overwrite it:
            # a concurrent writer of the same bytes wins and its file is checked instead.
            try:
                os.link(temp_name, path)
            except FileExistsError:
                MediaStore._verified_bytes(path.name, path)
            _fsync_directory(path.parent)
        finally:
            os.unlink(temp_name)


def _checked_name(sha256: str) -> str:
    """Refuse anything but 64 lowercase hex characters, so no path leaves the root (C9)."""
    if not _SHA256_NAME.fullmatch(sha256):
        raise DomainError(N_("This is not a valid photo or file reference."))
    return sha256


def _fsync_directory(directory: Path) -> None:
    """Make a new directory entry durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
