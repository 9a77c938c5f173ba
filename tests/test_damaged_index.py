"""A damaged index says so and stops (issue 25, item 9), and a first `serve` that builds
the index does not keep torch loaded (item 11). The CLI runs in subprocesses over copies
of the session's real index."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import free_port, run_cli
from opioid_assistant import Settings

FIX = (
    "rebuild it with `opioid-assistant ingest --rebuild` (or `opioid-assistant serve "
    "--reindex`), which keeps the damaged folder aside"
)


def copy_index(settings: Settings, to: Path) -> Path:
    """A copy of the session's index (the ONNX export linked, not copied); its data dir."""
    to.mkdir(parents=True)
    shutil.copytree(settings.data_dir / "chroma", to / "chroma")
    (to / "embedders").symlink_to(settings.data_dir / "embedders")
    return to


def zeroed(database: Path) -> str:
    size = database.stat().st_size
    with database.open("r+b") as f:
        f.seek(size // 3)
        f.write(b"\0" * (size // 4))
    return "SQLite finds it damaged"


def halved(database: Path) -> str:
    os.truncate(database, database.stat().st_size // 2)
    return "SQLite cannot read it (database disk image is malformed)"


def emptied(database: Path) -> str:
    os.truncate(database, 0)
    return "it is empty (0 bytes)"


def removed(database: Path) -> str:
    database.unlink()
    return "chroma.sqlite3 is missing beside the index's vector folders"


@pytest.mark.parametrize("damage", [zeroed, halved, emptied, removed])
def test_ask_and_serve_name_the_file_and_the_fix_and_build_nothing(
    index_settings: Settings, tmp_path: Path, damage: object
) -> None:
    data = copy_index(index_settings, tmp_path / "data")
    database = data / "chroma" / "chroma.sqlite3"
    why = damage(database)  # type: ignore[operator]
    before = sorted(p.name for p in (data / "chroma").iterdir())
    asked = run_cli("ask", "What is LEAD?", data_dir=data)
    assert asked.returncode == 1
    line = asked.stderr.strip().splitlines()[-1]
    assert line.startswith(f"error: the index file {database} cannot be read: {why}")
    assert line.endswith(FIX)
    assert "Traceback" not in asked.stderr
    served = run_cli("serve", "--no-ui", "--port", str(free_port()), data_dir=data, timeout=120)
    assert served.returncode == 1
    assert served.stderr.strip().splitlines()[-1] == line  # the same message, and it stops
    assert "Traceback" not in served.stderr
    assert sorted(p.name for p in (data / "chroma").iterdir()) == before  # nothing built


def test_an_emptied_store_that_chroma_reopened_is_still_damaged(
    index_settings: Settings, tmp_path: Path
) -> None:
    """Chroma opens an emptied database as a new store; with the index's vector folders
    still beside it, that store is an index that was lost, not a first start."""
    import chromadb

    data = copy_index(index_settings, tmp_path / "data")
    os.truncate(data / "chroma" / "chroma.sqlite3", 0)
    chromadb.PersistentClient(
        path=str(data / "chroma"), settings=chromadb.Settings(anonymized_telemetry=False)
    ).get_or_create_collection("opioid_report-registry")
    asked = run_cli("ask", "What is LEAD?", data_dir=data)
    assert asked.returncode == 1
    assert asked.stderr.strip().splitlines()[-1] == (
        f"error: the index file {data / 'chroma' / 'chroma.sqlite3'} cannot be read: it holds "
        f"no index, yet the index's vector folders are beside it (it was emptied). {FIX}"
    )


def test_ingest_rebuild_sets_the_damaged_store_aside_and_answers_again(
    index_settings: Settings, tmp_path: Path
) -> None:
    data = copy_index(index_settings, tmp_path / "data")
    halved(data / "chroma" / "chroma.sqlite3")
    plain = run_cli("ingest", "--quiet", data_dir=data)
    assert plain.returncode == 1 and plain.stderr.strip().endswith(FIX)
    rebuilt = run_cli("ingest", "--rebuild", "--quiet", data_dir=data)
    assert rebuilt.returncode == 0, rebuilt.stderr
    aside = [p for p in data.iterdir() if p.name.startswith("chroma.damaged-")]
    assert len(aside) == 1 and (aside[0] / "chroma.sqlite3").is_file()
    assert rebuilt.stdout.splitlines()[0] == (
        f"the damaged index folder was moved to {aside[0]}; rebuilding"
    )
    asked = run_cli(
        "ask", "How much did pharmacy chains pay in the opioid settlement?", data_dir=data
    )
    assert asked.returncode == 0 and "[59]" in asked.stdout


def test_serve_reindex_sets_the_damaged_store_aside(
    index_settings: Settings, tmp_path: Path
) -> None:
    from opioid_assistant.index.building import index_for_serving

    data = copy_index(index_settings, tmp_path / "data")
    zeroed(data / "chroma" / "chroma.sqlite3")
    settings = index_settings.model_copy(update={"data_dir": data})
    said = index_for_serving(settings, reindex=True, progress=False)
    aside = [p for p in data.iterdir() if p.name.startswith("chroma.damaged-")]
    assert len(aside) == 1
    assert said.splitlines()[0] == f"the damaged index folder was moved to {aside[0]}; rebuilding"
    assert said.splitlines()[1].startswith("index built (")


@pytest.mark.slow
def test_a_first_serve_builds_the_index_without_keeping_torch(tmp_path: Path) -> None:
    """The one-time ONNX export imports torch and transformers (~0.8 GB): the build runs in
    a child process, so the serving process never holds them."""
    code = (
        "import sys\n"
        "from opioid_assistant import Assistant, Settings\n"
        "from opioid_assistant.index.building import index_for_serving\n"
        "print(index_for_serving(Settings(), progress=False).split(' (')[0])\n"
        "answer = Assistant().ask('How much did pharmacy chains pay in the opioid settlement?')\n"
        "print([c.number for c in answer.citations])\n"
        "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers') "
        "if m in sys.modules))\n"
    )
    env = {**os.environ, "OA_DATA_DIR": str(tmp_path / "fresh")}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["index built", "[59]", "[]"]
