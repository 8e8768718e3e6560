"""Image-understanding SFT: rows of prompt / image / response → Bailian VL ChatML, packed with the images.

Bailian wants a .zip holding ``data.jsonl`` at its root and every image it names. Content is an array of
parts, and the system message, when there is one, must be an array too (FORMAT_FROM_DOCS.md).
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

import orjson

from bailian_tui.core.data.converters.chat import ChatOptions
from bailian_tui.core.data.errors import DataFileError, RecordError

PROMPT_KEYS = ("prompt", "question", "instruction", "text")
IMAGE_KEYS = ("image", "images", "image_path", "img")
RESPONSE_KEYS = ("response", "answer", "output")


def _pick(record: dict, keys: tuple[str, ...], what: str) -> str:
    for key in keys:
        if str(record.get(key) or "").strip():
            return str(record[key]).strip()
    raise RecordError(f"no {what} (looked for {', '.join(keys)})", f"give each row a {what}")


def from_vl(record: dict, options: ChatOptions = ChatOptions()) -> dict:
    if "messages" in record:
        return record
    image = _pick(record, IMAGE_KEYS, "image")
    messages = []
    if options.system:
        messages.append({"role": "system", "content": [{"text": options.system}]})
    messages.append({"role": "user", "content": [{"text": _pick(record, PROMPT_KEYS, "prompt")},
                                                 {"image": image}]})
    messages.append({"role": "assistant", "content": [{"text": _pick(record, RESPONSE_KEYS, "response")}]})
    return {"messages": messages}


def images_of(record: dict) -> list[str]:
    return [part["image"] for message in record.get("messages", []) if isinstance(message, dict)
            for part in (message.get("content") if isinstance(message.get("content"), list) else [])
            if isinstance(part, dict) and isinstance(part.get("image"), str)]


def pack(jsonl: Path, image_root: Path, destination: Path) -> list[str]:
    """Write ``destination`` (.zip): data.jsonl with image paths made relative, plus the images.

    Returns the missing images; when any is missing nothing is written.
    """
    records, images, missing = [], {}, []
    for raw in jsonl.read_bytes().splitlines():
        if not raw.strip():
            continue
        record = orjson.loads(raw)
        for message in record.get("messages", []):
            for part in message.get("content") if isinstance(message.get("content"), list) else []:
                if isinstance(part, dict) and isinstance(part.get("image"), str):
                    source = (image_root / part["image"]).resolve()
                    if not source.is_file():
                        missing.append(part["image"])
                        continue
                    name = images.setdefault(str(source), f"images/{len(images):05d}_{source.name}")
                    part["image"] = name
        records.append(orjson.dumps(record))
    if missing:
        return missing
    from bailian_tui.core import lifecycle

    fd, temp = tempfile.mkstemp(prefix=lifecycle.temp_prefix("zip"), suffix=f".{destination.name}.tmp",
                                dir=destination.parent)
    lifecycle.apply_umask_mode(fd)
    os.close(fd)
    try:
        with zipfile.ZipFile(temp, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("data.jsonl", b"\n".join(records) + b"\n")
            for source, name in images.items():
                archive.write(source, name, compress_type=zipfile.ZIP_STORED)
        os.replace(temp, destination)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return []


def check_zip(path: Path) -> tuple[list[tuple[int, str]], int]:
    """(missing image references as (line, name), records) of a packed VL dataset."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise DataFileError(str(path), "is not a zip archive", "pack it with bailian-tui convert … out.zip") from None
    with archive:
        names = set(archive.namelist())
        if "data.jsonl" not in names:
            raise DataFileError(str(path), "has no data.jsonl at its root", "Bailian reads data.jsonl from the root")
        missing, count = [], 0
        for line, raw in enumerate(archive.read("data.jsonl").splitlines(), 1):
            if not raw.strip():
                continue
            count += 1
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            missing += [(line, image) for image in images_of(record) if image not in names]
        return missing, count
