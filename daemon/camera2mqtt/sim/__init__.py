"""Wire-level camera simulators: product parts used by the tests, the demo and by users.

Each has three parts (wire server, device state, fault controls) and runs on its own from
``camera2mqtt simulate KIND``.
"""
