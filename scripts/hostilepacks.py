"""Hostile evidence packs, written byte by byte (Python 3 standard library only).

Used by scripts/gen-tck (the small ones, committed under tck/v1/packs/) and by
scripts/chaos.d/packs (the big ones, made at test time in a scratch folder). Each maker
takes the entries of a valid run pack, `[(name, bytes)]`, and returns zip bytes; the zips
are deterministic (fixed times, no randomness), so regenerating gives identical bytes.

Python's zipfile cannot write most of these (names that are not UTF-8, two names for one
local header, entries whose data holds the next entry, sizes that lie), so `Zip` writes
local headers, the central directory and the end records itself, ZIP64 when needed.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib

STORED, DEFLATED = 0, 8
UTF8_FLAG = 0x0800
DOS_TIME, DOS_DATE = 0, 0x21  # 1980-01-01 00:00
REGULAR, SYMLINK, FIFO, CHAR, DIRECTORY = 0o100644, 0o120777, 0o010644, 0o020644, 0o040755


def canonical(document) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pack_id(manifest: dict) -> str:
    body = {k: v for k, v in manifest.items() if k != "signatures"}
    body["pack_id"] = ""
    return sha256(canonical(body))


def deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def deflate_zeros(size: int) -> bytes:
    """Raw deflate of `size` zero bytes, without holding them all (1 GiB → ~1 MiB)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(1 << 20)
    out = []
    left = size
    while left:
        n = min(left, len(chunk))
        out.append(compressor.compress(chunk[:n]))
        left -= n
    out.append(compressor.flush())
    return b"".join(out)


def crc_zeros(size: int) -> int:
    crc, chunk, left = 0, bytes(1 << 20), size
    while left:
        n = min(left, len(chunk))
        crc = zlib.crc32(chunk[:n], crc)
        left -= n
    return crc


class Zip:
    """A zip written record by record. `add` writes a local header and data and queues its
    central record; `alias` queues another central record for an existing local header;
    `finish` writes the central directory and the end records."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.offset = 0
        self.central: list[bytes] = []

    def _write(self, data: bytes) -> None:
        self.parts.append(data)
        self.offset += len(data)

    @staticmethod
    def _name(name) -> bytes:
        return name if isinstance(name, bytes) else name.encode()

    def add(self, name, data: bytes = b"", *, method: int = STORED, mode: int = REGULAR, flags: int | None = None,
            size: int | None = None, crc: int | None = None, raw: bool = False, central_name=None) -> int:
        """Adds an entry; `raw` means `data` is already compressed (give `size` and `crc`).
        `size` alone makes the declared uncompressed size lie. Returns the local header offset."""
        encoded = self._name(name)
        if flags is None:
            flags = UTF8_FLAG if any(b > 0x7F for b in encoded) else 0
        if raw:
            payload = data
        else:
            payload = deflate(data) if method == DEFLATED else data
            crc = zlib.crc32(data) if crc is None else crc
            size = len(data) if size is None else size
        offset = self.offset
        self._local(encoded, method, flags, crc, len(payload), size)
        self._write(payload)
        self.queue(self._name(central_name) if central_name is not None else encoded, offset,
                   method=method, flags=flags, crc=crc, csize=len(payload), size=size, mode=mode)
        return offset

    def _local(self, name: bytes, method: int, flags: int, crc: int, csize: int, size: int) -> None:
        zip64 = csize >= 0xFFFFFFFF or size >= 0xFFFFFFFF
        extra = struct.pack("<HHQQ", 1, 16, size, csize) if zip64 else b""
        self._write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 45 if zip64 else 20, flags, method, DOS_TIME, DOS_DATE, crc,
                                0xFFFFFFFF if zip64 else csize, 0xFFFFFFFF if zip64 else size, len(name), len(extra)) + name + extra)

    def queue(self, name: bytes, offset: int, *, method: int, flags: int, crc: int, csize: int, size: int, mode: int = REGULAR) -> None:
        zip64 = csize >= 0xFFFFFFFF or size >= 0xFFFFFFFF or offset >= 0xFFFFFFFF
        extra = struct.pack("<HHQQQ", 1, 24, size, csize, offset) if zip64 else b""
        cut = (lambda v: 0xFFFFFFFF if zip64 else v)
        self.central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, (3 << 8) | 45, 45 if zip64 else 20, flags, method, DOS_TIME,
                                        DOS_DATE, crc, cut(csize), cut(size), len(name), len(extra), 0, 0, 0, (mode << 16) & 0xFFFFFFFF,
                                        cut(offset)) + name + extra)

    def finish(self) -> bytes:
        start = self.offset
        for record in self.central:
            self._write(record)
        count, size = len(self.central), self.offset - start
        if count >= 0xFFFF or start >= 0xFFFFFFFF:
            end64 = self.offset
            self._write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, size, start))
            self._write(struct.pack("<IIQI", 0x07064B50, 0, end64, 1))
            self._write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0))
        else:
            self._write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, size, start, 0))
        return b"".join(self.parts)


# Helpers over a valid pack's entries.

def manifest_of(entries) -> dict:
    return json.loads(dict(entries)["pack_manifest.json"])


def declare(entries, extra: list[tuple[str, bytes]], kind: str = "blob"):
    """The entries plus `extra`, each declared in the manifest with its SHA-256 (pack_id
    recomputed): so the only thing wrong is what the extra entries are."""
    manifest = manifest_of(entries)
    for name, data in extra:
        manifest["contents"].append({"path": name, "sha256": sha256(data), "type": kind})
    manifest["contents"].sort(key=lambda c: c["path"].encode())
    manifest["pack_id"] = pack_id(manifest)
    result = [(n, canonical(manifest) if n == "pack_manifest.json" else d) for n, d in entries] + extra
    return sorted(result, key=lambda e: e[0].encode())


def plain(entries, **overrides) -> Zip:
    """A Zip holding the entries stored, in order; `overrides[name]` = kwargs for that entry."""
    z = Zip()
    for name, data in entries:
        z.add(name, data, **overrides.get(name, {}))
    return z


# The hostile packs. Each returns zip bytes.

def bomb_ratio(entries, size: int) -> bytes:
    """A declared blob of `size` zero bytes, deflated (~1000:1), with its true size and hash."""
    data_hash = hashlib.sha256()
    chunk, left = bytes(1 << 20), size
    while left:
        n = min(left, len(chunk))
        data_hash.update(chunk[:n])
        left -= n
    name = f"blobs/sha256/{data_hash.hexdigest()}"
    manifest = manifest_of(entries)
    manifest["contents"].append({"path": name, "sha256": data_hash.hexdigest(), "type": "blob"})
    manifest["contents"].sort(key=lambda c: c["path"].encode())
    manifest["pack_id"] = pack_id(manifest)
    z = Zip()
    rows = sorted([(n, canonical(manifest) if n == "pack_manifest.json" else d) for n, d in entries] + [(name, None)])
    for n, d in rows:
        if d is None:
            z.add(n, deflate_zeros(size), method=DEFLATED, raw=True, size=size, crc=crc_zeros(size))
        else:
            z.add(n, d)
    return z.finish()


def bomb_lying(entries, size: int, declared: int = 1024) -> bytes:
    """An entry that declares `declared` bytes but inflates to `size` (sizes in the local and
    central headers both lie), after the manifest."""
    z = plain(entries)
    z.add("zz_bomb.bin", deflate_zeros(size), method=DEFLATED, raw=True, size=declared, crc=0)
    return z.finish()


def bomb_total(entries, count: int, size: int) -> bytes:
    """`count` declared entries of `size` zero bytes each, deflated."""
    body = deflate_zeros(size)
    crc = crc_zeros(size)
    z = plain(entries)
    for i in range(count):
        z.add(f"zz_part_{i:05d}.bin", body, method=DEFLATED, raw=True, size=size, crc=crc)
    return z.finish()


def bomb_overlap(entries, count: int, kernel: int) -> bytes:
    """David Fifield's overlapping-files trick, stored: entry k's data is the local headers of
    entries k+1..count-1 and the kernel, so every entry is a valid stored file holding all the
    later ones; the archive is ~kernel bytes but its entries add up to ~count × kernel."""
    names = [f"zz_overlap_{i:04d}.bin" for i in range(count)]
    headers = [b""] * count  # headers[k]: the local header of entry k as quoted inside entry k-1
    sizes = [0] * count
    sizes[-1] = kernel
    for k in range(count - 2, -1, -1):
        sizes[k] = 30 + len(names[k + 1]) + sizes[k + 1]
    # CRCs only when the bodies are small to build (readers that skip CRCs, as pack verify
    # does, never look; the big chaos bomb leaves them 0).
    crcs = [0] * count
    if count * kernel <= 64 << 20:
        body = bytes(kernel)
        for k in range(count - 1, -1, -1):
            crcs[k] = zlib.crc32(body)
            if k:
                header = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, STORED, DOS_TIME, DOS_DATE, crcs[k], sizes[k], sizes[k],
                                     len(names[k]), 0) + names[k].encode()
                body = header + body
    for k in range(1, count):
        headers[k] = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, STORED, DOS_TIME, DOS_DATE, crcs[k], sizes[k], sizes[k],
                                 len(names[k]), 0) + names[k].encode()
    z = plain(entries)
    first = z.offset
    z.add(names[0], b"".join(headers[1:]) + bytes(kernel), crc=crcs[0])
    # The central records of the inner entries point into entry 0's data.
    offset = first + 30 + len(names[0])
    for k in range(1, count):
        z.queue(names[k].encode(), offset, method=STORED, flags=0, crc=crcs[k], csize=sizes[k], size=sizes[k])
        offset += 30 + len(names[k])
    return z.finish()


def alias(entries) -> bytes:
    """Two central records for one local header (a hard link in zip terms): the second name,
    declared in the manifest, reads the bytes of the first."""
    blob = next(n for n, _ in entries if n.startswith("blobs/"))
    data = dict(entries)[blob]
    rows = declare(entries, [("zz_alias.txt", data)])
    z = Zip()
    at = {}
    for name, body in rows:
        if name == "zz_alias.txt":
            continue
        at[name] = z.add(name, body)
    z.queue(b"zz_alias.txt", at[blob], method=STORED, flags=0, crc=zlib.crc32(data), csize=len(data), size=len(data))
    return z.finish()


def hidden_alias(entries) -> bytes:
    """An undeclared second central record for the first entry's local header: a reader that
    merges records by offset (libarchive does) never shows it; unzip extracts it."""
    z = Zip()
    at = {name: z.add(name, data) for name, data in entries}
    name, data = entries[0]
    z.queue(b"zz_hidden", at[name], method=STORED, flags=0, crc=zlib.crc32(data), csize=len(data), size=len(data))
    return z.finish()


def many_entries(entries, count: int) -> bytes:
    """The pack plus `count` empty undeclared entries (ZIP64 end records past 65535)."""
    z = plain(entries)
    for i in range(count):
        z.add(f"e/{i:06d}", b"")
    return z.finish()


def huge_manifest(entries, size: int, deflated: bool) -> bytes:
    """The manifest padded with whitespace to `size` bytes (valid JSON, not canonical)."""
    manifest = canonical(manifest_of(entries))
    padded = manifest[:1] + b" " * max(0, size - len(manifest)) + manifest[1:]
    rows = [(n, padded if n == "pack_manifest.json" else d) for n, d in entries]
    return plain(rows, **({"pack_manifest.json": {"method": DEFLATED}} if deflated else {})).finish()


def deep_manifest(entries, depth: int) -> bytes:
    """A manifest that is `depth` nested arrays: a recursive parser without a limit overflows its stack."""
    rows = [(n, b"[" * depth + b"]" * depth if n == "pack_manifest.json" else d) for n, d in entries]
    return plain(rows, **{"pack_manifest.json": {"method": DEFLATED}}).finish()


def deep_record(entries, depth: int) -> bytes:
    """A run record that is `depth` nested objects, declared with its true hash."""
    record = next(n for n, _ in entries if n.startswith("runs/"))
    deep = b'{"a":' * depth + b"1" + b"}" * depth
    manifest = manifest_of(entries)
    for item in manifest["contents"]:
        if item["path"] == record:
            item["sha256"] = sha256(deep)
    manifest["pack_id"] = pack_id(manifest)
    rows = [(n, canonical(manifest) if n == "pack_manifest.json" else deep if n == record else d) for n, d in entries]
    return plain(rows, **{record: {"method": DEFLATED}}).finish()


def raw_name(entries, name: bytes, utf8_flag: bool) -> bytes:
    """The pack plus one entry with a name given as raw bytes."""
    z = plain(entries)
    z.add(name, b"x\n", flags=UTF8_FLAG if utf8_flag else 0)
    return z.finish()


def manifest_twice(entries) -> bytes:
    """`pack_manifest.json` and `PACK_MANIFEST.JSON` (a different manifest): on a
    case-insensitive file system one replaces the other."""
    other = manifest_of(entries)
    other["source_ref"] = "someone-else"
    other["pack_id"] = pack_id(other)
    rows = sorted(entries + [("PACK_MANIFEST.JSON", canonical(other))], key=lambda e: e[0].encode())
    return plain(rows).finish()


def typed_entry(entries, mode: int, name: str = "zz_special", data: bytes = b"/etc/passwd") -> bytes:
    """A declared entry whose Unix mode makes it a symlink, FIFO, device or folder."""
    rows = declare(entries, [(name, data)])
    return plain(rows, **{name: {"mode": mode}}).finish()


def unsafe_name(entries, name: str) -> bytes:
    """A declared entry with an unsafe name (absolute, Windows `..\\`, drive letter, UNC)."""
    return plain(declare(entries, [(name, b"x\n")])).finish()
