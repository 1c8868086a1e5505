"""Shared pieces of the stream tests: a lossy UDP forwarder, a stand-in worker, collectors."""

from __future__ import annotations

import math
import random
import socket
import threading
from collections.abc import Callable
from typing import Self

from camera2mqtt.cameras.base import Camera
from camera2mqtt.stream.live import LiveFeed

WAIT_TIMEOUT = 30.0


class Collector:
    """Collects items from another thread; :meth:`wait_for` waits on a condition."""

    def __init__(self) -> None:
        self.items: list = []
        self._changed = threading.Condition()

    def __call__(self, item) -> None:
        with self._changed:
            self.items.append(item)
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[list], bool], timeout: float = WAIT_TIMEOUT) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self.items), timeout)


class LossyForwarder:
    """Forwards UDP datagrams on 127.0.0.1 to ``dest``, dropping ``loss`` of them, holding
    back ``reorder`` of them until after the next one, and sending ``duplicate`` twice."""

    def __init__(
        self,
        dest: tuple[str, int],
        *,
        loss: float = 0.05,
        reorder: float = 0.05,
        duplicate: float = 0.0,
        seed: int = 3,
    ) -> None:
        self.dest = dest
        self.loss, self.reorder, self.duplicate = loss, reorder, duplicate
        self._rng = random.Random(seed)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self.received = self.dropped = self.reordered = self.duplicated = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LossyForwarder:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def _run(self) -> None:
        held: bytes | None = None
        rng, sock = self._rng, self._sock
        while not self._stop.is_set():
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            self.received += 1
            if rng.random() < self.loss:
                self.dropped += 1
                continue
            if held is None and rng.random() < self.reorder:
                held = data
                self.reordered += 1
                continue
            copies = 2 if rng.random() < self.duplicate else 1
            self.duplicated += copies - 1
            for _ in range(copies):
                sock.sendto(data, self.dest)
            if held is not None:
                sock.sendto(held, self.dest)
                held = None


class ServicePump:
    """Does what the camera worker does for a live feed: calls :meth:`service` on one thread
    whenever woken (:meth:`wake`) or the delay it asked for has passed; :meth:`close` at
    the end. Subclasses say what is serviced."""

    def __init__(self, camera: Camera | None) -> None:
        self._wake = threading.Event()
        self._camera = camera
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.errors: list[BaseException] = []
        self._serviced = threading.Condition()

    def service(self, camera: Camera | None) -> float:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def wake(self) -> None:
        self._wake.set()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = WAIT_TIMEOUT) -> bool:
        """Wait until ``predicate()`` holds after a call of ``service``."""
        with self._serviced:
            return self._serviced.wait_for(predicate, timeout)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(10)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                delay = self.service(self._camera)
                with self._serviced:
                    self._serviced.notify_all()
                self._wake.wait(None if math.isinf(delay) else delay)
                self._wake.clear()
        except BaseException as error:  # surfaced by the test
            self.errors.append(error)
        finally:
            self.close()


class FeedPump(ServicePump):
    """A :class:`LiveFeed` serviced as the camera worker does."""

    def __init__(self, camera: Camera, **options) -> None:
        super().__init__(camera)
        self.feed = LiveFeed(wake=self.wake, bind_host="127.0.0.1", **options)

    def service(self, camera: Camera | None) -> float:
        return self.feed.service(camera)

    def close(self) -> None:
        self.feed.close()
