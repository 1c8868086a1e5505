"""The sync job: list the camera, diff against the store, fetch each new file safely.

A :class:`SyncJob` is advanced one file at a time (:meth:`SyncJob.step`), so its caller (the
camera's worker) can run shots and commands between two files and then go on where it was.
Each file is fetched into ``<download_dir>/.camera2mqtt-partial/<key>.part`` (the key is a
hash of the file's identity). Fetched files are finished in batches (up to
:data:`FLUSH_FILES` files or :data:`FLUSH_SECONDS`): fsynced together, in the background
while the next batch downloads; then, at the next batch (or the end), hard-linked to their
final paths (a link never replaces an existing file, so nothing is overwritten; a final path
only ever holds data already on disk), the folders fsynced, the files recorded in the store
in one transaction; the partial files are removed last, and only then is a file reported
done. A batch that takes long to become durable (a disk busy with other writers) holds up
neither the downloads nor, between steps, the caller's shots.
After a crash at any moment the next sync finds either no record (and fetches again,
resuming the partial file with an HTTP ``Range`` request where the camera honours it, or
adopting a byte-identical file already at the final path) or a record whose file is in place.

A body cut short is retried with back-off; a file that still fails, or a name that could
escape the folder, is reported and the job goes on with the next file.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from camera2mqtt.cameras.base import (
    Camera,
    CameraError,
    CameraTimeout,
    CameraUnreachable,
    Capability,
    ImageRef,
    TransferError,
    UnsafeFilename,
    newest_picture,
)
from camera2mqtt.durable import BatchSync
from camera2mqtt.files import TEMP_PREFIX, check_free_space
from camera2mqtt.library.naming import DEFAULT_TEMPLATE, candidates, render, template_problem
from camera2mqtt.library.store import DownloadStore, Identity, identity_text

__all__ = [
    "PARTIAL_DIR",
    "WHICH",
    "FileOutcome",
    "SyncCancelled",
    "SyncJob",
    "SyncOptions",
    "SyncProgress",
    "SyncSummary",
    "clean_leftovers",
]

log = logging.getLogger(__name__)

PARTIAL_DIR = ".camera2mqtt-partial"
PARTIAL_SUFFIX = ".part"
WHICH = ("new", "latest", "all")
RETRY_DELAYS = (0.5, 1.0, 2.0)  # seconds before the 2nd, 3rd and 4th try of a cut file
READ_CHUNK = 1024 * 1024
FILE_MODE = 0o644
DONE, SKIPPED, FAILED = "done", "skipped", "failed"
# Fetched files are finished in batches: their fsyncs share one disk flush, their records
# one commit (a crash before the commit leaves files that the next sync adopts).
FLUSH_FILES = 64
FLUSH_SECONDS = 1.0
FINISH_WAIT = 0.1  # seconds a step waits for the disk before handing back to the caller


class SyncCancelled(TransferError):
    """The sync was cancelled; files already fetched are kept and recorded."""


@dataclass(frozen=True, kw_only=True)
class SyncOptions:
    """What to fetch: ``which`` of ``new`` (not in the store), ``latest`` (the newest
    picture) or ``all`` (every file; those in the store are reported as skipped), or the
    camera ``paths`` given; ``force`` fetches recorded files again."""

    which: str = "new"
    paths: tuple[str, ...] = ()
    force: bool = False
    delete_after_download: bool = False
    template: str = DEFAULT_TEMPLATE
    retry_delays: tuple[float, ...] = RETRY_DELAYS

    def __post_init__(self) -> None:
        if self.which not in WHICH:
            raise ValueError(f"which must be one of {', '.join(WHICH)}, not {self.which!r}")
        problem = template_problem(self.template)
        if problem is not None:
            raise ValueError(f"path template {self.template!r}: {problem}")


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """What became of one camera file: ``status`` is done, skipped or failed."""

    path: str
    status: str
    size: int = 0
    timestamp: str | None = None
    local_path: str | None = None
    reason: str | None = None
    erased: bool = False

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"path": self.path, "size": self.size, "timestamp": self.timestamp}
        if self.local_path is not None:
            data["local_path"] = self.local_path
        if self.reason is not None:
            data["reason"] = self.reason
        if self.erased:
            data["erased"] = True
        return data


@dataclass(frozen=True, slots=True)
class SyncProgress:
    """Where a sync is: files handled of the total, bytes fetched of the bytes to fetch;
    ``finished`` is set when one file has just been handled."""

    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int
    path: str | None = None
    finished: FileOutcome | None = None
    file_done: int = 0
    file_total: int = 0


@dataclass(frozen=True, slots=True)
class SyncSummary:
    done: tuple[FileOutcome, ...] = ()
    skipped: tuple[FileOutcome, ...] = ()
    failed: tuple[FileOutcome, ...] = ()

    def as_json(self, *, limit: int | None = None) -> dict[str, Any]:
        """The summary as JSON; with ``limit``, each list keeps its last ``limit`` entries
        (the counts stay whole) and ``truncated`` says whether any were left out."""
        lists = {"files": self.done, "skipped": self.skipped, "failed": self.failed}
        data: dict[str, Any] = {
            key: [item.as_json() for item in (items[-limit:] if limit else items)]
            for key, items in lists.items()
        }
        data.update(
            done_count=len(self.done),
            skipped_count=len(self.skipped),
            failed_count=len(self.failed),
        )
        if limit is not None:
            data["truncated"] = any(len(items) > limit for items in lists.values())
        return data


@dataclass
class _Tally:
    done: list[FileOutcome] = field(default_factory=list)
    skipped: list[FileOutcome] = field(default_factory=list)
    failed: list[FileOutcome] = field(default_factory=list)

    def add(self, outcome: FileOutcome) -> None:
        {DONE: self.done, SKIPPED: self.skipped, FAILED: self.failed}[outcome.status].append(
            outcome
        )

    @property
    def count(self) -> int:
        return len(self.done) + len(self.skipped) + len(self.failed)


@dataclass(frozen=True, slots=True)
class _Fetched:
    """A file fetched whole into its partial file, waiting for its batch to be finished."""

    ref: ImageRef
    identity: Identity
    partial: Path
    relative: PurePosixPath
    sha256: str
    size: int


def clean_leftovers(download_dir: Path) -> int:
    """Remove temp files of earlier runs (``.camera2mqtt-partial-*`` from whole-file
    downloads) under ``download_dir``; resumable partial files are kept for the next sync.
    Returns how many were removed."""
    removed = 0
    if not download_dir.is_dir():
        return 0
    for folder, dirs, files in os.walk(download_dir):
        dirs[:] = [name for name in dirs if name != PARTIAL_DIR]
        for name in files:
            if name.startswith(TEMP_PREFIX):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(folder, name))
                    removed += 1
    if removed:
        log.info("Removed %d temp file(s) of an earlier run under %s", removed, download_dir)
    return removed


class SyncJob:
    """One sync of one camera into ``download_dir``; call :meth:`plan`, then :meth:`step`
    until it returns False (or :meth:`run` for all at once). Each file's outcome reaches
    ``on_progress`` (as ``finished``) once it is final: a fetched file is done when it is
    durable, placed and recorded, which happens for a batch of files at a time.

    ``store`` None (the command line without a state file) skips a file whose path already
    holds a file of the same size instead of consulting records. ``wait(seconds)`` sleeps
    for a retry back-off and returns True when the job should stop (default: waits on
    ``cancel``). ``skip(ref)`` leaves files out (those a timelapse fetched itself);
    ``reserve_bytes`` refuses a file that would leave less free space than that.
    """

    def __init__(
        self,
        camera: Camera,
        store: DownloadStore | None,
        *,
        camera_id: str,
        camera_name: str,
        download_dir: Path,
        options: SyncOptions,
        cancel: threading.Event | None = None,
        on_progress: Callable[[SyncProgress], None] | None = None,
        wait: Callable[[float], bool] | None = None,
        now: Callable[[], datetime] = datetime.now,
        skip: Callable[[ImageRef], bool] | None = None,
        reserve_bytes: int | None = None,
    ) -> None:
        self._camera = camera
        self._store = store
        self._camera_id = camera_id
        self._camera_name = camera_name
        self._dir = Path(download_dir)
        self._partials = self._dir / PARTIAL_DIR
        self._options = options
        self._cancel = cancel or threading.Event()
        self._on_progress = on_progress
        self._wait = wait or self._cancel.wait
        self._now = now
        self._skip = skip
        self._reserve_bytes = reserve_bytes
        self._queue: deque[ImageRef] = deque()
        self._tally = _Tally()
        self._total = 0
        self._bytes_total = 0
        self._bytes_done = 0
        self._known: set[str] = set()  # identity texts of the files in the store
        self._planned = False
        self._waiting = 0
        self._pending: list[_Fetched] = []
        self._pending_since = 0.0
        self._durable = BatchSync()
        # The batch whose data is being made durable in the background.
        self._syncing: tuple[list[_Fetched], futures.Future[None]] | None = None
        self._partials_made = False
        self._leftovers: set[str] = set()  # partial files an earlier run left (resumable)

    # -- progress -------------------------------------------------------------------------

    @property
    def files_total(self) -> int:
        return self._total

    @property
    def waiting(self) -> int:
        """Listed files with no record in the store yet (whatever this job was asked to
        fetch): what a sync of the new photos would still fetch."""
        return self._waiting

    def summary(self) -> SyncSummary:
        return SyncSummary(
            tuple(self._tally.done), tuple(self._tally.skipped), tuple(self._tally.failed)
        )

    # -- the job --------------------------------------------------------------------------

    def plan(self, refs: list[ImageRef] | None = None) -> None:
        """List the camera (or take ``refs``, already listed) and decide what to fetch
        (the store is read once)."""
        self._camera.require(Capability.DOWNLOAD)
        listed = self._camera.list_images() if refs is None else refs
        unique = {ref.path: ref for ref in reversed(listed)}  # a path listed twice is one file
        refs = sorted(unique.values(), key=ImageRef.age_key)
        if self._skip is not None:  # files another part fetched (timelapse frames)
            refs = [ref for ref in refs if not self._skip(ref)]
        if self._store is not None:
            self._known = self._store.known(self._camera_id)
        options = self._options
        if options.paths:
            by_path = {ref.path: ref for ref in refs}
            by_name: dict[str, list[ImageRef]] = {}
            for ref in refs:
                by_name.setdefault(ref.name, []).append(ref)
            wanted: list[ImageRef] = []
            for path in dict.fromkeys(options.paths):
                found = [by_path[path]] if path in by_path else by_name.get(path, [])
                if len(found) != 1:
                    why = "not on the camera" if not found else "on the camera more than once"
                    self._tally.add(
                        FileOutcome(path, FAILED, reason=f"{path} is {why}; use a listed path.")
                    )
                    continue
                wanted.append(found[0])
        elif options.which == "latest":
            wanted = [newest_picture(refs)] if refs else []
        elif options.which == "all" or options.force:
            wanted = refs
        else:
            wanted = [ref for ref in refs if not self._recorded(ref)]
        self._queue = deque(wanted)
        self._total = len(wanted) + len(self._tally.failed)
        self._waiting = sum(1 for ref in refs if not self._recorded(ref))
        fresh = wanted if options.force else [ref for ref in wanted if not self._recorded(ref)]
        self._bytes_total = sum(ref.size for ref in fresh)
        self._planned = True
        self._drop_stale_partials(wanted)

    def step(self) -> bool:
        """Handle the next file, or once every file was fetched, finish them; False when
        all is done. Never waits long for the disk (a busy disk can take seconds to make a
        batch durable): it returns True within :data:`FINISH_WAIT` to be called again, so the
        caller can take a due shot meanwhile. Raises :class:`SyncCancelled` when cancelled
        and CameraUnreachable when the camera left; files fetched before either are
        finished first."""
        if not self._planned:
            self.plan()
        try:
            if self._cancel.is_set():
                raise SyncCancelled("The sync was cancelled; files fetched so far are kept.")
            if self._queue:
                outcome = self._handle(self._queue[0])
                self._queue.popleft()
                if outcome is not None:
                    self._finished(outcome)
                if self._flush_due():
                    self._flush()
                return True
            if self._syncing is not None:
                futures.wait([self._syncing[1]], timeout=FINISH_WAIT)
            self._flush()
        except BaseException:
            self._flush(wait=True)
            raise
        if self._syncing is not None or self._pending:
            return True
        self._finish()
        return False

    def run(self) -> SyncSummary:
        while self.step():
            pass
        return self.summary()

    # -- one file -------------------------------------------------------------------------

    def _handle(self, ref: ImageRef) -> FileOutcome | None:
        """Skip, fail or fetch ``ref``; None when it was fetched and waits for its batch."""
        identity = Identity.of(self._camera_id, ref)
        try:
            relative = render(
                self._options.template, ref, camera=self._camera_name, now=self._now()
            )
        except UnsafeFilename as error:
            log.warning("Camera %s: %s", self._camera_name, error)
            return _outcome(ref, FAILED, reason=str(error))
        existing = self._existing(identity, relative)
        if existing is not None and not self._options.force:
            erased = self._erase_if_verified(ref, existing, identity)
            return _outcome(ref, SKIPPED, local_path=existing, erased=erased)
        partial = self._partials / f"{_key(identity)}{PARTIAL_SUFFIX}"
        if self._reserve_bytes is not None:  # a full disk ends the sync (NotEnoughSpace)
            self._dir.mkdir(parents=True, exist_ok=True)
            check_free_space(self._dir, ref.size, reserve=self._reserve_bytes)
        try:
            sha256, size = self._transfer(ref, partial)
        except (SyncCancelled, CameraUnreachable) as error:
            if isinstance(error, CameraTimeout) and not self._cancel.is_set():
                self._drop_partial(partial)
                return _outcome(ref, FAILED, reason=str(error))
            if self._cancel.is_set():
                self._drop_partial(partial)
            raise
        except CameraError as error:
            log.warning("Camera %s: %s failed: %s", self._camera_name, ref.path, error)
            self._drop_partial(partial)
            return _outcome(ref, FAILED, reason=str(error))
        if ref.timestamp is not None:
            stamp = ref.timestamp.timestamp()
            os.utime(partial, (stamp, stamp))
        if not self._pending:
            self._pending_since = time.monotonic()
        self._pending.append(_Fetched(ref, identity, partial, relative, sha256, size))
        return None

    def _flush_due(self) -> bool:
        return bool(self._pending) and (
            len(self._pending) >= FLUSH_FILES
            or time.monotonic() - self._pending_since >= FLUSH_SECONDS
            or self._options.delete_after_download  # erasing needs the record
        )

    def _flush(self, *, wait: bool = False) -> None:
        """Finish the batch being made durable once it is (with ``wait``: waiting for it),
        then start making the files fetched since durable, in the background (with
        ``wait``: now, and finish them too)."""
        if self._syncing is not None:
            batch, durable = self._syncing
            if not wait and not durable.done():
                return  # the files fetched meanwhile join the next batch
            self._syncing = None
            durable.result()  # a sync that failed raises here
            self._place_and_record(batch)
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        partials = [fetched.partial for fetched in batch]
        if wait:
            self._durable.files(partials)
            self._place_and_record(batch)
            return
        durable: futures.Future[None] = futures.Future()

        def make_durable() -> None:
            try:
                self._durable.files(partials)
            except BaseException as error:
                durable.set_exception(error)
            else:
                durable.set_result(None)

        threading.Thread(target=make_durable, name="sync-fsync", daemon=True).start()
        self._syncing = (batch, durable)

    def _place_and_record(self, batch: list[_Fetched]) -> None:
        """Link each file of a durable batch at its final path, fsync the folders, record
        the files in one transaction, drop their partial files, and report them."""
        placed: list[tuple[_Fetched, Path]] = []
        outcomes: list[FileOutcome] = []
        claimed: set[str] = set()
        first_choices = [str(self._dir / fetched.relative) for fetched in batch]
        holders = self._store.holders(first_choices) if self._store is not None else {}
        for fetched in batch:
            try:
                final = self._place(fetched, claimed, holders)
            except CameraError as error:
                log.warning("Camera %s: %s", self._camera_name, error)
                fetched.partial.unlink(missing_ok=True)
                outcomes.append(_outcome(fetched.ref, FAILED, reason=str(error)))
                continue
            claimed.add(str(final))
            placed.append((fetched, final))
        self._durable.folders({final.parent for _fetched, final in placed})
        if self._store is not None:
            self._store.add_many(
                [(fetched.identity, str(final), fetched.sha256) for fetched, final in placed]
            )
        for fetched, final in placed:
            if fetched.identity.text not in self._known:
                self._known.add(fetched.identity.text)
                self._waiting -= 1
            fetched.partial.unlink(missing_ok=True)
            erased = self._erase_if_verified(fetched.ref, str(final), fetched.identity)
            outcomes.append(_outcome(fetched.ref, DONE, local_path=str(final), erased=erased))
        for outcome in outcomes:
            self._finished(outcome)

    def _existing(self, identity: Identity, relative: PurePosixPath) -> str | None:
        """The local path of a file already fetched, or None."""
        if self._store is not None:
            if identity.text not in self._known:
                return None
            record = self._store.get(identity)
            return record.local_path if record is not None else None
        target = self._dir / relative
        try:
            return str(target) if target.stat().st_size == identity.size else None
        except OSError:
            return None

    def _transfer(self, ref: ImageRef, partial: Path) -> tuple[str, int]:
        delays = self._options.retry_delays
        for attempt in range(len(delays) + 1):
            if self._cancel.is_set():
                raise SyncCancelled("The sync was cancelled; files fetched so far are kept.")
            fresh = attempt == 0 and partial.name not in self._leftovers
            try:
                return self._transfer_once(ref, partial, fresh=fresh)
            except TransferError as error:  # a cut body; a camera too slow is not retried
                if self._cancel.is_set():
                    raise SyncCancelled(
                        "The sync was cancelled; files fetched so far are kept."
                    ) from None
                if attempt == len(delays):
                    raise
                log.info("%s: %s; trying again in %g s", ref.path, error, delays[attempt])
                if self._wait(delays[attempt]):
                    raise SyncCancelled(
                        "The sync was cancelled; files fetched so far are kept."
                    ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _transfer_once(self, ref: ImageRef, partial: Path, *, fresh: bool) -> tuple[str, int]:
        """Fetch ``ref`` into ``partial`` (resuming it where possible, unless ``fresh``: no
        partial file was there); its SHA-256 and size."""
        if not self._partials_made:
            self._partials.mkdir(parents=True, exist_ok=True)
            self._partials_made = True
        have = 0
        if not fresh:
            with contextlib.suppress(FileNotFoundError):
                have = partial.stat().st_size
        if have == ref.size > 0:
            # Fetched whole before a crash stopped it from being recorded: a partial file
            # only reaches the listed size once every byte has been written.
            log.info("%s: already fetched before a restart; placing it", ref.path)
            digest = hashlib.sha256()
            _hash_prefix(partial, have, digest)
            self._bytes_progress(ref.path, have, have, have)
            return digest.hexdigest(), have
        if have > ref.size:
            have = 0
        if type(self._camera).open_file is Camera.open_file:
            return self._transfer_whole(ref, partial)
        with self._camera.open_file(ref, offset=have) as stream:
            expected = stream.size if stream.size is not None else ref.size
            start = stream.offset
            digest = hashlib.sha256()
            # O_TRUNC does nothing to a file this open creates; ftruncate only when there
            # is something to cut: on ext4 a file truncated to zero is written out at close
            # (auto_da_alloc), a disk write per file.
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | (0 if have else os.O_TRUNC), FILE_MODE)
            try:
                if start != have:
                    os.ftruncate(fd, start)
                if start:
                    _hash_prefix(partial, start, digest)
                    log.info("%s: resuming at byte %d of %d", ref.path, start, expected)
                    os.lseek(fd, start, os.SEEK_SET)
                written = start
                for chunk in stream.chunks:
                    if self._cancel.is_set():
                        raise SyncCancelled(
                            "The sync was cancelled; files fetched so far are kept."
                        )
                    _write_all(fd, chunk)
                    digest.update(chunk)
                    written += len(chunk)
                    if written > expected:
                        raise TransferError(
                            f"{ref.name}: the camera sent more than the {expected} bytes "
                            "it announced."
                        )
                    self._bytes_progress(ref.path, len(chunk), written, expected)
                if written != expected:
                    raise TransferError(
                        f"{ref.name}: got {written} of {expected} bytes; the transfer was "
                        "cut short."
                    )
            finally:
                os.close(fd)
        return digest.hexdigest(), expected

    def _transfer_whole(self, ref: ImageRef, partial: Path) -> tuple[str, int]:
        """For drivers that only download whole files to a folder of their choosing."""
        folder = partial.with_suffix(".dir")
        folder.mkdir(exist_ok=True)
        try:
            written = self._camera.download(ref, folder, cancel=self._cancel)
            os.replace(written, partial)
        finally:
            for leftover in folder.iterdir():
                leftover.unlink()
            folder.rmdir()
        digest = hashlib.sha256()
        size = partial.stat().st_size
        _hash_prefix(partial, size, digest)
        self._bytes_progress(ref.path, size, size, size)
        return digest.hexdigest(), size

    def _place(
        self, fetched: _Fetched, claimed: set[str], holders: dict[str, tuple[object, ...]]
    ) -> Path:
        """Link the fetched file at the first free path the template gives (not one of the
        ``claimed`` paths of its batch, nor a path a record of another file holds: the
        batch's first choices are in ``holders``); never replaces a file. A byte-identical
        file already there (placed before a crash) is adopted."""
        partial, ref = fetched.partial, fetched.ref
        for index, candidate in enumerate(candidates(fetched.relative)):
            final = self._dir / candidate
            path = str(final)
            looked_up = holders if index == 0 else None
            if path in claimed or self._held_by_another(path, fetched.identity, looked_up):
                continue
            final.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(partial, final)
            except FileExistsError:
                if _same_content(final, fetched.size, fetched.sha256):
                    return final
                continue
            except OSError as error:
                if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV):
                    raise
                if final.exists():  # a file system without hard links
                    continue
                os.rename(partial, final)
            return final
        raise TransferError(f"{ref.name}: every name for it in {final.parent} is taken.")

    def _held_by_another(
        self, path: str, identity: Identity, holders: dict[str, tuple[object, ...]] | None
    ) -> bool:
        """Whether a record of another camera file holds ``path`` (``holders``: the records
        looked up already for this path, else the store is asked)."""
        if self._store is None:
            return False
        if holders is None:
            return self._store.path_taken(path, by_other_than=identity)
        holder = holders.get(path)
        return holder is not None and holder != identity.key()

    def _erase_if_verified(self, ref: ImageRef, local_path: str, identity: Identity) -> bool:
        """Clear the file from the card when asked to, once its record and checksum are in
        the store and the local file still matches that checksum."""
        if not self._options.delete_after_download or self._store is None:
            return False
        record = self._store.get(identity)
        if record is None or record.local_path != local_path:
            return False
        if not _same_content(Path(local_path), identity.size, record.sha256):
            return False
        try:
            self._camera.erase(ref)
        except CameraUnreachable:
            raise
        except CameraError as error:
            log.warning("Camera %s: could not erase %s: %s", self._camera_name, ref.path, error)
            return False
        return True

    # -- helpers --------------------------------------------------------------------------

    def _recorded(self, ref: ImageRef) -> bool:
        return identity_text(ref) in self._known

    def _bytes_progress(self, path: str, count: int, file_done: int, file_total: int) -> None:
        self._bytes_done += count
        self._emit(path, file_done=file_done, file_total=file_total)

    def _finished(self, outcome: FileOutcome) -> None:
        self._tally.add(outcome)
        self._emit(outcome.path, finished=outcome)

    def _emit(self, path: str, **details: Any) -> None:
        if self._on_progress is not None:
            self._on_progress(
                SyncProgress(
                    self._tally.count,
                    self._total,
                    self._bytes_done,
                    self._bytes_total,
                    path,
                    **details,
                )
            )

    def _drop_stale_partials(self, wanted: list[ImageRef]) -> None:
        """Partial files of files no longer wanted (fetched, gone from the card) go."""
        if not self._partials.is_dir():
            return
        keep = {f"{_key(Identity.of(self._camera_id, ref))}{PARTIAL_SUFFIX}" for ref in wanted}
        for entry in self._partials.iterdir():
            if entry.name not in keep or not entry.is_file():
                _remove(entry)
            else:
                self._leftovers.add(entry.name)

    def _drop_partial(self, partial: Path) -> None:
        """A file that failed or was cancelled leaves nothing; only a crash leaves a partial
        file (which the next sync resumes)."""
        partial.unlink(missing_ok=True)
        self._finish()

    def _finish(self) -> None:
        with contextlib.suppress(OSError):
            self._partials.rmdir()  # only when empty (files waiting to be recorded)
            self._partials_made = False


def _outcome(ref: ImageRef, status: str, **details: Any) -> FileOutcome:
    stamp = ref.timestamp.isoformat(timespec="seconds") if ref.timestamp else None
    return FileOutcome(ref.path, status, ref.size, stamp, **details)


def _key(identity: Identity) -> str:
    text = "\x00".join(str(part) for part in identity.key())
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _hash_prefix(path: Path, length: int, digest: Any) -> None:
    with path.open("rb") as source:
        left = length
        while left > 0:
            block = source.read(min(READ_CHUNK, left))
            if not block:
                raise TransferError(f"{path.name} is shorter than expected; fetching it again.")
            digest.update(block)
            left -= len(block)


def _same_content(path: Path, size: int, sha256: str) -> bool:
    try:
        if path.stat().st_size != size:
            return False
        digest = hashlib.sha256()
        _hash_prefix(path, size, digest)
    except (OSError, TransferError):
        return False
    return digest.hexdigest() == sha256


def _remove(path: Path) -> None:
    try:
        if path.is_dir():
            for child in path.iterdir():
                child.unlink()
            path.rmdir()
        else:
            path.unlink()
    except OSError as error:
        log.warning("Could not remove the leftover %s: %s", path, error)
