"""One ingest at a time: a file lock for the embedded store, a registry lease for a server.

A second ingest waits for the first (saying so), then finds the index it would build already
current, or builds its own on top. The registry never names a half-built collection either
way: it is pointed at a collection only once every record is written.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from chromadb.api import ClientAPI
from filelock import FileLock, Timeout

from opioid_assistant.errors import IngestBusyError
from opioid_assistant.index.registry import read_registry, write_registry
from opioid_assistant.settings import Settings

WAIT_S = 900.0  # how long an ingest waits for another one before giving up
LEASE_S = 30.0  # a server lease lapses this long after its holder stops renewing it
SETTLE_S = 0.3  # after taking a lease, re-read it this much later: the last writer wins


@contextmanager
def ingest_lock(
    client: ClientAPI,
    settings: Settings,
    on_wait: Callable[[str], None] = lambda message: None,
    wait_s: float = WAIT_S,
) -> Iterator[None]:
    """Hold the index's ingest lock for the block; wait up to `wait_s` for another holder.

    Raises:
        IngestBusyError: another ingest held the lock for all of `wait_s`.
    """
    if settings.chroma_host:
        with _lease(client, settings, on_wait, wait_s):
            yield
        return
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(settings.data_dir / "ingest.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        on_wait(f"another ingest is building the index in {settings.data_dir}; waiting for it")
        try:
            lock.acquire(timeout=wait_s)
        except Timeout as e:
            raise IngestBusyError(_busy(settings, wait_s)) from e
    try:
        yield
    finally:
        lock.release()


def _busy(settings: Settings, wait_s: float) -> str:
    where = settings.chroma_host or str(settings.data_dir)
    return (
        f"another ingest has held the index lock in {where} for over {wait_s:.0f} s; let it "
        "finish and run `opioid-assistant ingest` again"
    )


@contextmanager
def _lease(
    client: ClientAPI, settings: Settings, on_wait: Callable[[str], None], wait_s: float
) -> Iterator[None]:
    """A lease in the registry's metadata, renewed in the background while held."""
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    deadline = time.monotonic() + wait_s
    said = False
    while not _take(client, settings, owner):
        if not said:
            on_wait(f"another ingest holds the index lease on {settings.chroma_host}; waiting")
            said = True
        if time.monotonic() > deadline:
            raise IngestBusyError(_busy(settings, wait_s))
        time.sleep(1.0)
    stop = threading.Event()
    renewer = threading.Thread(
        target=_renew, args=(client, settings, owner, stop), name="oa-lease", daemon=True
    )
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join()
        if read_registry(client, settings).get("lease_owner") == owner:
            write_registry(client, settings, lease_owner="", lease_expires=0.0)


def _take(client: ClientAPI, settings: Settings, owner: str) -> bool:
    meta = read_registry(client, settings)
    holder, expires = str(meta.get("lease_owner", "")), float(meta.get("lease_expires", 0.0))
    if holder and holder != owner and expires > time.time():
        return False
    write_registry(client, settings, lease_owner=owner, lease_expires=time.time() + LEASE_S)
    time.sleep(SETTLE_S)  # two takers may both have written: only the last one holds it
    return read_registry(client, settings).get("lease_owner") == owner


def _renew(client: ClientAPI, settings: Settings, owner: str, stop: threading.Event) -> None:
    while not stop.wait(LEASE_S / 3):
        write_registry(client, settings, lease_owner=owner, lease_expires=time.time() + LEASE_S)
