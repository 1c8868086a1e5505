"""Making batches of files durable: one syncfs() on local file systems, else fsync each."""

from __future__ import annotations

import ctypes
import errno
import os
from pathlib import Path

import pytest

from camera2mqtt.durable import BatchSync, file_system_type


class Spy:
    """Stands in for the C library's syncfs; records the devices it was asked to sync."""

    def __init__(self, result: int = 0) -> None:
        self.devices: list[int] = []
        self.result = result

    def __call__(self, fd: int) -> int:
        self.devices.append(os.fstat(fd).st_dev)
        if self.result:
            ctypes.set_errno(errno.EIO)
        return self.result


@pytest.fixture
def batch(tmp_path: Path) -> list[Path]:
    paths = []
    for index in range(5):
        path = tmp_path / f"{index}.part"
        path.write_bytes(b"x" * 100)
        paths.append(path)
    return paths


@pytest.fixture
def fsynced(monkeypatch) -> set[int]:
    """The inodes os.fsync was called on."""
    inodes: set[int] = set()
    real = os.fsync

    def fsync(fd: int) -> None:
        inodes.add(os.fstat(fd).st_ino)
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return inodes


def test_a_local_file_system_is_synced_whole_once_per_batch(batch, fsynced):
    looked_up: list[Path] = []
    syncfs = Spy()

    def ext4(path: Path) -> str:
        looked_up.append(path)
        return "ext4"

    durable = BatchSync(file_system_of=ext4, syncfs=syncfs)
    durable.files(batch)
    durable.files(batch[:2])
    assert syncfs.devices == [os.stat(batch[0]).st_dev] * 2
    assert fsynced == set()
    assert len(looked_up) == 1  # the answer is kept per file system


def test_folders_are_fsynced_each(tmp_path, fsynced):
    syncfs = Spy()
    folders = {tmp_path / "a", tmp_path / "b"}
    for folder in folders:
        folder.mkdir()
    BatchSync(file_system_of=lambda path: "ext4", syncfs=syncfs).folders(folders)
    assert syncfs.devices == []
    assert fsynced == {os.stat(folder).st_ino for folder in folders}


@pytest.mark.parametrize("kind", ["fuse.sshfs", "nfs4", "cifs", ""])
def test_other_file_systems_get_an_fsync_per_file(batch, fsynced, kind):
    syncfs = Spy()
    durable = BatchSync(file_system_of=lambda path: kind, syncfs=syncfs)
    durable.files(batch)
    assert syncfs.devices == []
    assert fsynced == {os.stat(path).st_ino for path in batch}


def test_without_syncfs_each_file_is_fsynced(batch, fsynced, monkeypatch):
    import camera2mqtt.durable as durable_module

    monkeypatch.setattr(durable_module, "_libc_syncfs", lambda: None)
    BatchSync(file_system_of=lambda path: "ext4").files(batch)
    assert fsynced == {os.stat(path).st_ino for path in batch}


def test_a_failed_syncfs_raises(batch):
    durable = BatchSync(file_system_of=lambda path: "ext4", syncfs=Spy(result=-1))
    with pytest.raises(OSError) as raised:
        durable.files(batch)
    assert raised.value.errno == errno.EIO


@pytest.mark.skipif(not Path("/proc/self/mountinfo").exists(), reason="Linux only")
def test_the_file_system_type_comes_from_mountinfo(tmp_path):
    kind = file_system_type(tmp_path)
    assert kind and " " not in kind
    assert kind in Path("/proc/self/mountinfo").read_text()
    assert file_system_type(tmp_path / "missing") == ""
