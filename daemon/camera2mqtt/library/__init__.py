"""The photo library: which camera files were downloaded, where they go, and the sync job.

``store`` keeps one record per downloaded camera file in the daemon's SQLite state file;
``naming`` turns a camera file into a local path (a template, never overwriting); ``sync``
fetches new files one at a time so that shots and commands can run between them;
``presence`` holds the cheap probes that notice a returning camera quickly.
"""

from camera2mqtt.library.naming import DEFAULT_TEMPLATE, TEMPLATE_FIELDS, template_problem
from camera2mqtt.library.presence import PresenceProbe, presence_probe
from camera2mqtt.library.store import DownloadStore, Identity, Record, StoreSummary
from camera2mqtt.library.sync import (
    PARTIAL_DIR,
    WHICH,
    FileOutcome,
    SyncCancelled,
    SyncJob,
    SyncOptions,
    SyncProgress,
    SyncSummary,
    clean_leftovers,
)

__all__ = [
    "DEFAULT_TEMPLATE",
    "PARTIAL_DIR",
    "TEMPLATE_FIELDS",
    "WHICH",
    "DownloadStore",
    "FileOutcome",
    "Identity",
    "PresenceProbe",
    "Record",
    "StoreSummary",
    "SyncCancelled",
    "SyncJob",
    "SyncOptions",
    "SyncProgress",
    "SyncSummary",
    "clean_leftovers",
    "presence_probe",
    "template_problem",
]
