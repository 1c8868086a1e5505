"""The command line of the photo library.

``camera2mqtt library --config FILE [summary|list|forget]`` shows and edits the download
store. :func:`download_to_folder` is what ``camera2mqtt wifi download`` and ``serial
download`` run: the library's sync job without a store, so the command line follows the same
naming and never-overwrite rule (a file of the same size already at the path is skipped).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from camera2mqtt.cameras.base import Camera, ImageRef
from camera2mqtt.config import EX_CONFIG, ConfigError, load_config
from camera2mqtt.library.store import DownloadStore
from camera2mqtt.library.sync import RETRY_DELAYS, SyncJob, SyncOptions, SyncProgress
from camera2mqtt.progress import ProgressBar
from camera2mqtt.statedb import StateDB

__all__ = ["add_retries_option", "download_to_folder", "register"]


def register(commands: Any, simulators: Any) -> None:
    parser = commands.add_parser(
        "library",
        help="what the daemon has downloaded: summary, list, forget",
        description=(
            "Show or edit the daemon's download store (in state_dir). Forgetting a record "
            "makes the next sync fetch that photo again."
        ),
    )
    parser.add_argument(
        "-c", "--config", metavar="FILE", type=Path, required=True, help="the YAML configuration"
    )
    actions = parser.add_subparsers(dest="library_action", metavar="ACTION")
    actions.add_parser("summary", help="photos and bytes per camera (the default)")
    listing = actions.add_parser("list", help="one line per downloaded photo")
    listing.add_argument("--camera", help="only this camera (its serial number or name)")
    forget = actions.add_parser("forget", help="drop records so the photos are fetched again")
    forget.add_argument("--camera", required=True, help="the camera (serial number or name)")
    forget.add_argument(
        "paths", nargs="*", metavar="PATH", help="camera or local paths (default: all)"
    )
    forget.add_argument(
        "--all", action="store_true", help="forget every record of the camera (needed without PATH)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as error:
        sys.stderr.write(f"camera2mqtt: {error}\n")
        return EX_CONFIG
    with StateDB.in_state_dir(config.state_dir) as db:
        store = DownloadStore(db)
        action = args.library_action or "summary"
        if action == "summary":
            rows = store.summary()
            for row in rows:
                print(
                    f"{row.camera}\t{row.files} photo(s)\t{row.bytes / 1e6:.1f} MB\t"
                    f"first {row.first}\tlast {row.last}"
                )
            if not rows:
                print("Nothing downloaded yet.")
        elif action == "list":
            for record in store.records(args.camera):
                print(
                    f"{record.identity.camera}\t{record.identity.path}\t{record.identity.size}\t"
                    f"{record.identity.taken or '-'}\t{record.local_path}\t{record.sha256[:16]}"
                )
        else:
            if not args.paths and not args.all:
                sys.stderr.write(
                    "camera2mqtt: name the paths to forget, or add --all to forget every "
                    f"record of {args.camera}.\n"
                )
                return 2
            count = store.forget(args.camera, args.paths)
            print(f"Forgot {count} record(s); the next sync fetches those photos again.")
    return 0


def add_retries_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--retries",
        type=int,
        default=len(RETRY_DELAYS),
        choices=range(len(RETRY_DELAYS) + 1),
        metavar="N",
        help=f"tries again after a cut transfer, 0..{len(RETRY_DELAYS)} (default: %(default)s)",
    )


def download_to_folder(
    camera: Camera,
    refs: list[ImageRef],
    *,
    folder: Path,
    template: str,
    retries: int = len(RETRY_DELAYS),
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Fetch ``refs`` under ``folder`` by ``template``; print each path; 1 if any failed."""
    out = out or sys.stdout
    err = err or sys.stderr
    info = camera.info
    bars = _Bars(out, len(refs)) if out.isatty() else None

    def report(progress: SyncProgress) -> None:
        outcome = progress.finished
        if bars is not None:
            if outcome is None:
                bars(progress)
                return
            bars.finish()
        if outcome is None:
            return
        if outcome.status == "done" and bars is None:
            print(outcome.local_path, file=out)
        elif outcome.status == "failed":
            print(f"camera2mqtt: {outcome.reason}", file=err)

    job = SyncJob(
        camera,
        None,
        camera_id=info.serial_number or info.model or "camera",
        camera_name=info.model or "camera",
        download_dir=folder,
        options=SyncOptions(which="all", template=template, retry_delays=RETRY_DELAYS[:retries]),
        on_progress=report,
    )
    job.plan(refs)
    job.run()
    summary = job.summary()
    print(
        f"Downloaded {len(summary.done)} file(s), skipped {len(summary.skipped)} already "
        f"present"
        + (
            f", {len(summary.failed)} failed; run the download again to fetch them."
            if summary.failed
            else "."
        ),
        file=err,
    )
    return 1 if summary.failed else 0


class _Bars:
    """One progress bar per file, drawn while it downloads."""

    def __init__(self, stream: TextIO, total: int) -> None:
        self._stream = stream
        self._total = total
        self._bar: ProgressBar | None = None
        self._path: str | None = None
        self._started = 0

    def __call__(self, progress: SyncProgress) -> None:
        if progress.file_total <= 0:
            return
        if self._bar is None or progress.path != self._path:
            self.finish()
            self._path = progress.path
            self._started += 1
            name = (progress.path or "").rsplit("/", 1)[-1]
            label = f"[{self._started}/{self._total}] {name}"
            self._bar = ProgressBar(label, self._stream)
        self._bar(progress.file_done, progress.file_total)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.finish()
            self._bar = None
