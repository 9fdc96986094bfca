"""
Archive files: a partition's older stream entries, one gzip'd file per
partition and UTC day, each a sequence of msgpack ``[entry id, envelope]``
pairs, listed with its SHA-256 in ``manifest.json``.

A file is read only after its digest matches the manifest, so a damaged
archive is refused rather than folded.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack

from events.store import entry_order

MANIFEST = "manifest.json"
FORMAT = 1
CHUNK = 1 << 20


class ArchiveError(Exception):
    """
    An archive is missing, damaged or does not match the streams.
    """


@dataclass(frozen=True, slots=True)
class ArchivedFile:
    """
    One manifest entry: which partition and day, which ids, and the digest.
    """

    name: str
    tag: str
    period: str
    first: str
    last: str
    count: int
    sha256: str


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as raw:
        while chunk := raw.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def read_records(path: Path) -> Iterator[tuple[str, bytes]]:
    """
    The ``(entry id, envelope)`` pairs of one archive file, in order.
    """
    with gzip.open(path, "rb") as raw:
        yield from msgpack.Unpacker(raw, raw=False, use_list=False)


class Archive:
    """
    An archive folder: its manifest, checked files and records per partition.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files: dict[str, ArchivedFile] = {}
        path = folder / MANIFEST
        if not path.exists():
            return
        try:
            data: dict[str, Any] = json.loads(path.read_text())
            for name, entry in data["files"].items():
                self.files[name] = ArchivedFile(name=name, **entry)
        except (ValueError, KeyError, TypeError) as error:
            raise ArchiveError(f"The archive manifest '{path}' is unreadable.") from (
                error
            )

    def of(self, tag: str) -> list[ArchivedFile]:
        found = [f for f in self.files.values() if f.tag == tag]
        return sorted(found, key=lambda f: entry_order(f.first))

    def last_id(self, tag: str) -> str | None:
        found = self.of(tag)
        return found[-1].last if found else None

    def check(self, entry: ArchivedFile) -> Path:
        """
        The file's path once its SHA-256 matches the manifest.
        """
        path = self.folder / entry.name
        if not path.exists():
            raise ArchiveError(f"The archive file '{path}' is missing.")
        if file_digest(path) != entry.sha256:
            raise ArchiveError(
                f"The archive file '{path}' does not match its SHA-256 in the "
                "manifest; it is damaged."
            )
        return path

    def check_all(self) -> None:
        for entry in self.files.values():
            self.check(entry)

    def pages(
        self, tag: str, after: str = "-", count: int = 10_000
    ) -> Iterator[list[tuple[str, bytes]]]:
        """
        A partition's archived records after ``after``, checked, page by page.
        """
        floor = (-1, -1) if after in ("-", "0", "0-0") else entry_order(after)
        page: list[tuple[str, bytes]] = []
        for entry in self.of(tag):
            if entry_order(entry.last) <= floor:
                continue
            for entry_id, envelope in read_records(self.check(entry)):
                if entry_order(entry_id) > floor:
                    page.append((entry_id, envelope))
                if len(page) >= count:
                    yield page
                    page = []
        if page:
            yield page

    def record(self, entry: ArchivedFile) -> None:
        """
        List a new or rewritten file in the manifest, atomically.
        """
        self.files[entry.name] = entry
        data = {
            "format": FORMAT,
            "files": {
                name: {k: v for k, v in vars_of(f).items() if k != "name"}
                for name, f in sorted(self.files.items())
            },
        }
        write_atomically(self.folder / MANIFEST, json.dumps(data, indent=1).encode())


def vars_of(entry: ArchivedFile) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in entry.__slots__}


def write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)
